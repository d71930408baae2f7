"""The ``alstrategies report`` command: its arguments and its handler.

``report RUN_DIR ...`` rewrites the report of each run folder (``results.csv``) or ablation grid
(``grid.json``) from its records. ``--budgets`` and ``--strategies`` trim the tables and
figures of a run folder (:mod:`alstrategies.report.selection`), and ``--latex-layout`` shapes
its ``.tex`` tables (:mod:`alstrategies.report.latex`); every value is checked before a file is
written.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pandas as pd

from alstrategies.config import names_option
from alstrategies.errors import ConfigError, MissingFileError, RecordError
from alstrategies.report.latex import DEFAULT_LATEX_LAYOUT, LATEX_LAYOUTS

__all__ = ["add_reference_arguments", "add_report_command", "check_reference", "command_report"]


def add_reference_arguments(parser: argparse.ArgumentParser) -> None:
    """``--reference CSV`` and ``--reference-name`` (published values beside the Dice table)."""
    parser.add_argument(
        "--reference",
        metavar="CSV",
        help="published Dice values to set beside this run's table (reference_comparison.*), "
        "e.g. benchmarks/reference/sbcal_miccai2024_acdc.csv",
    )
    parser.add_argument(
        "--reference-name", default="paper", help="label of the reference rows (default paper)"
    )


def check_reference(path: str, grid: bool) -> None:
    """Read the ``--reference`` table now: an ablation reference for a grid, else a budget one."""
    if grid:
        from alstrategies.report.ablation_reference import load_ablation_reference

        load_ablation_reference(path)
    else:
        from alstrategies.report.reference import load_reference

        load_reference(path)


def add_report_command(commands: argparse._SubParsersAction) -> None:
    """Add the ``report`` sub-command to ``commands``."""
    report = commands.add_parser(
        "report", help="write tables, curves, statistics and figures of finished runs (see docs/reports.md)"
    )
    report.add_argument("run_dirs", nargs="+", help="run folders (results.csv) or ablation grids (grid.json)")
    report.add_argument(
        "--test",
        choices=["ttest", "wilcoxon"],
        default="ttest",
        help="paired test of summary.md (default ttest)",
    )
    report.add_argument(
        "--alpha", type=float, default=0.05, help="significance level after Holm (default 0.05)"
    )
    report.add_argument(
        "--pairing",
        choices=["seed", "seed_budget"],
        default="seed",
        help="pair by seed on the AULC (default) or by (seed, budget) on the Dice",
    )
    report.add_argument(
        "--budget", help="budget of the qualitative figures, e.g. 0.2 or 20%% (default: middle)"
    )
    report.add_argument("--seed", type=int, default=0, help="seed of the qualitative figures (default 0)")
    report.add_argument(
        "--slices", type=int, default=4, help="test slices in the qualitative figures (default 4)"
    )
    report.add_argument(
        "--budgets",
        help="comma-separated budget columns of the tables, e.g. 10%%,20%%,40%% or 0.1,0.2 (default: all)",
    )
    report.add_argument(
        "--strategies",
        help="comma-separated strategies of the tables and figures, in this order (default: all; "
        "the statistics of summary.md stay over all)",
    )
    report.add_argument(
        "--latex-layout",
        choices=LATEX_LAYOUTS,
        default=DEFAULT_LATEX_LAYOUT,
        help=f"shape of the .tex tables (default {DEFAULT_LATEX_LAYOUT}: tables of at most a column's width)",
    )
    add_reference_arguments(report)
    report.set_defaults(handler=command_report)


def _read_results(folder: Path) -> pd.DataFrame:
    """The ``results.csv`` of run folder ``folder``, or one line saying what is wrong."""
    from alstrategies.engine.layout import GridLayout, RunLayout

    path = RunLayout(folder).results
    if not path.is_file():
        raise MissingFileError(
            f"{path} not found: point `alstrategies report` at a run folder ({path.name}) "
            f"or a grid folder ({GridLayout(folder).manifest.name})"
        )
    try:
        return pd.read_csv(path)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as error:
        raise RecordError(f"{path} is not a readable results table ({error})") from None


def command_report(args: argparse.Namespace) -> int:
    """Write the report of every folder of ``args.run_dirs``, then the network/query split of
    the pairs among them (:func:`~alstrategies.report.decomposition.network_pairs`)."""
    from alstrategies.engine.layout import GridLayout
    from alstrategies.engine.records import class_names_of
    from alstrategies.report import write_ablation_report, write_report
    from alstrategies.report.decomposition import network_pairs, write_network_query_split

    budgets = names_option(args.budgets, "--budgets", "10%,20%,40%")
    strategies = names_option(args.strategies, "--strategies", "random,sbc_al")
    folders = [Path(p) for p in args.run_dirs]
    grids = [folder for folder in folders if GridLayout(folder).manifest.is_file()]
    if grids and (budgets or strategies or args.latex_layout != DEFAULT_LATEX_LAYOUT):
        raise ConfigError(
            f"{grids[0]} is an ablation grid: --budgets, --strategies and --latex-layout trim run "
            "folders only; leave them out for a grid"
        )
    for folder in folders:
        if folder in grids:
            if args.reference:
                check_reference(args.reference, grid=True)
            written = write_ablation_report(folder, args.reference, args.reference_name)
        else:
            results = _read_results(folder)
            written = write_report(
                results,
                folder,
                class_names_of(results),
                test=args.test,
                alpha=args.alpha,
                pairing=args.pairing,
                budget=args.budget,
                seed=args.seed,
                max_slices=args.slices,
                reference=args.reference,
                reference_source=args.reference_name,
                budgets=budgets,
                strategies=strategies,
                latex_layout=args.latex_layout,
            )
        for item in written:
            print(item)
        for note in getattr(written, "notes", []):
            print(f"note: {note}")
    for shared, paper in network_pairs(folders):
        for item in write_network_query_split(shared, paper, paper):
            print(item)
    return 0
