"""SBC-AL's background distance maps (DESIGN section 3, ``model.distance_classes``).

The paper builds a distance map for every label, the background included, inside a one-pixel
frame of no class. Without the background map an image predicted empty has ``d_s = 0`` and the
zero conventions give it the highest SCS there is; these tests pin the maps, the plumbing
(network head, targets, loss, strategy) and the ranking that the background map restores.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.ndimage import distance_transform_edt

from alstrategies.errors import ConfigError
from alstrategies.models import build_criterion, build_model
from alstrategies.sbcal import distance_maps, structure_consistency
from alstrategies.sbcal.network import SBCNet
from alstrategies.sbcal.scores import structure_terms
from alstrategies.sbcal.strategy import SBCALStrategy
from alstrategies.settings import Settings
from alstrategies.training.targets import TargetCache
from alstrategies.training.trainer import TrainConfig, Trainer
from alstrategies.types import ModelOutput

SETTINGS = [("all", True), ("foreground", False)]


# -- slow references ----------------------------------------------------------------------
def brute_framed_maps(labels: np.ndarray, num_classes: int, include_background: bool) -> np.ndarray:
    """Every pixel of class i: the smallest distance to any pixel not of class i, the pixels of
    a one-pixel frame around the image included; over all pairs; then divided by the maximum."""
    batch, height, width = labels.shape
    first = 0 if include_background else 1
    out = np.zeros((batch, num_classes - first, height, width))
    for b in range(batch):
        framed = np.full((height + 2, width + 2), -1)
        framed[1:-1, 1:-1] = labels[b]
        for c in range(first, num_classes):
            outside = np.argwhere(framed != c)  # never empty: the frame is of no class
            inside = np.argwhere(framed == c)
            if not len(inside):
                continue
            distance = np.zeros((height, width))
            for y, x in inside:
                distance[y - 1, x - 1] = np.sqrt(((outside - (y, x)) ** 2).sum(axis=1)).min()
            out[b, c - first] = distance / distance.max()
    return out


def scipy_framed_maps(labels: np.ndarray, num_classes: int, include_background: bool) -> np.ndarray:
    """DESIGN's formula: ``distance_transform_edt(pad(L_i, 1))[1:-1, 1:-1] / max``, 0 if absent."""
    first = 0 if include_background else 1
    out = np.zeros((labels.shape[0], num_classes - first, *labels.shape[1:]))
    for b, image in enumerate(labels):
        for c in range(first, num_classes):
            if (image == c).any():
                d = distance_transform_edt(np.pad(image == c, 1))[1:-1, 1:-1]
                out[b, c - first] = d / d.max()
    return out


def hard_label_maps(rng: np.random.Generator, batch: int, height: int, width: int) -> np.ndarray:
    """Random 4-class maps with the cases that matter: a class filling the image, classes touching
    the border, classes absent, an empty (all background) image, no background at all."""
    labels = np.zeros((batch, height, width), dtype=np.int64)
    for b in range(batch):
        kind = b % 5
        if kind == 0:
            continue  # all background
        if kind == 1:
            labels[b] = rng.integers(1, 4)  # one class fills the image
            continue
        for c in range(1, 4):
            if rng.random() < 0.3:
                continue  # absent
            y, x = rng.integers(-2, height), rng.integers(-2, width)  # may touch the border
            labels[b, max(y, 0) : y + rng.integers(2, height), max(x, 0) : x + rng.integers(2, width)] = c
        if kind == 4:
            labels[b][labels[b] == 0] = 1  # no background pixel
    return labels


# -- (b) the maps -------------------------------------------------------------------------
@pytest.mark.parametrize(("setting", "include_background"), SETTINGS)
def test_framed_maps_match_brute_force_and_scipy(setting: str, include_background: bool) -> None:
    rng = np.random.default_rng(13)
    small = hard_label_maps(rng, 10, 7, 9)
    brute = brute_framed_maps(small, 4, include_background)
    got = distance_maps(small, 4, include_background=include_background)
    assert got.shape == (10, 4 if include_background else 3, 7, 9) and got.dtype == np.float64
    np.testing.assert_allclose(got, brute, rtol=1e-12, atol=1e-12)

    large = hard_label_maps(rng, 15, 33, 40)
    expected = scipy_framed_maps(large, 4, include_background)
    np.testing.assert_array_equal(distance_maps(large, 4, include_background=include_background), expected)
    tensor = torch.from_numpy(large)
    got_t = distance_maps(tensor, 4, include_background=include_background)
    assert isinstance(got_t, torch.Tensor) and got_t.dtype == torch.float32 and got_t.device == tensor.device
    np.testing.assert_allclose(got_t.numpy(), expected, rtol=1e-6, atol=1e-7)


