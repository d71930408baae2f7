"""Deriving a label path from an image path: ``data.labels`` templates and ``data.pairing`` regex
rules (image_N -> label_N as in the CHAOS and MS-CMRSeg copies); malformed rules are refused."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from alstrategies.config import load_config
from alstrategies.data import load_dataset
from alstrategies.data.folder import load_folder
from alstrategies.data.pairing import LabelRule
from alstrategies.errors import ConfigError, DatasetError
from tests.volume_files import case_label, paired_folder, save_nifti

PAIRING = {"pattern": r"image_(\d+)", "label": r"label_\1"}
OPTIONS = {
    "images": "*.nii.gz",
    "class_names": ["RV", "MYO", "LV"],
    "label_map": {"600": 1, "200": 2, "500": 3},
    "image_size": 16,
}


def test_image_n_is_paired_with_label_n(tmp_path):
    root = paired_folder(tmp_path / "mscmr")
    data = load_folder(str(root), pairing=PAIRING, test_cases=["image_2"], **OPTIONS)
    names = set(data.pool_groups.tolist()) | {v.name for v in data.test_volumes}
    assert names == {f"image_{i}" for i in range(1, 6)}  # the label_N files are not images
    expected = np.zeros((32, 28, 6), np.uint8)
    canonical = case_label(1)
    expected[canonical == 1], expected[canonical == 2] = 2, 3
    expected[10:14, 22:27, 1:4] = 1
    assert np.array_equal(data.test_volumes[0].label, np.moveaxis(expected, -1, 0))  # LSP stored, RAS read


def test_the_rule_replaces_the_first_match_of_the_relative_path(tmp_path):
    rule = LabelRule.from_options(
        tmp_path, "labelsTr/{name}", {"pattern": r"images/(\w+)_img", "label": r"labels/\1_seg"}
    )
    assert rule.label_of(tmp_path / "images/p01_img.nii.gz") == tmp_path / "labels/p01_seg.nii.gz"
    named = LabelRule.from_options(
        tmp_path, "labelsTr/{name}", {"pattern": r"image_(?P<n>\d+)", "label": r"label_\g<n>"}
    )
    assert named.label_of(tmp_path / "a/image_7.nii") == tmp_path / "a/label_7.nii"
    assert named.label_of(tmp_path / "a/other.nii") is None and not named.applies_to(tmp_path / "a/other.nii")
    template = LabelRule.from_options(tmp_path, "{dir}/{stem}_gt.nii.gz", None)
    assert template.label_of(tmp_path / "p/x.nii.gz") == tmp_path / "p/x_gt.nii.gz"


@pytest.mark.parametrize(
    ("labels", "pairing", "message"),
    [
        ("label_{stem[6:]}.nii.gz", None, r"is not a label template .*data.pairing = \{pattern"),
        ("labelsTr/{stem.upper}", None, "is not a label template"),
        ("labelsTr/{name", None, "is not a label template"),
        ("labelsTr/{case}", None, "unknown placeholder 'case'"),
        ("labelsTr/{name}", {"pattern": "image_(\\d+", "label": "x"}, "is not a regular expression"),
        ("labelsTr/{name}", {"pattern": "image_(\\d+)", "label": "label_\\2"}, "refers to group '\\\\\\\\2'"),
        ("labelsTr/{name}", {"pattern": "image_(\\d+)", "label": "label_\\g<n>"}, "has 1 group"),
        ("labelsTr/{name}", {"pattern": "image_(\\d+)"}, "keys pattern and label"),
        ("labelsTr/{name}", "image_ -> label_", "keys pattern and label"),
        ("labelsTr/{name}", {"pattern": "", "label": "x"}, "non-empty strings"),
        ("{stem}_seg.nii.gz", PAIRING, "are both set: give one of them"),
    ],
)
def test_malformed_rules_are_refused_before_any_file_is_read(tmp_path, labels, pairing, message):
    with pytest.raises(ConfigError, match=message) as caught:
        load_folder(str(tmp_path / "nowhere"), labels=labels, pairing=pairing, class_names=["A"])
    assert "\n" not in str(caught.value)


def test_a_file_that_is_neither_image_nor_label_is_named(tmp_path):
    root = paired_folder(tmp_path / "d", cases=3)
    save_nifti(root / "notes.nii.gz", case_label(0))
    with pytest.raises(
        DatasetError,
        match=r"notes.nii.gz \(matched by data.images = '\*.nii.gz'\) does not match data.pairing",
    ):
        load_folder(str(root), pairing=PAIRING, **OPTIONS)
    (root / "notes.nii.gz").unlink()
    (root / "label_3.nii.gz").unlink()
    with pytest.raises(
        DatasetError, match=r"label_3.nii.gz \(the label of .*image_3.nii.gz by data.pairing = "
    ):
        load_folder(str(root), pairing=PAIRING, **OPTIONS)


def test_pairing_from_toml(tmp_path):
    root = paired_folder(tmp_path / "d")
    (tmp_path / "pairs.toml").write_text(
        f"""[data]
name = "folder"
root = "{root}"
images = "*.nii.gz"
pairing = {{ pattern = 'image_(\\d+)', label = 'label_\\1' }}
class_names = ["RV", "MYO", "LV"]
label_map = {{ "600" = 1, "200" = 2, "500" = 3 }}
image_size = 16
cache_dir = "{tmp_path / "cache"}"
"""
    )
    config = load_config(Path(tmp_path / "pairs.toml"))
    assert config["data"]["pairing"] == PAIRING
    data = load_dataset(config["data"])
    assert data.pool_size == 4 * 6 and set(np.unique(data.pool_labels)) == {0, 1, 2, 3}
