"""The nnU-Net v2 raw layout (``data.name = "nnunet"``): classes from dataset.json, the seeded
split, channels, the ignore label, a tiny experiment from the name alone, and bad folders."""

from __future__ import annotations

import json

import numpy as np
import pytest

from alstrategies.config import load_config
from alstrategies.data import load_dataset
from alstrategies.data.nnunet import load_nnunet
from alstrategies.errors import DatasetError
from tests.volume_files import SHAPE, TINY_RUN, case_image, case_label, nnunet_folder, save_nifti

CASES = [f"heart_{i:03d}" for i in range(5)]


def _edit_json(root, **changes):
    path = root / "dataset.json"
    content = json.loads(path.read_text())
    content.update(changes)
    for key in [k for k, v in changes.items() if v is None]:
        del content[key]
    path.write_text(json.dumps(content))


def test_a_tiny_experiment_runs_from_the_dataset_name_alone(tmp_path, monkeypatch):
    from alstrategies.engine.loop import Experiment

    root = nnunet_folder(tmp_path / "Dataset001_Tiny")
    monkeypatch.setenv("ALSTRATEGIES_NNUNET_ROOT", str(root))
    monkeypatch.setenv("ALSTRATEGIES_CACHE", str(tmp_path / "cache"))
    config = load_config(None, ["data.name=nnunet", *TINY_RUN])
    experiment = Experiment(config, tmp_path / "run", strategies=["random"], progress=False)
    results = experiment.run()
    assert experiment.data.class_names == ["RV", "LV"] and experiment.data.name == "nnunet"
    assert experiment.data.pool_size == 4 * SHAPE[2]  # 4 training cases (seeded 80/20) x 6 slices
    assert set(results["strategy"]) == {"random"} and (results["hd95_unit"] == "mm").all()
    assert results["dice_LV"].notna().all()


def test_cases_labels_spacing_and_seeded_split(tmp_path):
    root = nnunet_folder(tmp_path / "d")
    data = load_nnunet(str(root), image_size=16)
    train, test = set(data.pool_groups.tolist()), [v.name for v in data.test_volumes]
    assert train | set(test) == set(CASES) and len(test) == 1 and not train & set(test)
    assert [v.name for v in load_nnunet(str(root), image_size=16).test_volumes] == test  # seeded
    assert {
        tuple(v.name for v in load_nnunet(str(root), image_size=16, split_seed=s).test_volumes)
        for s in range(6)
    } != {tuple(test)}
    volume = data.test_volumes[0]
    index = CASES.index(volume.name)
    assert volume.spacing == (6.0, 1.25, 1.5)  # the largest voxel size (z) is the slice axis
    assert np.array_equal(volume.label, np.moveaxis(case_label(index), -1, 0))
    explicit = load_nnunet(str(root), image_size=16, test_cases=["heart_000", "heart_001"])
    assert [v.name for v in explicit.test_volumes] == ["heart_000", "heart_001"]


def test_channels_are_refused_or_chosen(tmp_path):
    root = nnunet_folder(tmp_path / "d", channels=("T2", "ADC"))
    with pytest.raises(
        DatasetError, match=r"declares 2 channels in 'channel_names' \(0 \(T2\), 1 \(ADC\)\).*data.channel"
    ):
        load_nnunet(str(root), image_size=16)
    by_index = load_nnunet(str(root), image_size=16, channel=1, intensity="none", test_cases=["heart_002"])
    by_name = load_nnunet(str(root), image_size=16, channel="ADC", intensity="none", test_cases=["heart_002"])
    assert np.array_equal(by_index.pool_images, by_name.pool_images)
    assert by_index.test_volumes[0].image[:, 1:-1, 1:-1].min() >= 150.0  # channel 1 = the image + 100
    with pytest.raises(DatasetError, match="data.channel = 'DWI' is not a channel"):
        load_nnunet(str(root), image_size=16, channel="DWI")
    (root / "imagesTr/heart_003_0001.nii.gz").unlink()
    with pytest.raises(DatasetError, match=r"heart_003_0001.nii.gz is missing \(channel 1"):
        load_nnunet(str(root), image_size=16, channel=1)


def test_the_ignore_label_is_not_a_class(tmp_path):
    root = nnunet_folder(tmp_path / "d", labels={"background": 0, "RV": 1, "LV": 2, "ignore": 3})
    label = case_label(0)
    label[0:3, 0:3, :] = 3
    save_nifti(root / "labelsTr/heart_000.nii.gz", label)
    with pytest.warns(UserWarning, match="ignore label 3: it is not a class"):
        data = load_nnunet(str(root), image_size=16, test_cases=["heart_000"])
    assert data.class_names == ["RV", "LV"]
    assert np.array_equal(data.test_volumes[0].label, np.moveaxis(np.where(label == 3, 0, label), -1, 0))


def test_bad_folders_are_named(tmp_path):
    root = nnunet_folder(tmp_path / "d")
    _edit_json(root, labels={"background": 0, "whole heart": [1, 2]})
    with pytest.raises(DatasetError, match="'whole heart' is the region \\[1, 2\\]"):
        load_nnunet(str(root))
    _edit_json(root, labels={"RV": 1, "LV": 2})
    with pytest.raises(DatasetError, match="must declare the background as value 0"):
        load_nnunet(str(root))
    _edit_json(root, labels={"background": 0, "RV": 1, "LV": 2}, file_ending=".mha")
    with pytest.raises(DatasetError, match="file_ending '.mha' is not supported"):
        load_nnunet(str(root))
    _edit_json(root, file_ending=".nii.gz", channel_names=None, training=[])
    with pytest.raises(DatasetError, match="use data.name = 'decathlon'"):
        load_nnunet(str(root))
    _edit_json(root, channel_names={"0": "T2"}, training=None)
    (root / "labelsTr/heart_004.nii.gz").unlink()
    with pytest.raises(
        DatasetError, match=r"labelsTr/heart_004.nii.gz \(the label of case 'heart_004'\) is missing"
    ):
        load_nnunet(str(root))
    save_nifti(root / "labelsTr/heart_004.nii.gz", case_label(4))
    save_nifti(root / "imagesTr/heart_004.nii.gz", case_image(4))
    with pytest.raises(DatasetError, match="heart_004.nii.gz is not named CASE_XXXX.nii.gz"):
        load_nnunet(str(root))
    (root / "dataset.json").write_text("{not json")
    with pytest.raises(DatasetError, match="dataset.json is not valid JSON"):
        load_nnunet(str(root))
    (root / "dataset.json").unlink()
    with pytest.raises(
        DatasetError, match="dataset.json is missing: a dataset folder in the nnU-Net v2 layout holds"
    ):
        load_nnunet(str(root))


def test_the_config_validation_accepts_the_loader_options(tmp_path):
    root = nnunet_folder(tmp_path / "d", channels=("T2", "ADC"))
    config = load_config(
        None,
        [
            "data.name=nnunet",
            f"data.root={root}",
            "data.channel=ADC",
            "data.slice_axis=auto",
            "data.reorient=false",
            "data.image_size=16",
            f"data.cache_dir={tmp_path / 'cache'}",
        ],
    )
    data = load_dataset(config["data"])
    assert data.name == "nnunet" and data.info["channel"] == "ADC"