def test_the_frame_makes_the_image_edge_a_boundary() -> None:
    labels = np.zeros((2, 5, 6), dtype=np.int64)
    labels[1] = 2  # class 2 fills the image
    maps = distance_maps(labels, 3)
    rows, cols = np.arange(5)[:, None], np.arange(6)[None, :]
    to_frame = np.minimum(np.minimum(rows + 1, 5 - rows), np.minimum(cols + 1, 6 - cols))
    np.testing.assert_array_equal(maps[0, 0], to_frame / 3.0)  # empty image: background pyramid
    np.testing.assert_array_equal(maps[1, 2], to_frame / 3.0)
    assert not maps[0, 1:].any() and not maps[1, :2].any()  # absent classes: zero
    assert maps[:, :, 0, :].max() == pytest.approx(1.0 / 3.0)  # the edge rows sit next to the frame
    assert (maps.reshape(2, -1).max(axis=1) == 1.0).all()  # d_s is never all zero with background


# -- (a) the ranking --------------------------------------------------------------------------
def one_hot_logits(labels: torch.Tensor, num_classes: int) -> torch.Tensor:
    return torch.nn.functional.one_hot(labels, num_classes).permute(0, 3, 1, 2).float() * 10.0


def ranking_case(include_background: bool) -> tuple[dict[str, float], dict[str, float], dict[str, float]]:
    """CS, SCS and the self-Q_dice of three images scored by the strategy (coarse = refined, BCS 0):

    ``empty``: predicted all background, the SFP agreeing (the prediction's own maps, with the
    sigmoid's floor of 1e-7 instead of exact zeros); ``well``: a phantom slice predicted right,
    the SFP equal to its maps; ``missed``: the LV predicted as background while the SFP sees it
    (the SFP is right, the prediction wrong: a real inconsistency).
    """
    from alstrategies.data.synthetic import load_synthetic

    data = load_synthetic(image_size=48, train_patients=1, test_patients=1, slices_per_patient=6)
    truth = torch.from_numpy(data.pool_labels[2].astype(np.int64))
    assert set(truth.unique().tolist()) == {0, 1, 2, 3}
    missed = truth.clone()
    missed[missed == 3] = 0
    predictions = torch.stack([torch.zeros_like(truth), truth, missed])
    sfp_sees = torch.stack([torch.zeros_like(truth), truth, truth])
    d_o = distance_maps(sfp_sees, 4, include_background=include_background).clamp_min(1e-7)
    output = ModelOutput(
        logits=one_hot_logits(predictions, 4), coarse_logits=one_hot_logits(predictions, 4), distance=d_o
    )
    scores = SBCALStrategy().compute_score(output)
    d_s = distance_maps(predictions, 4, include_background=include_background)
    _, self_dice = structure_terms(d_s, d_s)
    names = ("empty", "well", "missed")
    assert torch.equal(scores["bcs"], torch.zeros(3))
    as_dict = lambda values: dict(zip(names, values.tolist(), strict=True))  # noqa: E731
    return as_dict(scores["score"]), as_dict(scores["scs"]), as_dict(self_dice)


def test_foreground_maps_rank_an_agreeing_empty_prediction_first() -> None:
    """The old reading: d_s = 0, d_o = 1e-7 > 0, so Q_cos = 0 and Q_dice = 1 by convention."""
    cs, scs, _ = ranking_case(include_background=False)
    assert scs["empty"] == pytest.approx(0.4)  # the largest SCS there is
    assert cs["empty"] == pytest.approx(0.32)
    assert cs["well"] == pytest.approx(-0.36, abs=0.03)
    assert cs["empty"] > cs["missed"] > cs["well"]  # even above a prediction the SFP contradicts
    assert cs["missed"] - cs["well"] == pytest.approx(0.079, abs=0.002)


