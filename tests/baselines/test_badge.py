"""BADGE (Ash et al., ICLR 2020): the factorised gradient embedding against autograd, k-means++
seeding against a slow loop with the same generator draws, and the strategy end to end."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from alstrategies.baselines.badge import BADGEStrategy, gradient_embeddings, kmeans_pp_seeding
from alstrategies.conformance.fixtures import tiny_context, tiny_model
from alstrategies.errors import StrategyContractError
from alstrategies.types import ModelOutput


def autograd_embedding(head: nn.Conv2d, features: torch.Tensor, bias: bool) -> torch.Tensor:
    """The reference: per image, autograd of mean-pixel CE(head(h), argmax) w.r.t. the head."""
    rows = []
    for image in features:
        logits = head(image[None])
        pseudo = logits.argmax(dim=1).detach()
        loss = F.cross_entropy(logits, pseudo)  # mean over the H x W pixels of the one image
        params = [head.weight, head.bias] if bias else [head.weight]
        grads = torch.autograd.grad(loss, params)
        rows.append(torch.cat([g.flatten() for g in grads]))
    return torch.stack(rows)


def relative_error(ours: torch.Tensor, reference: torch.Tensor) -> float:
    return float((ours - reference).norm() / reference.norm())


@pytest.mark.parametrize("bias", [False, True])
@pytest.mark.parametrize(("classes", "channels", "shape"), [(2, 3, (5, 7)), (4, 8, (6, 6)), (3, 16, (4, 9))])
def test_embedding_matches_autograd(bias, classes, channels, shape):
    torch.manual_seed(classes * 100 + channels)
    head = nn.Conv2d(channels, classes, 1).double()
    features = torch.randn(5, channels, *shape, dtype=torch.float64) * 2
    reference = autograd_embedding(head, features, bias)
    with torch.no_grad():
        ours = gradient_embeddings(head(features), features, bias=bias)
    width = classes * channels + (classes if bias else 0)
    assert ours.shape == (5, width)
    assert relative_error(ours, reference) < 1e-6
    for i in range(5):  # each row is the image's own gradient: no batch mixing
        assert relative_error(ours[i], reference[i]) < 1e-6


def test_embedding_in_float32_matches_autograd_in_float64():
    torch.manual_seed(3)
    head = nn.Conv2d(16, 4, 1).double()
    features = torch.randn(3, 16, 32, 48, dtype=torch.float64)
    reference = autograd_embedding(head, features, bias=True)
    with torch.no_grad():
        ours = gradient_embeddings(head(features).float(), features.float(), bias=True)
    assert ours.dtype == torch.float32
    assert relative_error(ours.double(), reference) < 1e-5


def test_embedding_of_a_certain_prediction_is_small_and_grows_with_uncertainty():
    """p == onehot(argmax) gives a zero gradient; flatter softmaxes give larger ones."""
    features = torch.ones(1, 2, 4, 4)
    logits = torch.zeros(3, 3, 4, 4)
    logits[0, 0] = 200.0  # certain
    logits[1, 0] = 2.0
    logits[2, 0] = 0.5  # nearly flat
    norms = gradient_embeddings(logits, features.expand(3, -1, -1, -1)).norm(dim=1)
    assert norms[0] < 1e-12
    assert norms[0] < norms[1] < norms[2]


def test_embedding_rejects_mismatched_shapes():
    with pytest.raises(ValueError, match="spatial"):
        gradient_embeddings(torch.zeros(2, 3, 4, 4), torch.zeros(2, 5, 4, 5))
    with pytest.raises(ValueError, match="B x C x H x W"):
        gradient_embeddings(torch.zeros(2, 3, 4), torch.zeros(2, 5, 4, 4))


def slow_kmeans_pp(points: np.ndarray, k: int, rng: np.random.Generator) -> list[int]:
    """Obviously correct k-means++ (largest norm first, then D^2 sampling), plain loops.

    Same draws as the documented rule: one ``rng.random()`` per centre; the first centre among
    the exact ties of the largest norm, a D^2 draw walked along the cumulative weights, and a
    uniform pick among the images left when every weight is zero.
    """
    n = len(points)
    norms = [sum(float(v) * float(v) for v in row) for row in points]
    tied = [i for i in range(n) if norms[i] == max(norms)]
    chosen = [tied[int(rng.random() * len(tied))]]
    while len(chosen) < k:
        weights = []
        for i in range(n):
            if i in chosen:
                weights.append(0.0)
                continue
            weights.append(
                min(sum((float(a) - float(b)) ** 2 for a, b in zip(points[i], points[c])) for c in chosen)
            )
        total = 0.0
        for w in weights:
            total += w
        draw = rng.random()
        if total > 0:
            target, running = draw * total, 0.0
            pick = None
            for i, w in enumerate(weights):
                running += w
                if running > target:
                    pick = i
                    break
            if pick is None:
                pick = max(i for i in range(n) if weights[i] > 0)
        else:
            free = [i for i in range(n) if i not in chosen]
            pick = free[int(draw * len(free))]
        chosen.append(pick)
    return chosen


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("k", [1, 4, 17, 30])
def test_kmeans_pp_matches_the_slow_loop(seed, k):
    points = np.random.default_rng(100 + seed).normal(size=(30, 5))
    ours = kmeans_pp_seeding(points, k, np.random.default_rng(seed))
    assert ours.tolist() == slow_kmeans_pp(points, k, np.random.default_rng(seed))
    assert ours[0] == np.argmax(np.linalg.norm(points, axis=1))  # the largest norm first
    assert len(set(ours.tolist())) == k


@pytest.mark.parametrize("seed", range(6))
def test_kmeans_pp_with_duplicates_and_ties_matches_the_slow_loop(seed):
    """Duplicate points (zero distances) and tied largest norms: the generator decides."""
    base = np.array([[3.0, 0.0], [0.0, 3.0], [-3.0, 0.0], [1.0, 1.0]])  # three tied largest norms
    points = np.concatenate([base, base, base[:2]])
    for k in (1, 3, 6, points.shape[0]):  # k = N forces the uniform fallback once distances are 0
        ours = kmeans_pp_seeding(points, k, np.random.default_rng(seed))
        assert ours.tolist() == slow_kmeans_pp(points, k, np.random.default_rng(seed))
        assert len(set(ours.tolist())) == k


def test_kmeans_pp_ties_go_to_the_generator_not_the_order():
    points = np.array([[3.0, 0.0], [0.0, 3.0], [-3.0, 0.0], [0.0, -3.0]])
    firsts = {int(kmeans_pp_seeding(points, 1, np.random.default_rng(seed))[0]) for seed in range(40)}
    assert firsts == {0, 1, 2, 3}
    identical = np.ones((6, 3))  # every distance zero after the first centre
    picks = {tuple(kmeans_pp_seeding(identical, 3, np.random.default_rng(s)).tolist()) for s in range(40)}
    assert len(picks) > 10


def test_kmeans_pp_draws_proportionally_to_squared_distance():
    """1-D points 0, 1, 3: the first centre is 3, then 0 with probability 9/13 and 1 with 4/13."""
    points = np.array([[0.0], [1.0], [3.0]])
    trials = 4000
    seconds = [int(kmeans_pp_seeding(points, 2, np.random.default_rng(s))[1]) for s in range(trials)]
    assert all(int(kmeans_pp_seeding(points, 1, np.random.default_rng(s))[0]) == 2 for s in range(20))
    share = seconds.count(0) / trials
    expected = 9 / 13
    assert abs(share - expected) < 4 * math.sqrt(expected * (1 - expected) / trials)  # not D (3/4)
    assert set(seconds) == {0, 1}


def test_kmeans_pp_picks_one_image_per_far_cluster():
    rng = np.random.default_rng(0)
    centres = np.array([[0.0, 0.0, 0.0], [50.0, 0.0, 0.0], [0.0, 60.0, 0.0], [0.0, 0.0, 70.0]])
    points = np.concatenate([c + 0.01 * rng.normal(size=(10, 3)) for c in centres])
    for seed in range(10):
        chosen = kmeans_pp_seeding(points, 4, np.random.default_rng(seed))
        assert sorted((chosen // 10).tolist()) == [0, 1, 2, 3]


def test_kmeans_pp_rejects_bad_k():
    with pytest.raises(ValueError):
        kmeans_pp_seeding(np.zeros((3, 2)), 4, np.random.default_rng(0))
    with pytest.raises(ValueError):
        kmeans_pp_seeding(np.zeros((3, 2)), 0, np.random.default_rng(0))


# --- the strategy end to end (needs ModelOutput.head_features and the networks' final_head) ---


def _output_with_head_features(model: nn.Module, images: torch.Tensor) -> ModelOutput:
    with torch.no_grad():
        output = model(images)
    if getattr(output, "head_features", None) is None:
        pytest.fail("ModelOutput.head_features is missing: BADGE needs it from the networks")
    return output


@pytest.mark.parametrize("heads", ["plain", "sbc"])
@pytest.mark.parametrize("bias", [False, True])
def test_strategy_embeddings_are_the_head_gradients(heads, bias):
    model = tiny_model(heads)
    context = tiny_context(model, batch_size=3)  # batches of 3: the last one is partial
    images = context.pool_images[torch.as_tensor(context.unlabeled)]
    output = _output_with_head_features(model, images)
    head = model.final_head()
    with torch.no_grad():
        torch.testing.assert_close(head(output.head_features), output.logits, rtol=1e-5, atol=1e-5)
    reference = autograd_embedding(head, output.head_features.detach(), bias)
    ours = BADGEStrategy(bias=bias).embed_pool(context)
    assert ours.dtype == np.float32 and ours.shape == tuple(reference.shape)
    assert relative_error(torch.from_numpy(ours).double(), reference.double()) < 1e-5
    assert all(p.grad is None for p in model.parameters())


@pytest.mark.parametrize("heads", ["plain", "sbc"])
def test_strategy_query_is_kmeans_pp_on_the_embeddings(heads):
    model = tiny_model(heads)
    model.train()
    state = {key: value.clone() for key, value in model.state_dict().items()}
    context = tiny_context(model)
    strategy = BADGEStrategy()
    result = strategy.query(context, 5, np.random.default_rng(7))
    assert model.training and all(m.training for m in model.modules())  # modes restored
    for key, value in model.state_dict().items():
        assert torch.equal(value, state[key]), key
    embeddings = strategy.embed_pool(context)
    order = slow_kmeans_pp(embeddings.astype(np.float64), 5, np.random.default_rng(7))
    assert result.indices.tolist() == context.unlabeled[order].tolist()
    assert result.candidates.tolist() == context.unlabeled.tolist()
    np.testing.assert_allclose(result.scores, np.linalg.norm(embeddings.astype(np.float64), axis=1))
    assert sorted(np.flatnonzero(result.details["seeding_order"] >= 0).tolist()) == sorted(order)
    again = BADGEStrategy().query(tiny_context(model), 5, np.random.default_rng(7))
    assert again.indices.tolist() == result.indices.tolist()


def test_strategy_attributes_and_a_clear_error_without_head_features():
    assert BADGEStrategy.name == "badge" and BADGEStrategy.family == "hybrid"
    assert BADGEStrategy.source == "Ash et al., ICLR 2020" and BADGEStrategy.forward_passes == "1"

    class NoHead(nn.Module):
        def forward(self, x: torch.Tensor) -> ModelOutput:
            logits = torch.zeros(x.shape[0], 4, *x.shape[2:])
            return ModelOutput(logits=logits, coarse_logits=logits)

    context = tiny_context(tiny_model("plain"))
    context.model = NoHead()
    with pytest.raises(StrategyContractError, match="head_features"):
        BADGEStrategy().query(context, 3, np.random.default_rng(0))
    with pytest.raises(TypeError):
        BADGEStrategy(bias="yes")  # type: ignore[arg-type]
