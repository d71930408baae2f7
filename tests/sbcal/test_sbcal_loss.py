"""Soft Dice and SBC-AL's joint loss against slow per-pixel, per-class loop references."""

from __future__ import annotations

import math

import pytest
import torch

from alstrategies.sbcal import distance_maps
from alstrategies.sbcal.loss import SBCCriterion
from alstrategies.training.losses import soft_dice_loss
from alstrategies.types import ModelOutput


# -- slow references ------------------------------------------------------------------------
def ref_softmax(logits: torch.Tensor, b: int, y: int, x: int) -> list[float]:
    """Class probabilities of one pixel, in plain Python floats."""
    values = [float(v) for v in logits[b, :, y, x]]
    top = max(values)
    exps = [math.exp(v - top) for v in values]
    return [e / sum(exps) for e in exps]


def ref_soft_dice_loss(logits: torch.Tensor, labels: torch.Tensor, eps: float = 1e-5) -> float:
    """1 - mean over classes c of (2 sum p_c g_c + eps) / (sum p_c + sum g_c + eps), the sums
    over every image and pixel of the batch (an absent class has sum g_c = 0)."""
    batch, num_classes, height, width = logits.shape
    dices = []
    for c in range(num_classes):
        intersection = prob_sum = label_sum = 0.0
        for b in range(batch):
            for y in range(height):
                for x in range(width):
                    p = ref_softmax(logits, b, y, x)[c]
                    g = 1.0 if int(labels[b, y, x]) == c else 0.0
                    intersection += p * g
                    prob_sum += p
                    label_sum += g
        dices.append((2.0 * intersection + eps) / (prob_sum + label_sum + eps))
    return 1.0 - sum(dices) / num_classes


def ref_cross_entropy(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """Mean over pixels of -log softmax(logits)[label]."""
    batch, _, height, width = logits.shape
    total = 0.0
    for b in range(batch):
        for y in range(height):
            for x in range(width):
                total -= math.log(ref_softmax(logits, b, y, x)[int(labels[b, y, x])])
    return total / (batch * height * width)


def ref_mse(a: torch.Tensor, b: torch.Tensor) -> float:
    """Mean of squared differences over every element."""
    pairs = list(zip(a.flatten().tolist(), b.flatten().tolist(), strict=True))
    return sum((u - v) ** 2 for u, v in pairs) / len(pairs)


def random_labels(shape: tuple[int, int, int], classes: list[int], seed: int) -> torch.Tensor:
    """Labels drawn from ``classes`` only (the other classes are absent)."""
    generator = torch.Generator().manual_seed(seed)
    picks = torch.randint(len(classes), shape, generator=generator)
    return torch.tensor(classes)[picks]


# -- soft Dice ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("classes", "eps"),
    [([0, 1, 2, 3], 1e-5), ([0, 3], 1e-5), ([1], 1e-5), ([0, 1, 3], 0.5)],
    ids=["all-present", "two-absent", "one-present", "absent-large-eps"],
)
def test_soft_dice_loss_matches_the_per_class_loop(classes: list[int], eps: float) -> None:
    torch.manual_seed(0)
    logits = torch.randn(3, 4, 5, 6) * 2.0
    labels = random_labels((3, 5, 6), classes, seed=1)
    got = soft_dice_loss(logits, labels, eps=eps)
    assert got.shape == ()
    assert got.item() == pytest.approx(ref_soft_dice_loss(logits, labels, eps), rel=1e-5, abs=1e-6)


def test_soft_dice_loss_class_absent_from_one_image_only() -> None:
    """The sums run over the whole batch: a class present in one image counts once for all."""
    torch.manual_seed(2)
    logits = torch.randn(2, 3, 4, 4)
    labels = torch.zeros(2, 4, 4, dtype=torch.long)
    labels[0, :2, :2] = 2  # class 2 only in image 0, class 1 nowhere
    got = soft_dice_loss(logits, labels)
    assert got.item() == pytest.approx(ref_soft_dice_loss(logits, labels), rel=1e-5, abs=1e-6)


def test_soft_dice_loss_of_a_confident_perfect_prediction_is_zero() -> None:
    labels = random_labels((2, 4, 4), [0, 1, 2], seed=3)
    labels[0, 0, :3] = torch.tensor([0, 1, 2])  # every class present
    logits = torch.nn.functional.one_hot(labels, 3).permute(0, 3, 1, 2).float() * 50.0
    assert soft_dice_loss(logits, labels).item() == pytest.approx(0.0, abs=1e-5)


# -- the joint loss ---------------------------------------------------------------------------
def test_sbc_criterion_total_by_hand_with_non_default_weights() -> None:
    torch.manual_seed(4)
    labels = random_labels((2, 6, 6), [0, 1, 3], seed=5)  # class 2 absent
    targets = {"labels": labels, "distance": distance_maps(labels, 4)}
    output = ModelOutput(
        logits=torch.randn(2, 4, 6, 6),
        coarse_logits=torch.randn(2, 4, 6, 6),
        distance=torch.rand(2, 4, 6, 6),
    )
    alpha, beta, gamma = 0.3, 2.5, 0.7
    losses = SBCCriterion(alpha=alpha, beta=beta, gamma=gamma)(output, targets)
    coarse = ref_cross_entropy(output.coarse_logits, labels)
    mse = ref_mse(output.distance, targets["distance"])
    refined_ce = ref_cross_entropy(output.logits, labels)
    refined_dice = ref_soft_dice_loss(output.logits, labels)
    expected = alpha * coarse + beta * mse + gamma * (refined_ce + refined_dice)
    assert losses["total"].item() == pytest.approx(expected, rel=1e-5)
    parts = {"coarse": coarse, "sfp": mse, "refined_ce": refined_ce, "refined_dice": refined_dice}
    for name, value in parts.items():  # the parts are unweighted
        assert losses[name].item() == pytest.approx(value, rel=1e-5), name
