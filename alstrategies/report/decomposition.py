"""SBC-AL's gain over Random, split into the network's and the query's part.

Two runs of the same protocol and seeds: ``shared`` (every strategy trains SBCNet) and ``paper``
(``protocol.networks = "paper"``: Random trains the plain U-Net). With ``A(run, strategy)`` the
normalised AULC of one seed (:func:`alstrategies.report.statistics.per_seed_aulc`), per seed:

* ``query   = A(shared, sbc_al) - A(shared, random)``  same network, different query
* ``network = A(shared, random) - A(paper, random)``   same query, SBCNet instead of the U-Net
* ``total   = A(paper, sbc_al)  - A(paper, random)``   the gain the paper's setting reports; when
  the paper run has no sbc_al (each network trained under its own calibrated schedule, so SBC-AL
  runs once, in the shared run) ``A(shared, sbc_al)`` stands in for ``A(paper, sbc_al)``
* ``residual = total - query - network = A(paper, sbc_al) - A(shared, sbc_al)``, only when the
  paper run has sbc_al: zero when SBC-AL's chains of the two runs coincide, else their noise.

Seeds are paired across the runs; the AULC uses the AL budgets both runs have for every chain.
Beside each part: its t-based 95 % interval and one-sample t-test p (against 0), and the round-0
Dice of each network, whose gap is what a schedule calibrated on one network leaves in the other.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from alstrategies.engine.layout import RunLayout
from alstrategies.errors import RecordError
from alstrategies.report.bootstrap import t_mean_ci
from alstrategies.report.io import atomic_write_text, write_csv
from alstrategies.report.statistics import common_budgets, paired_test, per_seed_aulc

__all__ = [
    "COMPONENTS",
    "network_query_split",
    "round0_by_network",
    "split_summary",
    "write_network_query_split",
]

COMPONENTS = ("total", "query", "network", "residual")
SBC_AL, RANDOM = "sbc_al", "random"


def _aulc(results: pd.DataFrame, budgets: list[float]) -> pd.DataFrame:
    frame = results[results["strategy"].isin([SBC_AL, RANDOM])]
    aulc = per_seed_aulc(frame, budgets=budgets)
    return aulc.pivot_table(index="seed", columns="strategy", values="aulc")


def network_query_split(shared: pd.DataFrame, paper: pd.DataFrame, metric: str = "dice") -> pd.DataFrame:
    """Per seed both runs have: ``seed`` and the AULC differences :data:`COMPONENTS` (fractions,
    as the metric; no ``residual`` when the paper run has no sbc_al). Raises
    :class:`RecordError` when the shared run lacks sbc_al or random, the paper run random, or
    the runs share no budget or seed."""
    for frame, name, needed in ((shared, "shared", (SBC_AL, RANDOM)), (paper, "paper", (RANDOM,))):
        for strategy in needed:
            if strategy not in set(frame["strategy"]):
                raise RecordError(f"the {name} run has no {strategy!r} rows: cannot split SBC-AL's gain")
    pair = [frame[frame["strategy"].isin([SBC_AL, RANDOM])] for frame in (shared, paper)]
    budgets = sorted(set(common_budgets(pair[0], metric)) & set(common_budgets(pair[1], metric)))
    if not budgets:
        raise RecordError("the shared and the paper run have no AL budget in common")
    a_shared, a_paper = _aulc(shared, budgets), _aulc(paper, budgets)
    own_sbc_al = SBC_AL in a_paper
    if not own_sbc_al:
        a_paper[SBC_AL] = a_shared[SBC_AL]
    seeds = sorted(set(a_shared.dropna().index) & set(a_paper.dropna().index))
    if not seeds:
        raise RecordError("the shared and the paper run have no seed in common")
    s, p = a_shared.loc[seeds], a_paper.loc[seeds]
    frame = pd.DataFrame(
        {
            "seed": seeds,
            "total": (p[SBC_AL] - p[RANDOM]).to_numpy(),
            "query": (s[SBC_AL] - s[RANDOM]).to_numpy(),
            "network": (s[RANDOM] - p[RANDOM]).to_numpy(),
        }
    )
    if own_sbc_al:
        frame["residual"] = frame["total"] - frame["query"] - frame["network"]
    return frame


def split_summary(split: pd.DataFrame) -> pd.DataFrame:
    """Per component of ``split``: ``mean``, ``std`` (ddof 1; 0 for one seed), the t-based 95 %
    interval ``t_low``/``t_high`` and the one-sample t-test's two-sided ``p`` against 0 (NaN for
    one seed) and ``n_seeds``."""
    rows = []
    for component in (c for c in COMPONENTS if c in split):
        values = split[component].to_numpy(dtype=float)
        std = float(values.std(ddof=1)) if values.size > 1 else 0.0
        low, high = t_mean_ci(values)
        _, p = paired_test(values, np.zeros_like(values))
        rows.append(
            {
                "component": component,
                "mean": float(values.mean()),
                "std": std,
                "t_low": low,
                "t_high": high,
                "p": p,
                "n_seeds": values.size,
            }
        )
    return pd.DataFrame(rows)


def round0_by_network(shared: pd.DataFrame, paper: pd.DataFrame, seeds: list[int]) -> pd.DataFrame:
    """Per network (``sbcnet`` from the shared run, ``unet`` from the paper run's Random) and
    ``seed`` of ``seeds``: the round-0 ``dice`` (one shared round-0 model per seed and network)."""
    rows = []
    for network, frame in (("sbcnet", shared), ("unet", paper)):
        first = frame[(frame["strategy"] == RANDOM) & (frame["round"] == 0) & frame["seed"].isin(seeds)]
        for seed, dice in first.groupby("seed")["dice"].first().items():
            rows.append({"network": network, "seed": int(seed), "dice": float(dice)})
    return pd.DataFrame(rows, columns=["network", "seed", "dice"])


def _markdown(
    split: pd.DataFrame, summary: pd.DataFrame, round0: pd.DataFrame, shared_dir: Path, paper_dir: Path
) -> str:
    own = "residual" in split
    meaning = {
        "total": "AULC(sbc_al) − AULC(random), paper run"
        if own
        else "AULC(sbc_al, shared: SBCNet) − AULC(random, paper: U-Net)",
        "query": "AULC(sbc_al) − AULC(random), shared run (same network)",
        "network": "AULC(random, shared: SBCNet) − AULC(random, paper: U-Net) (same query)",
        "residual": "total − query − network = AULC(sbc_al, paper) − AULC(sbc_al, shared)",
    }
    seeds = split["seed"].tolist()
    lines = [
        "# SBC-AL's gain over Random: network and query",
        "",
        f"Shared run: `{shared_dir}`; paper run: `{paper_dir}`. Normalised AULC of the mean Dice per "
        "seed, paired by seed; differences in percentage points, mean ± sample std over the seeds, "
        "the t-based 95 % interval and the one-sample t-test's p against 0.",
        "",
        "| part | definition | mean ± std (pp) | t 95 % CI | p | "
        + " | ".join(f"seed {s}" for s in seeds)
        + " |",
        "|---|---|---|---|---|" + "---|" * len(seeds),
    ]
    for row in summary.itertuples(index=False):
        cells = " | ".join(f"{100 * v:.2f}" for v in split[row.component])
        interval = "n/a" if not np.isfinite(row.t_low) else f"[{100 * row.t_low:.2f}, {100 * row.t_high:.2f}]"
        p = "n/a" if not np.isfinite(row.p) else f"{row.p:.4f}"
        lines.append(
            f"| {row.component} | {meaning[row.component]} | {100 * row.mean:.2f} ± {100 * row.std:.2f} "
            f"| {interval} | {p} | {cells} |"
        )
    if not own:
        lines += [
            "",
            "The paper run has no sbc_al (each network under its own schedule): SBC-AL is trained "
            "once, in the shared run, so total = query + network exactly and there is no residual.",
        ]
    if len(round0):
        lines += ["", "Round-0 Dice (%) per network, the same seeds:", ""]
        lines.append("| network | mean ± std | " + " | ".join(f"seed {s}" for s in seeds) + " |")
        lines.append("|---|---|" + "---|" * len(seeds))
        for network, rows in round0.groupby("network", sort=False):
            by_seed = rows.set_index("seed")["dice"]
            std = by_seed.std(ddof=1) if len(by_seed) > 1 else 0.0
            cells = " | ".join(f"{100 * by_seed[s]:.2f}" if s in by_seed else "" for s in seeds)
            lines.append(f"| {network} | {100 * by_seed.mean():.2f} ± {100 * std:.2f} | {cells} |")
    return "\n".join(lines) + "\n"


def write_network_query_split(
    shared_dir: str | Path, paper_dir: str | Path, out_dir: str | Path, metric: str = "dice"
) -> list[Path]:
    """Read both runs' ``results.csv``, write ``network_query_split.md`` and ``.csv`` (one row
    per seed, then ``mean``, ``std``, ``t_low``, ``t_high`` and ``p`` rows) into ``out_dir``;
    returns their paths."""
    shared_dir, paper_dir, out_dir = Path(shared_dir), Path(paper_dir), Path(out_dir)
    frames = []
    for folder in (shared_dir, paper_dir):
        path = RunLayout(folder).results
        if not path.is_file():
            raise RecordError(f"{path} not found: both runs need a results.csv")
        frames.append(pd.read_csv(path))
    shared, paper = frames
    split = network_query_split(shared, paper, metric=metric)
    summary = split_summary(split)
    round0 = round0_by_network(shared, paper, split["seed"].tolist())
    table = split.astype({"seed": object})
    stats_rows = pd.DataFrame(
        [
            {"seed": name, **dict(zip(summary["component"], summary[name], strict=True))}
            for name in ("mean", "std", "t_low", "t_high", "p")
        ]
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    md, csv = RunLayout(out_dir).network_query_split
    atomic_write_text(md, _markdown(split, summary, round0, shared_dir, paper_dir))
    return [md, write_csv(pd.concat([table, stats_rows], ignore_index=True), csv)]


def network_pairs(folders: list[Path]) -> list[tuple[Path, Path]]:
    """(shared, paper) run folders among ``folders`` by their ``protocol.networks``: with one of
    each, the report splits SBC-AL's gain over Random into the network's and the query's part."""
    kinds: dict[str, list[Path]] = {"shared": [], "paper": []}
    for folder in folders:
        config = RunLayout(folder).config
        if config.is_file():
            networks = json.loads(config.read_text()).get("protocol", {}).get("networks", "shared")
            kinds.setdefault(networks, []).append(folder)
    if len(kinds["shared"]) == 1 and len(kinds["paper"]) == 1:
        return [(kinds["shared"][0], kinds["paper"][0])]
    return []
