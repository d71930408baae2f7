"""Command line: ``alstrategies run | report | list``."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import pandas as pd

from alstrategies.config import ConfigError, load_config


def _split(text: str | None) -> list[str] | None:
    return None if text is None else [part.strip() for part in text.split(",") if part.strip()]


def _command_run(args: argparse.Namespace) -> int:
    from alstrategies.loop import Experiment
    from alstrategies.records import RunLayout
    from alstrategies.report import write_report

    overrides = list(args.set or [])
    if args.data:
        overrides.append(f"data.root={str(Path(args.data).expanduser().resolve())!r}")
    config = load_config(args.config, overrides)
    strategies = _split(args.strategies)
    if strategies:
        config["strategies"]["names"] = strategies
        from alstrategies.config import validate

        validate(config)
    seeds = [int(s) for s in _split(args.seeds)] if args.seeds else None
    out = Path(args.out) if args.out else Path("runs") / Path(args.config).stem
    start = time.perf_counter()
    experiment = Experiment(config, out, seeds=seeds, progress=not args.quiet)
    results = experiment.run()
    write_report(results, out, experiment.data.class_names)
    minutes = (time.perf_counter() - start) / 60
    print(f"finished in {minutes:.1f} min; results in {RunLayout(out).results}")
    print(f"report: {out / 'dice_table.md'}, {out / 'learning_curves.png'}")
    return 0


def _command_prepare(args: argparse.Namespace) -> int:
    from alstrategies.data import load_dataset

    overrides = list(args.set or [])
    if args.data:
        overrides.append(f"data.root={str(Path(args.data).expanduser().resolve())!r}")
    config = load_config(args.config, overrides)
    data = load_dataset(config["data"], rebuild=args.rebuild)
    where = data.info.get("cache", "memory (this dataset is generated, not cached on disk)")
    print(f"{data.name}: {data.pool_size} pool slices, {len(data.test_volumes)} test volumes; cache: {where}")
    return 0


def _command_report(args: argparse.Namespace) -> int:
    from alstrategies.report import write_report

    for folder in args.run_dirs:
        path = Path(folder) / "results.csv"
        if not path.is_file():
            raise ConfigError(f"{path} not found: point `alstrategies report` at a run folder")
        results = pd.read_csv(path)
        class_names = [c.removeprefix("dice_") for c in results.columns if c.startswith("dice_")]
        for written in write_report(results, folder, class_names):
            print(written)
    return 0


def _command_list(args: argparse.Namespace) -> int:
    from alstrategies import data, models  # noqa: F401  (registers built-ins)
    from alstrategies.registry import DATASETS, MODELS, STRATEGIES

    for title, registry in (("strategies", STRATEGIES), ("datasets", DATASETS), ("models", MODELS)):
        print(f"{title}:")
        for name, doc in registry.describe().items():
            print(f"  {name:<18} {doc}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="alstrategies",
        description="Benchmark active-learning query strategies for medical image segmentation.",
    )
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="run (or resume) the AL protocol of a config")
    run.add_argument("config", help="TOML config, e.g. benchmarks/configs/synthetic.toml")
    run.add_argument("--out", help="run folder (default runs/<config name>); re-running resumes it")
    run.add_argument("--strategies", help="comma-separated strategy names (default: the config's, else all)")
    run.add_argument("--seeds", help="comma-separated seeds (default: protocol.seeds)")
    run.add_argument("--data", metavar="PATH", help="dataset folder (sets data.root; e.g. your ACDC copy)")
    run.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        help="override a config key, e.g. train.epochs=2 (repeatable)",
    )
    run.add_argument("--quiet", action="store_true", help="no progress bars")
    run.set_defaults(handler=_command_run)

    prepare = commands.add_parser("prepare", help="decode and resample a dataset once into the on-disk cache")
    prepare.add_argument("config", help="TOML config naming the dataset")
    prepare.add_argument("--data", metavar="PATH", help="dataset folder (sets data.root)")
    prepare.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a config key")
    prepare.add_argument("--rebuild", action="store_true", help="re-decode even if a cache entry exists")
    prepare.set_defaults(handler=_command_prepare)

    report = commands.add_parser("report", help="write tables and learning curves of finished runs")
    report.add_argument("run_dirs", nargs="+", help="run folders containing results.csv")
    report.set_defaults(handler=_command_report)

    listing = commands.add_parser("list", help="show the registered strategies, datasets and models")
    listing.set_defaults(handler=_command_list)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except (ConfigError, ValueError, KeyError, RuntimeError, FileNotFoundError) as error:
        message = str(error.args[0]) if isinstance(error, KeyError) and error.args else str(error)
        print(f"alstrategies: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
