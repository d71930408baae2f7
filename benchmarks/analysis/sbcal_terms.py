"""What drives SBC-AL's consistency score on a real round (docs/sbcal.md, "What drives CS").

Trains a small SBCNet on a random initial labeled set (round 0), once per
``model.distance_classes`` setting, scores the unlabeled pool with ``sbc_al`` and prints:
how many queried images are predicted empty, how much of CS's variance and of the top-k set
BCS's presence rule ("1 when exactly one set is empty") explains, and Q_dice's range on
well-segmented images (its shape bias). CPU, about a minute per setting at the defaults::

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/analysis/sbcal_terms.py \\
        --dataset acdc --root /work/shared/data/ACDC --image-size 48
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/analysis/sbcal_terms.py --dataset synthetic
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from scipy.stats import spearmanr

from alstrategies.data import load_dataset
from alstrategies.models import build_criterion, build_model
from alstrategies.sbcal.scores import distance_maps, structure_terms
from alstrategies.sbcal.strategy import SBCALStrategy
from alstrategies.strategy import QueryContext
from alstrategies.training.targets import TargetCache
from alstrategies.training.trainer import TrainConfig, Trainer


def slice_dice(prediction: torch.Tensor, truth: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Per image: mean Dice over the foreground classes present in either map (1 if none is)."""
    scores = []
    for c in range(1, num_classes):
        p, t = prediction == c, truth == c
        both = (p & t).flatten(1).sum(1).double()
        total = p.flatten(1).sum(1).double() + t.flatten(1).sum(1).double()
        scores.append(torch.where(total > 0, 2 * both / total.clamp_min(1), torch.nan))
    stacked = torch.stack(scores, dim=1)
    return torch.nan_to_num(stacked.nanmean(dim=1), nan=1.0)


def pool_terms(model: torch.nn.Module, images: torch.Tensor, truth: torch.Tensor, num_classes: int) -> dict:
    """Every term of CS per image, from one inference pass (the strategy's own formulas)."""
    strategy = SBCALStrategy()
    rows: dict[str, list[torch.Tensor]] = {}
    model.eval()
    with torch.inference_mode():
        for start in range(0, len(images), 64):
            output = model(images[start : start + 64])
            labels = truth[start : start + 64]
            scores = strategy.compute_score(output)
            refined = output.logits.argmax(1)
            coarse = output.coarse_logits.argmax(1)
            background = strategy.includes_background(output.distance.shape[1], num_classes)
            d_s = distance_maps(refined, num_classes, include_background=background)
            q_cos, q_dice = structure_terms(d_s, output.distance)
            _, self_dice = structure_terms(d_s, d_s)
            present_r = torch.stack([(refined == c).flatten(1).any(1) for c in range(1, num_classes)], 1)
            present_c = torch.stack([(coarse == c).flatten(1).any(1) for c in range(1, num_classes)], 1)
            presence = (present_r ^ present_c).float().mean(1)  # BCS's "exactly one empty" part
            values = {
                **scores,
                "q_cos": q_cos,
                "q_dice": q_dice,
                "self_q_dice": self_dice,
                "presence": presence,
                "any_presence": (present_r ^ present_c).any(1).float(),
                "empty": (~present_r.any(1)).float(),
                "dice": slice_dice(refined, labels, num_classes),
            }
            for key, value in values.items():
                rows.setdefault(key, []).append(value.float().cpu())
    return {key: torch.cat(value).numpy().astype(np.float64) for key, value in rows.items()}


