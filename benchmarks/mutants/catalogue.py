"""The curated mutations: deliberate bugs that the named tests must catch.

Each :class:`Mutation` replaces one exact piece of source text (``old``, which must occur exactly
once in ``path``) by ``new`` and names the tests that must then fail. ``run.py`` applies them
one at a time to a copy of the repository; see ``docs/mutants.md``.

The ``old`` texts follow the source as it is: when a refactoring changes one, the runner reports
the mutation as STALE (never skips it), and the entry is rewritten against the new text.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Mutation:
    """One deliberate bug: replace ``old`` (found exactly once in ``path``) by ``new``; then
    ``pytest tests [-k select]`` must fail."""

    id: str
    description: str
    path: str
    old: str
    new: str
    tests: tuple[str, ...]
    select: str = ""  # a pytest -k expression, "" for every test of ``tests``


LOOP_GUARDS = ("tests/engine/test_guards_loop.py",)
REPORT_GUARDS = ("tests/report/test_guards_report.py",)
BASELINE_GUARDS = ("tests/baselines/test_guards_baselines.py",)
EVALUATION = ("tests/test_evaluation.py",)
STATISTICS = ("tests/report/test_report_statistics.py",)
#: The copies leave results/ out: tests that read the committed run are deselected.
NO_COMMITTED_RUN = "not committed_run"

MUTATIONS: tuple[Mutation, ...] = (
    # -- the 11 bugs that the suite did not catch (issue 12) -------------------------------------
    Mutation(
        id="loop-resume-retrains-recorded-rounds",
        description="an unfinished chain retrains every recorded round after round 0",
        path="alstrategies/engine/loop.py",
        old="            if done is not None:\n                labeled = RoundRecord.from_dict(done).next_labeled()",
        new="            if done is not None and r == 0:\n"
        "                labeled = RoundRecord.from_dict(done).next_labeled()",
        tests=LOOP_GUARDS,
        select="resuming",
    ),
    Mutation(
        id="loop-chain-ignores-warm-start",
        description="chain rounds start from a fresh initialisation although train.warm_start is set",
        path="alstrategies/engine/loop.py",
        old="init = self._warm_start_state(name, seed, r - 1, network)",
        new="init = None",
        tests=LOOP_GUARDS,
        select="warm_started",
    ),
    Mutation(
        id="evaluation-ignores-spacing",
        description="evaluate() measures HD95 in voxels whatever the volume's spacing",
        path="alstrategies/evaluation.py",
        old="prediction, volume.label, num_classes, volume.spacing, names, metric_options",
        new="prediction, volume.label, num_classes, None, names, metric_options",
        tests=EVALUATION,
    ),
    Mutation(
        id="evaluation-labels-shifted",
        description="evaluate() scores against labels shifted by 3 px",
        path="alstrategies/evaluation.py",
        old="prediction, volume.label, num_classes, volume.spacing, names, metric_options",
        new="prediction, np.roll(volume.label, 3, axis=-1), num_classes, volume.spacing, names, metric_options",
        tests=EVALUATION,
    ),
    Mutation(
        id="summary-reach-100-percent",
        description="strategy_summary's budget to reach targets 100 % of the full Dice, not 95 %",
        path="alstrategies/report/summary.py",
        old='results: pd.DataFrame, metric: str = "dice", reach_fraction: float = 0.95\n',
        new='results: pd.DataFrame, metric: str = "dice", reach_fraction: float = 1.0\n',
        tests=REPORT_GUARDS,
    ),
    Mutation(
        id="summary-markdown-reach-100-percent",
        description="summary.md's budget to reach targets 100 % of the full Dice, not 95 %",
        path="alstrategies/report/summary.py",
        old="    reach_fraction: float = 0.95,\n    run_dir: str | Path | None = None,",
        new="    reach_fraction: float = 1.0,\n    run_dir: str | Path | None = None,",
        tests=REPORT_GUARDS,
    ),
    Mutation(
        id="pairing-keeps-round0",
        description="the (seed, budget) pairing keeps round 0, which precedes every query",
        path="alstrategies/report/statistics.py",
        old="    return [b for b in grid if b not in shared]",
        new="    return grid",
        tests=REPORT_GUARDS,
    ),
    Mutation(
        id="curves-no-std-band",
        description="learning curves drawn without their std band",
        path="alstrategies/report/curves.py",
        old="        axis.fill_between(x, y - band, y + band, color=line.get_color(), alpha=band_alpha, linewidth=0)\n",
        new="",
        tests=REPORT_GUARDS,
        select="learning_curves",
    ),
    Mutation(
        id="curves-no-full-line",
        description="learning curves drawn without the 100 % line",
        path="alstrategies/report/curves.py",
        old='        axis.axhline(bound, color="black", linestyle="--", linewidth=1, label=f"100% labels ({bound:.1f})")\n',
        new="        pass\n",
        tests=REPORT_GUARDS,
        select="learning_curves",
    ),
    Mutation(
        id="qualitative-draws-ground-truth",
        description="the qualitative figure draws the ground truth in every prediction panel",
        path="alstrategies/report/qualitative.py",
        old='name: _missing_panel if snapshot is None else _prediction_panel(snapshot["prediction"])',
        new='name: _missing_panel if snapshot is None else _prediction_panel(snapshot["labels"])',
        tests=REPORT_GUARDS,
        select="qualitative",
    ),
    Mutation(
        id="mean-std-lowest-first",
        description="MeanSTD queries the lowest std first",
        path="alstrategies/baselines/mean_std.py",
        old="return moments.std().mean(dim=1)",
        new="return -moments.std().mean(dim=1)",
        tests=BASELINE_GUARDS,
        select="mean_std",
    ),
    Mutation(
        id="vaal-no-adversarial-term",
        description="VAAL's VAE loss loses lambda x [BCE(D(mu_l), 1) + BCE(D(mu_u), 1)]",
        path="alstrategies/baselines/vaal.py",
        old="loss = rec_l + rec_u + self.beta * (kld_l + kld_u) + self.adversary_weight * fool",
        new="loss = rec_l + rec_u + self.beta * (kld_l + kld_u)",
        tests=BASELINE_GUARDS,
        select="vaal",
    ),
    Mutation(
        id="vaal-ignores-kld-reduction",
        description="VAAL averages the KL term whatever kld_reduction says",
        path="alstrategies/baselines/vaal.py",
        old='return terms.mean() if self.kld_reduction == "mean" else terms.sum()',
        new="return terms.mean()",
        tests=BASELINE_GUARDS,
        select="vaal",
    ),
    # -- formulas, statistics and the loop ---------------------------------------------------------
    Mutation(
        id="holm-not-monotone",
        description="Holm's adjustment without the step-down maximum",
        path="alstrategies/report/statistics.py",
        old="result[order] = np.maximum.accumulate(steps)",
        new="result[order] = steps",
        tests=STATISTICS,
        select=NO_COMMITTED_RUN,
    ),
    Mutation(
        id="aulc-not-normalised",
        description="AULC is the raw trapezoid area, not divided by the budget range",
        path="alstrategies/report/statistics.py",
        old="return float(np.trapezoid(y, x) / (x[-1] - x[0]))",
        new="return float(np.trapezoid(y, x))",
        tests=(*STATISTICS, *REPORT_GUARDS),
        select=NO_COMMITTED_RUN,
    ),
    Mutation(
        id="pairwise-winner-inverted",
        description="a significant pair is a win for the strategy with the worse mean",
        path="alstrategies/report/statistics.py",
        old='np.where(significant, np.where(better_a, "a", "b"), "tie")',
        new='np.where(significant, np.where(better_a, "b", "a"), "tie")',
        tests=STATISTICS,
        select=NO_COMMITTED_RUN,
    ),
    Mutation(
        id="summary-aulc-population-std",
        description="strategy_summary reports the population std (ddof 0) of the AULCs",
        path="alstrategies/report/summary.py",
        old='"aulc_std": float(values.std(ddof=1))',
        new='"aulc_std": float(values.std(ddof=0))',
        tests=REPORT_GUARDS,
    ),
    Mutation(
        id="dice-denominator-off",
        description="Dice divides by |A| + |B| + 1",
        path="alstrategies/metrics/dice.py",
        old="    return 2.0 * inter / total\n",
        new="    return 2.0 * inter / (total + 1)\n",
        tests=EVALUATION,
    ),
    Mutation(
        id="hd95-is-max",
        description="HD95 takes the maximum (HD100) instead of the 95th percentile",
        path="alstrategies/metrics/hausdorff.py",
        old='options={"percentile": 95},',
        new='options={"percentile": 100},',
        tests=EVALUATION,
    ),
    Mutation(
        id="scs-weights-swapped",
        description="SCS = w_d Q_cos + w_c Q_dice (weights swapped)",
        path="alstrategies/sbcal/scores.py",
        old="    return w_c * q_cos + w_d * q_dice\n",
        new="    return w_d * q_cos + w_c * q_dice\n",
        tests=("tests/sbcal/test_sbcal_scores.py",),
    ),
    Mutation(
        id="cs-weights-swapped",
        description="CS = w_b SCS + w_s BCS (weights swapped)",
        path="alstrategies/sbcal/scores.py",
        old="return _like(w_s * a + w_b * b, scs)",
        new="return _like(w_b * a + w_s * b, scs)",
        tests=("tests/sbcal/test_sbcal_scores.py",),
    ),
    Mutation(
        id="lr-decay-early",
        description="the step decay applies one iteration early",
        path="alstrategies/training/trainer.py",
        old="factor = config.lr_decay ** (step // config.lr_step)",
        new="factor = config.lr_decay ** ((step + 1) // config.lr_step)",
        tests=("tests/training/test_trainer.py",),
        select="lr_schedules or cooldown",
    ),
    Mutation(
        id="warm-round-restarts-at-peak",
        description="a warm-started training ignores train.warm_lr_factor (restarts at the peak lr)",
        path="alstrategies/training/trainer.py",
        old="return factor * config.warm_lr_factor if warm else factor",
        new="return factor",
        tests=("tests/training/test_warm_schedule.py",),
    ),
    Mutation(
        id="lr-decay-first-group-only",
        description="the step decay only reaches the first parameter group",
        path="alstrategies/training/trainer.py",
        old='            for group in optimizer.param_groups:\n                group["lr"] = group["initial_lr"] * decay',
        new="            for group in optimizer.param_groups[:1]:\n"
        '                group["lr"] = group["initial_lr"] * decay',
        tests=("tests/training/test_trainer.py",),
        select="step_decay",
    ),
    Mutation(
        id="mc-dropout-sample-std",
        description="MC-dropout moments give the sample std (T - 1) instead of the population std",
        path="alstrategies/mc_dropout/moments.py",
        old="return self.m2.div_(self.count).sqrt_()",
        new="return self.m2.div_(self.count - 1).sqrt_()",
        tests=BASELINE_GUARDS,
        select="mean_std",
    ),
    Mutation(
        id="budget-counts-round-down",
        description="budget counts are truncated instead of rounded half up",
        path="alstrategies/engine/protocol.py",
        old="counts = [_round_half_up(pool_size * f) for f in fractions]",
        new="counts = [int(pool_size * f) for f in fractions]",
        tests=("tests/engine/test_protocol.py",),
    ),
    Mutation(
        id="loop-queries-one-too-many",
        description="each round queries one image more than the next budget needs",
        path="alstrategies/engine/loop.py",
        old="k = self.budgets[budget.round + 1].count - budget.count",
        new="k = self.budgets[budget.round + 1].count - budget.count + 1",
        tests=LOOP_GUARDS,
        select="resuming",
    ),
    Mutation(
        id="hd95-miss-is-nan",
        description="a missed or invented structure gets NaN, not the volume's diagonal",
        path="alstrategies/metrics/hausdorff.py",
        old="        return volume_diagonal(a.shape, spacing)\n",
        new='        return float("nan")\n',
        tests=EVALUATION,
    ),
    Mutation(
        id="evaluation-corners-misaligned",
        description="logits resized back with align_corners=False while the slices were zoomed corner-aligned",
        path="alstrategies/evaluation.py",
        old='mode="bilinear", align_corners=True)',
        new='mode="bilinear", align_corners=False)',
        tests=EVALUATION,
    ),
    Mutation(
        id="ties-by-pool-order",
        description="top_k breaks ties by pool order instead of the strategy's generator",
        path="alstrategies/ranking.py",
        old="shuffled = rng.permutation(scores.size)",
        new="shuffled = np.arange(scores.size)",
        tests=("tests/test_ties.py",),
    ),
    Mutation(
        id="distance-maps-without-frame",
        description="distance maps computed without the one-pixel frame of no class",
        path="alstrategies/sbcal/scores.py",
        old="    return _squared_edt(framed)[:, 1:-1, 1:-1]",
        new="    return _squared_edt(mask)",
        tests=("tests/sbcal/test_sbcal_background.py",),
    ),
    # -- the bugs that the suite did not catch (issue 26) -----------------------------------------
    Mutation(
        id="round0-ignores-initial-iterations",
        description="round 0 trains as every round (stage 'round'), ignoring train.initial_iterations",
        path="alstrategies/training/round.py",
        old='stage = label if label in ("round0", "full") else "round"',
        new='stage = label if label == "full" else "round"',
        tests=("tests/engine/test_loop.py",),
        select="initial_iterations",
    ),
    Mutation(
        id="dice-mean-over-class-means",
        description="the mean is over classes of the per-class volume means, not over volumes",
        path="alstrategies/evaluation.py",
        old="return nanmean_or_nan([nanmean_or_nan(row) for row in self.per_volume(name)])",
        new="return nanmean_or_nan(self.per_class(name))",
        tests=EVALUATION,
        select="absent_from_a_volume",
    ),
    Mutation(
        id="dataset-json-labels-unsorted",
        description="nnU-Net/Decathlon foreground labels taken in dataset.json order, not by value",
        path="alstrategies/data/dataset_json.py",
        old="foreground = sorted(value for value in labels if value != 0)",
        new="foreground = [value for value in labels if value != 0]",
        tests=("tests/data/test_label_order.py",),
    ),
    Mutation(
        id="cache-listing-ignores-mtime",
        description="the cache's file listing ignores modification times (same-size edits unseen)",
        path="alstrategies/data/cache.py",
        old="stat.st_size, stat.st_mtime_ns))",
        new="stat.st_size, 0))",
        tests=("tests/data/test_cache_maintenance.py",),
        select="same_size",
    ),
    Mutation(
        id="cache-stale-prefix-first-dash",
        description="stale cache entries matched by the name before the first dash (other options deleted)",
        path="alstrategies/data/cache.py",
        old='base = entry.name.rsplit("-", 1)[0]',
        new='base = entry.name.split("-", 1)[0]',
        tests=("tests/data/test_cache_maintenance.py",),
        select="other_options",
    ),
    Mutation(
        id="cache-key-without-version",
        description="the cache key leaves out CACHE_VERSION (an old format is read after a bump)",
        path="alstrategies/data/cache.py",
        old='"options": normalised, "version": CACHE_VERSION}',
        new='"options": normalised}',
        tests=("tests/data/test_cache_maintenance.py",),
        select="cache_version",
    ),
    Mutation(
        id="ablation-pairs-ignore-strategy",
        description="the ablation pairs average every strategy's rows instead of grid.json's strategy",
        path="alstrategies/report/ablation_pairs.py",
        old='rows = rows[rows["strategy"] == strategy]',
        new="rows = rows",
        tests=("tests/report/test_report_ablation.py",),
        select="named_strategy",
    ),
    Mutation(
        id="killed-run-retrains-recorded-rounds",
        description="a restarted chain retrains its recorded rounds (byte-identical records, rewritten)",
        path="alstrategies/engine/loop.py",
        old="            if done is not None:\n                labeled = RoundRecord.from_dict(done).next_labeled()",
        new="            if done is not None and r == 0:\n"
        "                labeled = RoundRecord.from_dict(done).next_labeled()",
        tests=("tests/executors/test_executors.py",),
        select="killed_and_restarted or mid_chain",
    ),
    Mutation(
        id="run-folder-ignores-label-edits",
        description="a resume compares the images' moments but not the pool labels' SHA-256",
        path="alstrategies/engine/data_fingerprint.py",
        old='if recorded.get("pool_labels_sha256") != current["pool_labels_sha256"]:',
        new="if False:",
        tests=("tests/engine/test_run_folder_content.py",),
    ),
    Mutation(
        id="cache-staging-of-running-build-removed",
        description="the next cache build removes every staging folder, a running build's too",
        path="alstrategies/data/cache_staging.py",
        old="            return not _running(int(pid))",
        new="            return True",
        tests=("tests/data/test_cache_maintenance.py",),
        select="staging",
    ),
)