def test_background_maps_let_the_sfp_agree_with_an_empty_prediction() -> None:
    """With the background map d_s is never zero: an empty prediction that the SFP agrees with has
    Q_cos = -1 like any agreeing image; what separates it from a well-segmented image is only
    Q_dice's shape term (1 - sum d^2 / sum d of the maps themselves), and a real inconsistency
    outranks both, if only just: the background map, large and far from any structure, dominates the
    norms, so a missed LV moves CS by 0.013 here against 0.079 with foreground maps."""
    cs, scs, self_dice = ranking_case(include_background=True)
    for name in ("empty", "well"):
        assert scs[name] == pytest.approx(-0.6 + 0.4 * self_dice[name], abs=1e-5)
    assert scs["empty"] < 0.4 - 0.7  # no longer the maximal SCS
    shape_gap = 0.8 * 0.4 * abs(self_dice["empty"] - self_dice["well"])
    assert abs(cs["empty"] - cs["well"]) <= shape_gap + 1e-5 and shape_gap < 0.05  # was 0.68
    assert cs["missed"] > cs["empty"] and cs["missed"] > cs["well"]
    assert cs["missed"] - cs["well"] == pytest.approx(0.0127, abs=0.002)


# -- (c) network, targets and loss ----------------------------------------------------------------
@pytest.mark.parametrize(("setting", "include_background"), SETTINGS)
def test_network_targets_and_loss_agree_per_setting(setting: str, include_background: bool) -> None:
    model_config = {"width": 4, "heads": "sbc", "distance_classes": setting}
    model = build_model(model_config, 4, seed=0)
    maps = 4 if include_background else 3
    assert isinstance(model, SBCNet) and model.sfp.head.out_channels == maps
    generator = torch.Generator().manual_seed(0)
    images = torch.rand(4, 1, 32, 32, generator=generator)
    labels = torch.zeros(4, 32, 32, dtype=torch.long)
    labels[:, 4:14, 4:14] = 1
    labels[:, 16:, 16:] = 3
    labels[1] = 0  # an empty slice
    cache = TargetCache(labels, 4, include_background=include_background)
    targets = cache.targets(np.arange(4), need_distance=True)
    torch.testing.assert_close(
        targets["distance"], distance_maps(labels, 4, include_background=include_background)
    )
    config = TrainConfig(iterations=3, batch_size=2, lr=0.01, sfp_lr=0.01, augment=False, device="cpu")
    criterion = build_criterion(model_config, {})
    stats = Trainer(config, torch.device("cpu")).fit(model, images, targets, criterion, seed=0)
    assert stats.iterations == 3 and stats.loss_history
    assert all(math.isfinite(v) for v in stats.loss_history)
    with torch.no_grad():
        out = model.eval()(images)
    assert out.distance.shape == (4, maps, 32, 32)
    parts = criterion(out, targets)
    assert torch.isfinite(parts["sfp"]) and parts["sfp"].item() > 0.0


@pytest.mark.parametrize(("setting", "maps"), [("all", 4), ("foreground", 3)])
def test_round_trainer_builds_matching_targets(setting: str, maps: int) -> None:
    from alstrategies.data.synthetic import load_synthetic
    from alstrategies.training.round import RoundTrainer

    data = load_synthetic(image_size=32, train_patients=1, test_patients=1, slices_per_patient=4)
    config = {"model": {"width": 4, "heads": "sbc", "distance_classes": setting}, "loss": {}}
    rounds = RoundTrainer(Settings.from_config(config), data, torch.device("cpu"), progress=False)
    assert rounds.targets.distance(np.arange(2)).shape == (2, maps, 32, 32)
    assert rounds.new_model(0).sfp.head.out_channels == maps


# -- (d) a mismatch ---------------------------------------------------------------------------
@pytest.mark.parametrize("maps", [1, 2, 5])
def test_strategy_rejects_a_distance_channel_count_that_fits_no_setting(maps: int) -> None:
    logits = torch.randn(2, 4, 16, 16)
    output = ModelOutput(logits=logits, coarse_logits=logits, distance=torch.rand(2, maps, 16, 16))
    with pytest.raises(ConfigError, match="model.distance_classes") as error:
        SBCALStrategy().compute_score(output)
    assert "\n" not in str(error.value) and f"{maps} distance maps for 4 classes" in str(error.value)


@pytest.mark.parametrize(("maps", "include_background"), [(4, True), (3, False)])
def test_strategy_infers_the_setting_from_the_channel_count(maps: int, include_background: bool) -> None:
    torch.manual_seed(1)
    logits, coarse = torch.randn(3, 4, 16, 16), torch.randn(3, 4, 16, 16)
    output = ModelOutput(logits=logits, coarse_logits=coarse, distance=torch.rand(3, maps, 16, 16))
    d_s = distance_maps(logits.argmax(1), 4, include_background=include_background)
    torch.testing.assert_close(
        SBCALStrategy().compute_score(output)["scs"], structure_consistency(d_s, output.distance)
    )
