"""The Medical Segmentation Decathlon layout (``data.name = "decathlon"``): the training list,
classes from dataset.json, 4D multi-modal images, a tiny experiment from the name alone."""

from __future__ import annotations

import json

import numpy as np
import pytest

from alstrategies.config import load_config
from alstrategies.data.decathlon import load_decathlon
from alstrategies.errors import DatasetError
from tests.volume_files import SHAPE, TINY_RUN, case_image, case_label, decathlon_folder, save_nifti


def test_a_tiny_experiment_runs_from_the_dataset_name_alone(tmp_path, monkeypatch):
    from alstrategies.engine.loop import Experiment

    root = decathlon_folder(tmp_path / "Task02_Tiny")
    monkeypatch.setenv("ALSTRATEGIES_DECATHLON_ROOT", str(root))
    monkeypatch.setenv("ALSTRATEGIES_CACHE", str(tmp_path / "cache"))
    config = load_config(None, ["data.name=decathlon", *TINY_RUN])
    experiment = Experiment(config, tmp_path / "run", strategies=["random"], progress=False)
    results = experiment.run()
    assert experiment.data.class_names == ["RV", "LV"] and experiment.data.name == "decathlon"
    assert experiment.data.pool_size == 4 * SHAPE[2]
    assert (results["hd95_unit"] == "mm").all() and results["dice_RV"].notna().all()


def test_training_list_labels_and_split(tmp_path):
    root = decathlon_folder(tmp_path / "d")
    data = load_decathlon(str(root), image_size=16, test_cases=["la_003"])
    assert data.class_names == ["RV", "LV"]
    assert sorted(set(data.pool_groups.tolist())) == ["la_000", "la_001", "la_002", "la_004"]
    (volume,) = data.test_volumes
    assert volume.spacing == (6.0, 1.25, 1.5)
    assert np.array_equal(volume.label, np.moveaxis(case_label(3), -1, 0))
    seeded = load_decathlon(str(root), image_size=16, split_seed=3)
    assert len(seeded.test_volumes) == 1  # round(5 * 0.2), the ._ copies are not cases


def test_modalities_of_4d_images(tmp_path):
    root = decathlon_folder(tmp_path / "d", modalities=("FLAIR", "T1w"))
    with pytest.raises(DatasetError, match=r"2 channels in 'modality' \(0 \(FLAIR\), 1 \(T1w\)\)"):
        load_decathlon(str(root), image_size=16)
    first = load_decathlon(str(root), image_size=16, channel="FLAIR", intensity="none", test_cases=["la_000"])
    second = load_decathlon(str(root), image_size=16, channel=1, intensity="none", test_cases=["la_000"])
    inner = (slice(None), slice(1, -1), slice(1, -1))
    np.testing.assert_allclose(
        second.test_volumes[0].image[inner] - first.test_volumes[0].image[inner], 100.0, atol=1e-3
    )
    single = json.loads((root / "dataset.json").read_text())
    single["modality"] = {"0": "MRI"}
    (root / "dataset.json").write_text(json.dumps(single))
    with pytest.raises(DatasetError, match=r"expected a 3D volume.*2 channels: choose one with data.channel"):
        load_decathlon(str(root), image_size=16)


def test_bad_folders_are_named(tmp_path):
    root = decathlon_folder(tmp_path / "d")
    content = json.loads((root / "dataset.json").read_text())
    (root / "labelsTr/la_002.nii.gz").unlink()
    with pytest.raises(
        DatasetError, match=r"labelsTr/la_002.nii.gz \(the label './labelsTr/la_002.nii.gz' listed in"
    ):
        load_decathlon(str(root))
    save_nifti(root / "labelsTr/la_002.nii.gz", case_label(2))
    save_nifti(root / "imagesTr/la_002.nii.gz", case_image(2)[:, :-1])
    with pytest.raises(
        DatasetError, match=r"la_002.nii.gz: label shape \(32, 28, 6\) differs from the image shape"
    ):
        load_decathlon(str(root))
    (root / "dataset.json").write_text(json.dumps({**content, "training": []}))
    with pytest.raises(DatasetError, match="the 'training' list is empty"):
        load_decathlon(str(root))
    (root / "dataset.json").write_text(json.dumps({"channel_names": {"0": "MRI"}, "labels": {}}))
    with pytest.raises(DatasetError, match="use data.name = 'nnunet'"):
        load_decathlon(str(root))
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DatasetError, match="Medical Segmentation Decathlon folder .* is empty"):
        load_decathlon(str(empty))
