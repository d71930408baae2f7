"""A run folder records the content of its data (labels' SHA-256, images' slice moments) and
refuses a resume on edited data in one line that names what changed; an older folder without
the fingerprint resumes and gets it."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from alstrategies.data import load_dataset
from alstrategies.engine.data_fingerprint import slice_moments
from alstrategies.engine.loop import Experiment
from alstrategies.engine.records import RunLayout
from alstrategies.engine.run_folder import claim_run_folder
from alstrategies.errors import RunFolderMismatch
from alstrategies.settings import Settings


@pytest.fixture(scope="module")
def started(tiny_overrides, tmp_path_factory):
    """A finished tiny run folder, its config and the data it was built on."""
    from alstrategies.config import load_config

    config = load_config(None, tiny_overrides)
    data = load_dataset(config["data"])
    out = tmp_path_factory.mktemp("run")
    Experiment(config, out, strategies=["random"], progress=False, data=data).run()
    return out, config, data


def _copy(data):
    volumes = [dataclasses.replace(v, image=v.image.copy(), label=v.label.copy()) for v in data.test_volumes]
    return dataclasses.replace(
        data, pool_images=data.pool_images.copy(), pool_labels=data.pool_labels.copy(), test_volumes=volumes
    )


def _refusal(out, config, data) -> str:
    with pytest.raises(RunFolderMismatch) as caught:
        claim_run_folder(RunLayout(out), Settings.from_config(config), data)
    return str(caught.value)


def _fix(out) -> str:
    return (
        f"run folder {out} was built on other data: the {{}} changed since it was started; "
        "use a new --out folder, or restore the data it was built on to resume"
    )


def test_the_fingerprint_is_recorded_and_the_same_data_resume(started):
    out, config, data = started
    layout = RunLayout(out)
    recorded = json.loads(layout.data_fingerprint.read_text())
    assert len(recorded["pool_images"]) == data.pool_size
    assert "fingerprint" not in layout.results.read_text()  # results.csv holds metrics only
    rounded = _copy(data)
    rounded.pool_images += 1e-7  # another library's float rounding: the same data
    for volume in rounded.test_volumes:
        volume.image *= 1 + 1e-7
    assert claim_run_folder(layout, Settings.from_config(config), rounded) is False


@pytest.mark.parametrize(
    ("edit", "changed"),
    [
        ("pool label", "pool labels"),
        ("pool image", "pool images"),
        ("flipped slice", "pool images"),
        ("test label", "test volumes"),
        ("test image", "test volumes"),
        ("labels and images", "pool images and pool labels"),
    ],
)
def test_data_edited_in_place_are_refused_in_one_line(started, edit, changed):
    out, config, data = started
    edited = _copy(data)
    slice_ = int(np.flatnonzero(edited.pool_labels.reshape(data.pool_size, -1).any(axis=1))[0])
    if edit in ("pool label", "labels and images"):
        edited.pool_labels[slice_][edited.pool_labels[slice_] == 1] = 2  # relabel one class on one slice
    if edit in ("pool image", "labels and images"):
        edited.pool_images[slice_, 0, :4, :4] += 3.0  # 16 pixels of one slice
    if edit == "flipped slice":
        edited.pool_images[slice_] = edited.pool_images[slice_][..., ::-1]
    if edit == "test label":
        label = edited.test_volumes[0].label
        label[label == 3] = 0
    if edit == "test image":
        edited.test_volumes[1].image[0] = edited.test_volumes[1].image[0][::-1]
    message = _refusal(out, config, edited)
    assert message == _fix(out).format(changed)
    assert "\n" not in message
    assert (
        claim_run_folder(RunLayout(out), Settings.from_config(config), data) is False
    )  # restored data resume


def test_a_folder_without_a_fingerprint_resumes_and_records_it(started, tmp_path):
    import shutil

    out, config, data = started
    older = tmp_path / "older"
    shutil.copytree(out, older)
    layout = RunLayout(older)
    layout.data_fingerprint.unlink()  # written before the fingerprint existed
    before = layout.results.read_bytes()
    Experiment(config, older, strategies=["random"], progress=False, data=data).run()
    assert layout.results.read_bytes() == before
    assert layout.data_fingerprint.read_text() == RunLayout(out).data_fingerprint.read_text()
    edited = _copy(data)
    edited.pool_labels[0] = 0 if edited.pool_labels[0].any() else 1
    assert _refusal(older, config, edited) == _fix(older).format("pool labels")


def test_slice_moments_match_a_slow_reference():
    rng = np.random.default_rng(3)
    images = rng.normal(size=(3, 1, 5, 7)).astype(np.float32)
    moments = slice_moments(images, chunk=2)
    for n in range(3):
        pixels = [(float(images[n, 0, i, j]), i / 4, j / 6) for i in range(5) for j in range(7)]
        expected = [
            sum(v for v, _, _ in pixels) / 35,
            sum(v * r for v, r, _ in pixels) / 35,
            sum(v * c for v, _, c in pixels) / 35,
            sum(abs(v) for v, _, _ in pixels) / 35,
        ]
        assert np.allclose(moments[n], expected, rtol=0, atol=1e-12)
