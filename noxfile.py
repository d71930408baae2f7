"""Nox sessions: tests, lint, benchmarks, reports and perf.

Every session but ``lint`` (ruff only) installs the CPU build of torch first when
``ALSTRATEGIES_TORCH`` names one
(default ``torch==2.13.0``, the wheel these build machines carry); set
``ALSTRATEGIES_TORCH=""`` to let pip resolve the project's own range (``torch>=2.3``).
Extra arguments after ``--`` go to the underlying command (not for ``lint``), e.g.
``nox -s benchmark_synthetic -- --set train.epochs=2``.
"""

from __future__ import annotations

import os
from pathlib import Path

import nox

nox.options.sessions = ["lint", "tests"]
nox.options.reuse_existing_virtualenvs = True

TORCH = os.environ.get("ALSTRATEGIES_TORCH", "torch==2.13.0")


def install(session: nox.Session, extras: str = "dev") -> None:
    if TORCH:
        session.install(TORCH)
    session.install("-e", f".[{extras}]")


@nox.session
def tests(session: nox.Session) -> None:
    """The test suite (what CI runs)."""
    install(session)
    session.run("pytest", "-q", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    """ruff check and format check, and mypy over the package (``[tool.mypy]``)."""
    session.install("ruff", "mypy")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    session.run("mypy")


#: The polynomial decay at 64 x 64, against the paper's step decay: round 0 only (every point is
#: a training of its own).
CALIBRATION_POLY = ["--size", "64", "--schedule", "poly", "--round0", "250", "500", "750", "1000"]
CALIBRATION_POLY += ["--curves", "round0 cold"]

PAPER_TABLES = {  # the SBC-AL paper's Tables 1 and 2, set beside the run's Dice table
    "acdc": "benchmarks/reference/sbcal_miccai2024_acdc.csv",
    "kits19": "benchmarks/reference/sbcal_miccai2024_kits19.csv",
}


def _benchmark(
    session: nox.Session, config: str, out: str, paper: str | None = None, workers: bool = False
) -> None:
    install(session)
    reference = ["--reference", PAPER_TABLES[paper]] if paper else []
    pool = ["--workers", str(os.cpu_count() or 1)] if workers else []  # one 1-thread training per core
    session.run("alstrategies", "run", config, "--out", out, *reference, *pool, *session.posargs)


@nox.session
def benchmark_synthetic(session: nox.Session) -> None:
    """The committed phantom reference: every strategy and control, five seeds, all budgets
    (``synthetic_zoo.toml`` -> results/synthetic; ``make benchmark`` runs the smaller
    ``synthetic.toml`` into runs/ and compares)."""
    _benchmark(session, "benchmarks/configs/synthetic_zoo.toml", "results/synthetic", workers=True)


@nox.session
def benchmark_acdc(session: nox.Session) -> None:
    """The paper protocol on ACDC (GPU work): pass the data with ALSTRATEGIES_ACDC_ROOT or
    ``-- --data PATH``; ``-- --set ...`` shortens it for a CPU check."""
    _benchmark(session, "benchmarks/configs/acdc.toml", "results/acdc", paper="acdc")


@nox.session
def benchmark_acdc_cpu(session: nox.Session) -> None:
    """The real-ACDC CPU study (docs/results.md): every strategy and both controls through every
    budget at 64 x 64, the network/query split and the ASR ablation; resumes from its records.
    Pass the data with ALSTRATEGIES_ACDC_ROOT or ``-- PATH``."""
    install(session)
    session.run("bash", "benchmarks/studies/acdc_cpu.sh", *session.posargs, external=True)


@nox.session
def calibrate_acdc_cpu(session: nox.Session) -> None:
    """The schedule calibration behind acdc_cpu.toml (results/acdc_calibration): Dice against
    iterations at 48 x 48 and 64 x 64 (the paper's step decay), round 0 at 64 x 64 with the
    polynomial decay, and random's chains of the preset with and without its lr cooldown.
    ``-- --data PATH`` (or ALSTRATEGIES_ACDC_ROOT) gives the data."""
    install(session)
    script = ["python", "-m", "benchmarks.calibration.acdc_schedule", *session.posargs]
    session.run(*script, "--size", "48", "--warm", "100", "200", "400", "800", "1200", "1600")
    session.run(*script, "--size", "64")
    session.run(*script, *CALIBRATION_POLY)
    chains = ["--strategies", "random", "--seeds", "0,1,3", "--workers", "2", *session.posargs]
    preset = "benchmarks/configs/acdc_cpu.toml"
    session.run(
        "alstrategies", "run", preset, "--out", "runs/no_cooldown", "--set", "train.cooldown=0", *chains
    )
    session.run("alstrategies", "run", preset, "--out", "runs/cooldown", *chains)
    session.run(*script, "--chains", "runs/no_cooldown", "runs/cooldown")
    session.run(*script, "--plot")


@nox.session
def benchmark_chaos_kidney_cpu(session: nox.Session) -> None:
    """The CHAOS kidney CPU study (docs/results.md): random, the foreground-aware baselines, both
    kinds of control, SBC-AL, ClaSP PE, least confidence and TypiClust through every budget at
    64 x 64, ten seeds; resumes from its records. Pass the data with ``-- PATH`` (the CHAOS T2
    copy, e.g. ../shared/data/CHAOS_T2)."""
    install(session)
    session.run("bash", "benchmarks/studies/chaos_kidney_cpu.sh", *session.posargs, external=True)


@nox.session
def calibrate_chaos_kidney_cpu(session: nox.Session) -> None:
    """The schedule calibration behind chaos_kidney_cpu.toml (results/chaos_calibration): Dice
    against iterations at 64 x 64 and the warm rounds' snapshot noise. ``-- --data PATH``."""
    install(session)
    preset = ["--preset", "benchmarks/configs/chaos_kidney_cpu.toml", "--out", "results/chaos_calibration"]
    schedule = ["python", "-m", "benchmarks.calibration.acdc_schedule", *preset, *session.posargs]
    session.run(*schedule, "--size", "64")
    session.run(*schedule, "--plot")
    noise = ["python", "-m", "benchmarks.calibration.snapshot_noise", *session.posargs]
    noise += ["--preset", "benchmarks/configs/chaos_kidney_cpu.toml", "--full"]
    # acdc_cpu's 50 iterations a round (400 for the 100 % model): restart against linear x 0.3
    fifty = ["--set", "train.iterations=50", "--set", "train.full_iterations=400"]
    session.run(
        *noise,
        *fifty,
        "--out",
        "results/chaos_calibration",
        "--seeds",
        "0",
        "1",
        "2",
        "--schedules",
        "restart",
        "linear_x0.3",
    )
    # the preset's 100 a round (800)
    session.run(
        *noise,
        "--out",
        "results/chaos_calibration/rounds_100",
        "--seeds",
        "0",
        "1",
        "2",
        "3",
        "--schedules",
        "linear_x0.3",
    )


@nox.session
def benchmark_kits19(session: nox.Session) -> None:
    """The paper protocol on KiTS19 (GPU work): pass the data with ALSTRATEGIES_KITS19_ROOT or
    ``-- --data PATH``; ``-- --set ...`` shortens it for a CPU check."""
    _benchmark(session, "benchmarks/configs/kits19.toml", "results/kits19", paper="kits19")


@nox.session
def report(session: nox.Session) -> None:
    """Re-write tables and curves of run folders (default: results/*)."""
    install(session)
    folders = session.posargs or sorted(str(p.parent) for p in Path("results").glob("*/results.csv"))
    if not folders:
        session.error("no run folder with results.csv given or found under results/")
    session.run("alstrategies", "report", *folders)


@nox.session
def perf(session: nox.Session) -> None:
    """Speed benchmarks (pytest-benchmark): ratios against plain-PyTorch references."""
    install(session)
    session.run("pytest", "benchmarks/perf", "--benchmark-only", "-s", *session.posargs)


@nox.session
def mutants(session: nox.Session) -> None:
    """Curated mutation run (not CI): every mutation of benchmarks/mutants/catalogue.py must make
    its tests fail; ``-- --only ID ...``, ``-- --check``, ``-- --list`` (docs/mutants.md)."""
    install(session)
    session.run("python", "benchmarks/mutants/run.py", *session.posargs, env={"OMP_NUM_THREADS": "1"})
