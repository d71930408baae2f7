"""Every config of docs/datasets.md, loaded as written (its root replaced by a tiny folder of that
layout) and run: the page's configs cannot drift from what the loaders accept."""

from __future__ import annotations

import re
from pathlib import Path

import h5py
import numpy as np
import pytest

from alstrategies.config import load_config
from alstrategies.data import load_dataset
from tests.volume_files import (
    SHAPE,
    TINY_RUN,
    case_image,
    case_label,
    decathlon_folder,
    nnunet_folder,
    paired_folder,
    save_nifti,
)

DOC = Path(__file__).resolve().parents[2] / "docs" / "datasets.md"
BLOCK = re.compile(r"<!-- test: (\w+) -->\n```toml\n(.*?)```", re.S)


def _chaos(root: Path) -> Path:
    for index in range(5):
        label = np.zeros(SHAPE, np.uint8)
        label[case_label(index) == 1] = 63
        label[case_label(index) == 2] = 126
        label[2:6, 2:6, 1:5] = 189
        label[26:30, 20:26, 2:5] = 252
        save_nifti(root / f"image_{index + 1}.nii.gz", case_image(index), codes="LPS")
        save_nifti(root / f"label_{index + 1}.nii.gz", label, codes="LPS")
    return root


def _chaos_t2(root: Path) -> Path:
    """The Ouyang et al. copy: labels 0-4 (1 liver, 2 and 3 the kidneys, 4 spleen), the preset's
    six test patients and two pool patients."""
    for index, patient in enumerate((1, 2, 3, 8, 15, 21, 33, 38)):
        label = np.zeros(SHAPE, np.uint8)
        label[case_label(index % 5) == 1] = 1
        label[2:6, 2:6, 1:5] = 2
        label[2:6, 20:26, 1:5] = 3
        label[26:30, 20:26, 2:5] = 4
        save_nifti(root / f"image_{patient}.nii.gz", case_image(index % 5), codes="LAS")
        save_nifti(root / f"label_{patient}.nii.gz", label, codes="LAS")
    return root


def _h5(root: Path) -> Path:
    (root / "data").mkdir(parents=True)
    for index in range(5):
        label = np.moveaxis(case_label(index), -1, 0)
        label[:, 0:3, 0:3] = 3
        with h5py.File(root / "data" / f"case{index}.h5", "w") as handle:
            handle["image"] = np.moveaxis(case_image(index), -1, 0) / 200.0
            handle["label"] = label
    return root


def _acdc(root: Path) -> Path:
    from tests.data.test_acdc import _h5_fixture

    return _h5_fixture(root, np.random.default_rng(0))


def _kits19(root: Path) -> Path:
    from tests.data.test_kits19 import _kits_fixture

    return _kits_fixture(root)


FIXTURES = {
    "acdc": (_acdc, ["RV", "MYO", "LV"]),
    "kits19": (_kits19, ["kidney"]),
    "nnunet": (nnunet_folder, ["RV", "LV"]),
    "decathlon": (decathlon_folder, ["RV", "LV"]),
    "mscmrseg": (paired_folder, ["RV", "MYO", "LV"]),
    "chaos": (_chaos, ["liver", "right kidney", "left kidney", "spleen"]),
    "chaos_t2": (_chaos_t2, ["kidney"]),
    "h5": (_h5, ["RV", "MYO", "LV"]),
}


def _blocks() -> dict[str, str]:
    text = DOC.read_text()
    blocks = dict(BLOCK.findall(text))
    assert text.count("```toml") == len(blocks), (
        "every TOML block of docs/datasets.md needs a <!-- test: --> tag"
    )
    return blocks


def test_every_config_block_is_tested():
    assert set(_blocks()) == set(FIXTURES)


def _config(tmp_path: Path, tag: str, *overrides: str) -> dict:
    make, _ = FIXTURES[tag]
    root = make(tmp_path / tag)
    text = re.sub(r'^root = ".*?"', f'root = "{root}"', _blocks()[tag], count=1, flags=re.M)
    assert str(root) in text
    path = tmp_path / f"{tag}.toml"
    path.write_text(text)
    return load_config(path, ["data.image_size=16", f"data.cache_dir={tmp_path / 'cache'}", *overrides])


@pytest.mark.parametrize("tag", sorted(FIXTURES))
def test_the_documented_config_loads_its_layout(tmp_path, tag):
    data = load_dataset(_config(tmp_path, tag)["data"])
    assert data.class_names == FIXTURES[tag][1]
    assert data.pool_size > 0 and data.test_volumes and data.pool_images.shape[-2:] == (16, 16)
    assert all(v.spacing is not None for v in data.test_volumes)  # HD95 in mm for every layout


def test_the_worked_example_runs_an_experiment(tmp_path):
    from alstrategies.engine.loop import Experiment

    config = _config(tmp_path, "mscmrseg", *TINY_RUN)
    experiment = Experiment(config, tmp_path / "run", strategies=["random"], progress=False)
    results = experiment.run()
    assert experiment.data.pool_size == 4 * SHAPE[2]  # PSR and LSP volumes sliced along z alike
    assert (results["hd95_unit"] == "mm").all() and set(results["strategy"]) == {"random"}
