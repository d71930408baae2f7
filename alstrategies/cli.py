"""Command line: ``alstrategies run | prepare | report | status | compare | list | check``.

A user error (any :class:`~alstrategies.errors.AlstrategiesError`: a bad config value, a
missing file, ...) prints one ``alstrategies: error: ...`` line and exits with status 2;
anything else is a bug and propagates with its traceback.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from dataclasses import asdict
from pathlib import Path

from alstrategies import __version__
from alstrategies.config import load_config, names_option, seeds_option, validate
from alstrategies.engine.stopping import exit_status, signal_name, stop_on_signals
from alstrategies.errors import AlstrategiesError, ConfigError, UnitFailed
from alstrategies.report.command import add_reference_arguments, add_report_command, check_reference
from alstrategies.settings import Settings


def _refuse_empty_options(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """An option given an empty value (``--out ""``) is refused: it would silently mean its
    default (``--seeds`` and ``--strategies`` say so themselves, :func:`names_option`)."""
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for action in subparsers.choices[args.command]._actions:
        value = getattr(args, action.dest, None)
        if action.dest in ("seeds", "strategies") or not action.option_strings:
            continue
        if isinstance(value, str) and not value.strip():
            flag = max(action.option_strings, key=len)
            raise ConfigError(f"{flag} is empty: give it a value, or leave it out for its default")


def _add_config_arguments(
    parser: argparse.ArgumentParser,
    data_help: str = "dataset folder (sets data.root; e.g. your ACDC copy)",
    set_help: str = "override a config key, e.g. train.epochs=2 (repeatable)",
) -> None:
    """Add ``--data PATH`` and the repeatable ``--set KEY=VALUE`` (read by :func:`_overrides`)."""
    parser.add_argument("--data", metavar="PATH", help=data_help)
    parser.add_argument("--set", action="append", metavar="KEY=VALUE", help=set_help)


def _overrides(args: argparse.Namespace) -> list[str]:
    """The config overrides of ``--set``, then ``data.root`` from ``--data`` (an absolute path)."""
    overrides = list(args.set or [])
    if args.data:
        overrides.append(f"data.root={str(Path(args.data).expanduser().resolve())!r}")
    return overrides


def _executor(settings: Settings, args: argparse.Namespace):
    """The executor named by ``--executor`` (else ``executor.name``), built from ``[executor]``."""
    from alstrategies.registry import EXECUTORS

    options = asdict(settings.executor)
    name = args.executor or options.pop("name")
    options.pop("name", None)
    if args.workers is not None:
        options["workers"] = args.workers
    if args.ray_address:
        options["ray_address"] = args.ray_address
    return EXECUTORS.get(name)(**options)


def _run_one(
    config: dict,
    out: Path,
    seeds: list[int] | None,
    args: argparse.Namespace,
    executor,
    reference: str | None = None,
):
    """Run one validated config into ``out`` with ``executor`` (from here on only its
    :class:`Settings` travel)."""
    from alstrategies.engine.loop import Experiment
    from alstrategies.report import write_report

    experiment = Experiment(Settings.from_config(config), out, seeds=seeds, progress=not args.quiet)
    results = experiment.run(executor)
    try:
        write_report(
            results,
            out,
            experiment.data.class_names,
            reference=reference,
            reference_source=args.reference_name,
        )
    except KeyboardInterrupt as stop:
        stop.kept = f"every training is recorded in {out}, the report is incomplete"  # type: ignore[attr-defined]
        raise
    return experiment


def _command_run(args: argparse.Namespace) -> int:
    """Every value is checked before anything is written; then the output folder is held
    (:func:`~alstrategies.engine.folder_lock.hold_run_folder`) while the run writes into it."""
    from alstrategies.data import bars
    from alstrategies.engine.folder_lock import hold_run_folder
    from alstrategies.engine.layout import GridLayout, RunLayout
    from alstrategies.grid import check_reuse, expand_grid, is_grid, write_grid_manifest

    bars.set_quiet(args.quiet)
    config = load_config(args.config, _overrides(args))
    strategies = names_option(args.strategies, "--strategies", "random,margin; see `alstrategies list`")
    if strategies:
        config["strategies"]["names"] = strategies
        validate(config)
    seeds = seeds_option(args.seeds)
    if args.reference:  # a bad reference table is reported now, not after the run
        check_reference(args.reference, grid=is_grid(config))
    out = Path(args.out) if args.out else Path("runs") / Path(args.config).stem
    grid = is_grid(config)
    variants = expand_grid(config) if grid else {"": config}
    executors = {name: _executor(Settings.from_config(v), args) for name, v in variants.items()}
    start = time.perf_counter()
    with hold_run_folder(out, grid=grid):
        if grid:
            from alstrategies.report import write_ablation_report

            reused = check_reuse(config, out)
            write_grid_manifest(out, Path(args.config).stem, config)
            for name, variant in variants.items():
                if name in reused:
                    print(f"grid variant {name}: the 100 % models of {reused[name]} (grid.reuse)")
                    continue
                print(f"grid variant {name}")
                _run_one(variant, GridLayout(out).variant(name), seeds, args, executors[name])
            written = write_ablation_report(out, args.reference, args.reference_name)
            print(f"finished in {(time.perf_counter() - start) / 60:.1f} min; grid report:")
            for path in written:
                print(f"  {path}")
            return 0
        _run_one(config, out, seeds, args, executors[""], args.reference)
    minutes = (time.perf_counter() - start) / 60
    layout = RunLayout(out)
    print(f"finished in {minutes:.1f} min; results in {layout.results}")
    print(f"report: {layout.metric_tables('dice')[0]}, {layout.summary}, {layout.learning_curves}")
    return 0


def _command_prepare(args: argparse.Namespace) -> int:
    from alstrategies.data import bars, load_dataset

    bars.set_quiet(args.quiet)

    config = load_config(args.config, _overrides(args))
    data = load_dataset(Settings.from_config(config).data_table(), rebuild=args.rebuild)
    where = data.info.get("cache", "memory (this dataset is generated, not cached on disk)")
    print(f"{data.name}: {data.pool_size} pool slices, {len(data.test_volumes)} test volumes; cache: {where}")
    if data.info.get("cases"):  # the loader's census: cases found, used and skipped
        print(data.info["cases"])
    return 0


def _command_status(args: argparse.Namespace) -> int:
    from alstrategies.status import folder_status_text

    for folder in args.run_dirs:
        text, complete = folder_status_text(folder)
        print(text)
        print("complete" if complete else "not complete: re-run the same command to resume")
    return 0


def _command_compare(args: argparse.Namespace) -> int:
    from alstrategies.compare import compare_results

    comparison = compare_results(args.run_dir, args.reference_dir)
    print(comparison.text)
    return 0 if comparison.identical or not args.strict else 1


def _command_list(args: argparse.Namespace) -> int:
    from alstrategies.registry import listing

    print(listing())
    return 0


def _command_check(args: argparse.Namespace) -> int:
    from alstrategies.conformance.runner import check_command

    return check_command(args.names, args.option, args.heads)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="alstrategies",
        description="Benchmark active-learning query strategies for medical image segmentation.",
    )
    parser.add_argument("--version", action="version", version=f"alstrategies {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="run (or resume) the AL protocol of a config")
    run.add_argument("config", help="TOML config, e.g. benchmarks/configs/synthetic.toml")
    run.add_argument("--out", help="run folder (default runs/<config name>); re-running resumes it")
    run.add_argument("--strategies", help="comma-separated strategy names (default: the config's, else all)")
    run.add_argument("--seeds", help="comma-separated seeds (default: protocol.seeds)")
    _add_config_arguments(run)
    run.add_argument(
        "--executor",
        help="where units run: local (default; this process or --workers processes) or ray",
    )
    run.add_argument("--workers", type=int, help="local executor: parallel worker processes (CPU)")
    run.add_argument(
        "--ray-address", help="ray executor: join this cluster (e.g. HEAD:6379) instead of a local Ray"
    )
    run.add_argument("--quiet", action="store_true", help="no progress bars")
    add_reference_arguments(run)
    run.set_defaults(handler=_command_run)

    prepare = commands.add_parser("prepare", help="decode and resample a dataset once into the on-disk cache")
    prepare.add_argument("config", help="TOML config naming the dataset")
    _add_config_arguments(prepare, "dataset folder (sets data.root)", "override a config key")
    prepare.add_argument("--rebuild", action="store_true", help="re-decode even if a cache entry exists")
    prepare.add_argument("--quiet", action="store_true", help="no progress bars")
    prepare.set_defaults(handler=_command_prepare)

    add_report_command(commands)

    status = commands.add_parser("status", help="rounds recorded per strategy and seed in run folders")
    status.add_argument("run_dirs", nargs="+", help="run folders")
    status.set_defaults(handler=_command_status)

    compare = commands.add_parser(
        "compare",
        help="compare a run's results.csv with a reference run's (e.g. results/synthetic), "
        "row by (strategy, seed, round)",
    )
    compare.add_argument("run_dir", help="the run folder to check")
    compare.add_argument("reference_dir", help="the reference run folder")
    compare.add_argument(
        "--strict",
        action="store_true",
        help="exit 1 unless every row both runs have is identical (and there is one)",
    )
    compare.set_defaults(handler=_command_compare)

    listing = commands.add_parser("list", help="show the registered strategies, datasets and models")
    listing.set_defaults(handler=_command_list)

    check = commands.add_parser(
        "check", help="run the conformance checks of the query contract on strategies (exit 1 on a failure)"
    )
    check.add_argument(
        "names", nargs="+", metavar="NAME", help="a registered strategy name or a module:Class path"
    )
    check.add_argument(
        "--option",
        action="append",
        metavar="KEY=VALUE",
        help="keyword option, e.g. passes=2 (repeatable; given to every NAME that takes it)",
    )
    check.add_argument(
        "--heads",
        choices=["plain", "sbc"],
        help="check with these model heads only (default: the strategy's required_heads, else both)",
    )
    check.set_defaults(handler=_command_check)
    return parser


def is_user_error(error: BaseException) -> bool:
    """Whether ``error`` is the user's to fix (printed as one line) rather than a bug.

    That is an :class:`AlstrategiesError`, except a :class:`UnitFailed` whose worker error is
    not one: a bug in a worker keeps its traceback (chained as the cause).
    """
    if isinstance(error, UnitFailed):
        return isinstance(error.__cause__, AlstrategiesError)
    return isinstance(error, AlstrategiesError)


def main(argv: list[str] | None = None) -> int:
    """Run the command of ``argv``; its exit status (2 for a user error, 130 or 143 when stopped
    by SIGINT or SIGTERM, :mod:`alstrategies.engine.stopping`)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    with stop_on_signals():  # held while the stop is reported: a second signal ends at once
        try:
            _refuse_empty_options(parser, args)
            return args.handler(args)
        except KeyboardInterrupt as stop:  # Ctrl-C, SIGINT or SIGTERM: one line, no traceback
            if args.handler is _command_prepare:
                kept = "no cache entry was written"
            else:
                kept = getattr(stop, "kept", "finished trainings are recorded")
            resume = shlex.join(["alstrategies", *(sys.argv[1:] if argv is None else argv)])
            print(
                f"alstrategies: interrupted by {signal_name(stop)}; {kept}; to resume: {resume}",
                file=sys.stderr,
            )
            return exit_status(stop)
        except AlstrategiesError as error:
            if not is_user_error(error):
                raise
            message = str(error.args[0]) if isinstance(error, KeyError) and error.args else str(error)
            print(f"alstrategies: error: {message}", file=sys.stderr)
            return 2


if __name__ == "__main__":
    sys.exit(main())
