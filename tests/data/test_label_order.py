"""nnU-Net and Decathlon classes are the foreground labels ordered by value, whatever order
dataset.json lists them in: the same files give the same classes and the same label arrays."""

from __future__ import annotations

import json

import numpy as np

from alstrategies.data import load_dataset
from tests.volume_files import decathlon_folder, nnunet_folder


def _load(name: str, root) -> object:
    return load_dataset({"name": name, "root": str(root), "image_size": 16, "cache": False})


def _assert_same(listed_in_order, listed_out_of_order) -> None:
    assert listed_out_of_order.class_names == listed_in_order.class_names == ["RV", "LV"]
    assert np.array_equal(listed_out_of_order.pool_labels, listed_in_order.pool_labels)
    for a, b in zip(listed_in_order.test_volumes, listed_out_of_order.test_volumes, strict=True):
        assert np.array_equal(a.label, b.label)
    assert set(np.unique(listed_in_order.pool_labels).tolist()) == {0, 1, 2}


def test_nnunet_labels_listed_out_of_order(tmp_path):
    in_order = nnunet_folder(tmp_path / "a", cases=4)
    out_of_order = nnunet_folder(tmp_path / "b", cases=4, labels={"LV": 2, "background": 0, "RV": 1})
    assert list(json.loads((out_of_order / "dataset.json").read_text())["labels"]) == [
        "LV",
        "background",
        "RV",
    ]
    _assert_same(_load("nnunet", in_order), _load("nnunet", out_of_order))


def test_decathlon_labels_listed_out_of_order(tmp_path):
    in_order = decathlon_folder(tmp_path / "a", cases=4)
    out_of_order = decathlon_folder(tmp_path / "b", cases=4)
    path = out_of_order / "dataset.json"
    content = json.loads(path.read_text())
    content["labels"] = {"2": "LV", "0": "background", "1": "RV"}
    path.write_text(json.dumps(content, indent=2))
    _assert_same(_load("decathlon", in_order), _load("decathlon", out_of_order))