def report(terms: dict, k: int) -> None:
    """Print the figures of one setting."""
    cs, order = terms["score"], np.argsort(-terms["score"], kind="stable")
    top = order[:k]
    without = np.argsort(-(cs - 0.2 * terms["presence"]), kind="stable")[:k]
    presence_part = 0.2 * terms["presence"]
    share = np.var(presence_part) / np.var(cs)
    r2 = np.corrcoef(cs, presence_part)[0, 1] ** 2
    well = (terms["dice"] >= 0.9) & (terms["empty"] == 0)
    print(f"  pool {len(cs)}, k = {k}; mean slice Dice {terms['dice'].mean():.3f}")
    print(
        f"  predicted empty: {terms['empty'].mean():.1%} of the pool, {terms['empty'][top].mean():.1%} "
        f"of the top-k; their mean SCS {terms['scs'][terms['empty'] == 1].mean() if terms['empty'].any() else float('nan'):.3f}"
    )
    print(
        f"  a class in one head only: {terms['any_presence'].mean():.1%} of the pool, "
        f"{terms['any_presence'][top].mean():.1%} of the top-k"
    )
    print(
        f"  var(0.2 * presence) / var(CS) = {share:.2f}; R^2 of CS on it {r2:.2f}; "
        f"top-k without the presence term keeps {np.isin(top, without).mean():.1%}"
    )
    print(
        f"  var parts of CS: 0.8 SCS {np.var(0.8 * terms['scs']):.2e}, 0.2 BCS {np.var(0.2 * terms['bcs']):.2e}, "
        f"total {np.var(cs):.2e}"
    )
    if well.any():
        qd, sd, qc = terms["q_dice"][well], terms["self_q_dice"][well], terms["q_cos"][well]
        print(
            f"  well segmented (slice Dice >= 0.9, {well.sum()} images): Q_dice {qd.min():.3f} .. "
            f"{np.median(qd):.3f} .. {qd.max():.3f} (min, median, max); Q_dice(d_s, d_s) {sd.min():.3f} .. "
            f"{sd.max():.3f}; Q_cos {qc.min():.3f} .. {qc.max():.3f}"
        )
    rho = spearmanr(cs, 1.0 - terms["dice"]).statistic
    print(f"  Spearman(CS, 1 - slice Dice) = {rho:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="synthetic", choices=["synthetic", "acdc"])
    parser.add_argument("--root", default="")
    parser.add_argument("--image-size", type=int, default=48)
    parser.add_argument("--iterations", type=int, default=300)
    parser.add_argument("--width", type=int, default=8)
    parser.add_argument("--sfp-lr", type=float, default=0.01, help="paper: 1e-4 (slow on short schedules)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(1)
    options = {"name": args.dataset, "image_size": args.image_size}
    if args.root:
        options["root"] = args.root
    data = load_dataset(options)
    images = torch.from_numpy(np.ascontiguousarray(data.pool_images))
    labels = torch.from_numpy(data.pool_labels.astype(np.int64))
    count = len(images)
    rng = np.random.default_rng(args.seed)
    labeled = np.sort(rng.choice(count, size=round(0.0667 * count), replace=False))
    unlabeled = np.setdiff1d(np.arange(count), labeled)
    k = round(0.0333 * count)
    for setting in ("all", "foreground"):
        started = time.perf_counter()
        model_config = {"width": args.width, "heads": "sbc", "distance_classes": setting}
        model = build_model(model_config, data.num_classes, seed=args.seed)
        cache = TargetCache(labels, data.num_classes, include_background=setting == "all")
        config = TrainConfig(iterations=args.iterations, batch_size=16, sfp_lr=args.sfp_lr, device="cpu")
        Trainer(config, torch.device("cpu")).fit(
            model,
            images[labeled],
            cache.targets(labeled, need_distance=True),
            build_criterion(model_config, {}),
            seed=args.seed,
        )
        terms = pool_terms(model, images[unlabeled], labels[unlabeled], data.num_classes)
        context = QueryContext(model, images, labeled, unlabeled, data.num_classes)
        queried = SBCALStrategy().query(context, k, np.random.default_rng(args.seed))
        assert np.allclose(queried.scores, terms["score"], atol=1e-5)  # the same scores as the strategy
        print(f"model.distance_classes = {setting!r} ({time.perf_counter() - started:.0f} s)")
        report(terms, k)


if __name__ == "__main__":
    main()
