"""Where every file of a run folder lies: the only code that knows the paths.

Layout of a run folder::

    config.json                          the resolved config that defines the results
    dataset.json                         what the data are (not where): checked on resume
    data_fingerprint.json                their content (labels' SHA-256, images' slice
                                         moments): checked on resume
    run.log                              progress and events, appended by every process
    run.lock                             held (flock) by the invocation that runs into the
                                         folder: its PID and host; removed when it ends
    plan.json                            the trainings every invocation planned, for `status`
    pool.csv                             per pool slice: its volume, slice index, the volume's
                                         slice count and whether its true label holds foreground
    shared/seed<S>/round0.json           the round-0 model, shared by every strategy
    shared/seed<S>/full.json             the 100 % model of seed S
    shared/seed<S>/round0_<net>.json     with protocol.networks = "paper": one per network
    strategies/<name>/seed<S>/round<R>.json
    checkpoints/                         model weights needed to resume (never committed)
    snapshots/<name>/seed<S>/round<R>.npz predictions on a few test slices (qualitative figures)
    results.csv                          one row per (strategy, seed, round): metrics only, so
                                         the same config gives a byte-identical file
    timings.csv                          the same rows with train/query/eval seconds
    report.incomplete                    present while the report is being written (a report
                                         that was interrupted leaves it: `status` says so)

``alstrategies report`` writes its files into the run folder (or any folder it is given, laid
out the same): ``<metric>_table.{md,tex,csv}``, ``learning_curves.{png,pdf}``, ``summary.md``
and the statistics beside it, the qualitative figures, the reference comparison and, for a
shared and a paper run, ``network_query_split.{md,csv}``. An ablation grid folder
(:class:`GridLayout`) holds ``grid.json``, one run folder per variant and the ablation tables.

:meth:`RunLayout.parse` reads a record or snapshot path back into its :class:`RecordKey`, so
``status`` and the report never take paths apart themselves. No other module of the package
spells one of these names (``tests/engine/test_layout_ownership.py``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

_STRATEGY_PATH = re.compile(r"^(strategies|snapshots)/([^/]+)/seed(-?\d+)/round(\d+)\.(json|npz)$")
_SHARED_PATH = re.compile(r"^shared/seed(-?\d+)/(round0|full)(?:_([a-z0-9]+))?\.json$")


@dataclass(frozen=True)
class RecordKey:
    """What a record (or snapshot) path stands for.

    ``strategy`` is empty for the shared models, whose ``which`` is ``"round0"`` or ``"full"``
    and whose ``network`` is empty with ``protocol.networks = "shared"`` (one network) or the
    network's heads (``"plain"``, ``"sbc"``) with ``"paper"``; a strategy's round has
    ``which = "round"`` and its ``round``.
    """

    seed: int
    which: str
    strategy: str = ""
    round: int = 0
    network: str = ""


class RunLayout:
    """Paths inside one run folder (and of the report files written into it)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    @property
    def config(self) -> Path:
        return self.root / "config.json"

    @property
    def dataset(self) -> Path:
        return self.root / "dataset.json"

    @property
    def data_fingerprint(self) -> Path:
        """The content of the data (:mod:`alstrategies.engine.data_fingerprint`)."""
        return self.root / "data_fingerprint.json"

    @property
    def plan(self) -> Path:
        """The trainings every invocation planned, and their costs (``alstrategies status``)."""
        return self.root / "plan.json"

    @property
    def pool_table(self) -> Path:
        """Per pool slice: ``index, volume, slice, slices_in_volume, foreground`` (the report's
        batch diagnostics read it)."""
        return self.root / "pool.csv"

    @property
    def results(self) -> Path:
        return self.root / "results.csv"

    @property
    def timings(self) -> Path:
        return self.root / "timings.csv"

    @property
    def log(self) -> Path:
        return self.root / "run.log"

    @property
    def lock(self) -> Path:
        """Locked by the invocation running into this folder (:mod:`alstrategies.engine.folder_lock`)."""
        return self.root / "run.lock"

    @property
    def shared_dir(self) -> Path:
        return self.root / "shared"

    @property
    def strategies_dir(self) -> Path:
        return self.root / "strategies"

    @property
    def snapshots_dir(self) -> Path:
        return self.root / "snapshots"

    @property
    def checkpoints_dir(self) -> Path:
        return self.root / "checkpoints"

    def snapshot(self, name: str, seed: int, round_index: int) -> Path:
        return self.snapshots_dir / name / f"seed{seed}" / f"round{round_index}.npz"

    def shared_seed_dir(self, seed: int) -> Path:
        """``shared/seed<S>``: the shared models of seed ``seed``."""
        return self.shared_dir / f"seed{seed}"

    def shared(self, seed: int, which: str, network: str = "") -> Path:
        """The record of seed ``seed``'s ``round0`` or ``full`` model (of ``network``, when the
        run trains one network per strategy family)."""
        suffix = f"_{network}" if network else ""
        return self.shared_seed_dir(seed) / f"{which}{suffix}.json"

    def strategy_round(self, name: str, seed: int, round_index: int) -> Path:
        return self.strategies_dir / name / f"seed{seed}" / f"round{round_index}.json"

    def checkpoint(self, *parts: str | int) -> Path:
        return self.checkpoints_dir / ("_".join(str(p) for p in parts) + ".pt")

    def round0_checkpoint(self, seed: int, network: str = "") -> Path:
        return self.checkpoint("seed", seed, f"round0_{network}" if network else "round0")

    def round_checkpoint(self, name: str, seed: int, round_index: int) -> Path:
        return self.checkpoint(name, "seed", seed, f"round{round_index}")

    def strategy_records(self, seed: int | None = None) -> list[Path]:
        """Every strategy-round record (of one seed when given), sorted."""
        pattern = f"*/seed{seed}/round*.json" if seed is not None else "*/seed*/round*.json"
        return sorted(p for p in self.strategies_dir.glob(pattern) if self.parse(p) is not None)

    def shared_files(self, seed: int | None = None) -> list[Path]:
        """Every ``.json`` file in ``shared/seed*/`` (in ``shared/seed<S>/`` when ``seed`` is
        given), sorted; :meth:`parse` tells the records among them."""
        if seed is None:
            return sorted(self.shared_dir.glob("seed*/*.json"))
        return sorted(self.shared_seed_dir(seed).glob("*.json"))

    def shared_seeds(self) -> list[int]:
        """The seeds with a ``shared/seed<S>`` folder."""
        seeds = set()
        for folder in self.shared_dir.glob("seed*"):
            suffix = folder.name.removeprefix("seed")
            if folder.is_dir() and suffix.lstrip("-").isdigit():
                seeds.add(int(suffix))
        return sorted(seeds)

    def snapshot_files(self) -> list[Path]:
        return sorted(p for p in self.snapshots_dir.glob("*/seed*/round*.npz") if self.parse(p) is not None)

    def parse(self, path: str | Path) -> RecordKey | None:
        """The :class:`RecordKey` of a record or snapshot path in this folder; None for any
        other path."""
        path = Path(path)
        relative = path.as_posix()
        for base in (self.root, self.root.absolute()):
            try:
                relative = path.relative_to(base).as_posix()
                break
            except ValueError:
                continue
        match = _STRATEGY_PATH.match(relative)
        if match:
            return RecordKey(int(match[3]), "round", match[2], int(match[4]))
        match = _SHARED_PATH.match(relative)
        if match:
            return RecordKey(int(match[1]), match[2], network=match[3] or "")
        return None

    # -- the report's files (``alstrategies report``; docs/reports.md) ------------------------
    def metric_tables(self, metric: str) -> tuple[Path, Path, Path]:
        """``<metric>_table.md``, ``.tex`` and ``.csv``: the budget tables of one metric."""
        stem = f"{metric}_table"
        return self.root / f"{stem}.md", self.root / f"{stem}.tex", self.root / f"{stem}.csv"

    @property
    def learning_curves(self) -> Path:
        """The learning-curve figure (a ``.pdf`` copy beside it)."""
        return self.root / "learning_curves.png"

    @property
    def summary(self) -> Path:
        return self.root / "summary.md"

    @property
    def report_incomplete(self) -> Path:
        """The marker a report writes first and removes last."""
        return self.root / "report.incomplete"

    @property
    def penalty_matrix(self) -> tuple[Path, Path]:
        """The pairwise penalty matrix: its table and its figure."""
        return self.root / "penalty_matrix.csv", self.root / "penalty_matrix.png"

    @property
    def aulc_vs_random(self) -> Path:
        return self.root / "aulc_vs_random.csv"

    @property
    def difference_to_random(self) -> tuple[Path, Path, Path]:
        """The per-budget difference to Random: its table and its figure (``.png``, ``.pdf``)."""
        return (
            self.root / "difference_to_random.csv",
            self.root / "difference_to_random.png",
            self.root / "difference_to_random.pdf",
        )

    @property
    def batch_diagnostics(self) -> Path:
        return self.root / "batch_diagnostics.csv"

    @property
    def score_error(self) -> tuple[Path, Path]:
        """The score-error correlation per round: its table and its figure."""
        return self.root / "score_error.csv", self.root / "score_error.png"

    @property
    def reference_comparison(self) -> tuple[Path, Path, Path]:
        """The budget table beside published values: ``.md``, ``.tex``, ``.csv``."""
        return (
            self.root / "reference_comparison.md",
            self.root / "reference_comparison.tex",
            self.root / "reference_comparison.csv",
        )

    @property
    def reference_aulc(self) -> Path:
        return self.root / "reference_aulc.csv"

    @property
    def qualitative(self) -> Path:
        return self.root / "qualitative.png"

    @property
    def sbcal_outputs(self) -> Path:
        return self.root / "sbcal_outputs.png"

    @property
    def network_query_split(self) -> tuple[Path, Path]:
        """SBC-AL's gain split into the network's and the query's part: ``.md`` and ``.csv``."""
        return self.root / "network_query_split.md", self.root / "network_query_split.csv"


class GridLayout:
    """Paths inside an ablation grid folder: ``grid.json``, one run folder per variant
    (``<variant>/``, or another run folder that ``grid.json`` names) and the ablation tables."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    @property
    def manifest(self) -> Path:
        """``grid.json``: the variants, the budget and the layout of the ablation table."""
        return self.root / "grid.json"

    def variant(self, name: str, folder: str | None = None) -> Path:
        """The run folder of variant ``name``: ``<name>/``, or ``folder`` (a path from the grid
        folder) for a variant reused from another run."""
        return self.root / (folder if folder is not None else name)

    @property
    def ablation_table(self) -> tuple[Path, Path, Path]:
        """The ablation table: ``.md``, ``.tex``, ``.csv``."""
        return (
            self.root / "ablation_table.md",
            self.root / "ablation_table.tex",
            self.root / "ablation_table.csv",
        )

    @property
    def ablation_pairs(self) -> Path:
        return self.root / "ablation_pairs.csv"

    @property
    def ablation_reference(self) -> tuple[Path, Path]:
        """The ablation table beside published values: ``.md`` and ``.csv``."""
        return self.root / "ablation_reference.md", self.root / "ablation_reference.csv"
