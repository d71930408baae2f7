"""SBC-AL's gain over Random, split into the network's part and the query's part.

Two runs of the same protocol and seeds: ``shared`` (every strategy trains SBCNet) and ``paper``
(the baselines train the plain U-Net, SBC-AL its SBCNet). With ``A(run, strategy)`` the
normalised AULC of one seed (:func:`alstrategies.report.statistics.per_seed_aulc`), per seed:

* ``total   = A(paper, sbc_al)  - A(paper, random)``   the gain the paper's setting reports
* ``query   = A(shared, sbc_al) - A(shared, random)``  same network, different query
* ``network = A(shared, random) - A(paper, random)``   same query, SBCNet instead of the U-Net
* ``residual = total - query - network = A(paper, sbc_al) - A(shared, sbc_al)``: zero when
  SBC-AL's chains of the two runs coincide (it trains SBCNet in both), else their noise.

Seeds are paired across the runs; the AULC uses the AL budgets both runs have for every chain.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from alstrategies.errors import RecordError
from alstrategies.report.io import atomic_write_text, write_csv
from alstrategies.report.statistics import common_budgets, per_seed_aulc

__all__ = ["COMPONENTS", "network_query_split", "split_summary", "write_network_query_split"]

COMPONENTS = ("total", "query", "network", "residual")
SBC_AL, RANDOM = "sbc_al", "random"


def _aulc(results: pd.DataFrame, budgets: list[float], name: str) -> pd.DataFrame:
    frame = results[results["strategy"].isin([SBC_AL, RANDOM])]
    for strategy in (SBC_AL, RANDOM):
        if strategy not in set(frame["strategy"]):
            raise RecordError(f"the {name} run has no {strategy!r} rows: cannot split SBC-AL's gain")
    aulc = per_seed_aulc(frame, budgets=budgets)
    return aulc.pivot_table(index="seed", columns="strategy", values="aulc")


def network_query_split(shared: pd.DataFrame, paper: pd.DataFrame, metric: str = "dice") -> pd.DataFrame:
    """Per seed both runs have: ``seed`` and the AULC differences :data:`COMPONENTS` (fractions,
    as the metric). Raises :class:`RecordError` when a run lacks sbc_al or random, or the runs
    share no budget or seed."""
    pair = [frame[frame["strategy"].isin([SBC_AL, RANDOM])] for frame in (shared, paper)]
    budgets = sorted(set(common_budgets(pair[0], metric)) & set(common_budgets(pair[1], metric)))
    if not budgets:
        raise RecordError("the shared and the paper run have no AL budget in common")
    a_shared = _aulc(shared, budgets, "shared")
    a_paper = _aulc(paper, budgets, "paper")
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
    frame["residual"] = frame["total"] - frame["query"] - frame["network"]
    return frame


def split_summary(split: pd.DataFrame) -> pd.DataFrame:
    """Per component: ``mean``, ``std`` (ddof 1; 0 for one seed) and ``n_seeds``."""
    rows = []
    for component in COMPONENTS:
        values = split[component].to_numpy(dtype=float)
        std = float(values.std(ddof=1)) if values.size > 1 else 0.0
        rows.append(
            {"component": component, "mean": float(values.mean()), "std": std, "n_seeds": values.size}
        )
    return pd.DataFrame(rows)


def _markdown(split: pd.DataFrame, summary: pd.DataFrame, shared_dir: Path, paper_dir: Path) -> str:
    meaning = {
        "total": "AULC(sbc_al) − AULC(random), paper run",
        "query": "AULC(sbc_al) − AULC(random), shared run (same network)",
        "network": "AULC(random, shared: SBCNet) − AULC(random, paper: U-Net) (same query)",
        "residual": "total − query − network = AULC(sbc_al, paper) − AULC(sbc_al, shared)",
    }
    seeds = split["seed"].tolist()
    lines = [
        "# SBC-AL's gain over Random: network and query",
        "",
        f"Shared run: `{shared_dir}`; paper run: `{paper_dir}`. Normalised AULC of the mean Dice per "
        "seed, paired by seed; differences in percentage points, mean ± sample std over the seeds.",
        "",
        "| part | definition | mean ± std (pp) | " + " | ".join(f"seed {s}" for s in seeds) + " |",
        "|---|---|---|" + "---|" * len(seeds),
    ]
    for row in summary.itertuples(index=False):
        cells = " | ".join(f"{100 * v:.2f}" for v in split[row.component])
        lines.append(
            f"| {row.component} | {meaning[row.component]} | {100 * row.mean:.2f} ± {100 * row.std:.2f} | {cells} |"
        )
    return "\n".join(lines) + "\n"


def write_network_query_split(
    shared_dir: str | Path, paper_dir: str | Path, out_dir: str | Path, metric: str = "dice"
) -> list[Path]:
    """Read both runs' ``results.csv``, write ``network_query_split.md`` and ``.csv`` (one row
    per seed, then a ``mean`` and a ``std`` row) into ``out_dir``; returns their paths."""
    shared_dir, paper_dir, out_dir = Path(shared_dir), Path(paper_dir), Path(out_dir)
    frames = []
    for folder in (shared_dir, paper_dir):
        path = folder / "results.csv"
        if not path.is_file():
            raise RecordError(f"{path} not found: both runs need a results.csv")
        frames.append(pd.read_csv(path))
    split = network_query_split(*frames, metric=metric)
    summary = split_summary(split)
    table = split.astype({"seed": object})
    stats_rows = pd.DataFrame(
        [
            {"seed": "mean", **dict(zip(summary["component"], summary["mean"], strict=True))},
            {"seed": "std", **dict(zip(summary["component"], summary["std"], strict=True))},
        ]
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    md = out_dir / "network_query_split.md"
    atomic_write_text(md, _markdown(split, summary, shared_dir, paper_dir))
    csv = write_csv(pd.concat([table, stats_rows], ignore_index=True), out_dir / "network_query_split.csv")
    return [md, csv]


def network_pairs(folders: list[Path]) -> list[tuple[Path, Path]]:
    """(shared, paper) run folders among ``folders`` by their ``protocol.networks``: with one of
    each, the report splits SBC-AL's gain over Random into the network's and the query's part."""
    kinds: dict[str, list[Path]] = {"shared": [], "paper": []}
    for folder in folders:
        config = folder / "config.json"
        if config.is_file():
            networks = json.loads(config.read_text()).get("protocol", {}).get("networks", "shared")
            kinds.setdefault(networks, []).append(folder)
    if len(kinds["shared"]) == 1 and len(kinds["paper"]) == 1:
        return [(kinds["shared"][0], kinds["paper"][0])]
    return []
