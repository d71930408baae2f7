"""Mutation runner: apply each curated mutation to a copy of the repository and run its tests.

Usage::

    python benchmarks/mutants/run.py                 # every mutation of catalogue.py
    python benchmarks/mutants/run.py --only ID ...   # some of them
    python benchmarks/mutants/run.py --list          # ids, files and tests; runs nothing
    python benchmarks/mutants/run.py --check         # only whether each old text still matches

For every mutation the tracked and untracked (not ignored) files of the repository, less
``.venv``, ``.git``, ``results`` and ``runs``, are copied to a temporary folder; the mutation's
``old`` text must occur exactly once in its file (otherwise the mutation is STALE, never
skipped); pytest runs the named tests in that copy with ``PYTHONPATH=<copy>`` and
``-x -q -p no:cacheprovider``. Per mutation one line: CAUGHT (the tests failed), SURVIVED (they
passed), STALE (the old text is gone or ambiguous) or ERROR (pytest could not run the tests, ran
none, or timed out); then a summary line. The exit status is 0 only when every mutation was
caught. See docs/mutants.md.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXCLUDED = (".venv", ".git", "results", "runs", ".nox")
PYTEST_FLAGS = ("-x", "-q", "-p", "no:cacheprovider")


def _load_catalogue():
    """The ``MUTATIONS`` of ``catalogue.py`` next to this script (importable without a package)."""
    spec = importlib.util.spec_from_file_location(
        "_mutant_catalogue", Path(__file__).with_name("catalogue.py")
    )
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    sys.modules[spec.name] = module  # dataclasses look the module up while building the class
    spec.loader.exec_module(module)
    return module.MUTATIONS


@dataclass
class Outcome:
    """What happened to one mutation."""

    id: str
    status: str  # CAUGHT, SURVIVED, STALE or ERROR
    detail: str
    seconds: float


def source_files(root: Path) -> list[Path]:
    """Tracked and untracked, not ignored files under ``root`` (relative), without the excluded
    top-level folders; a walk of the tree when git is not available."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
            cwd=root,
            check=True,
            capture_output=True,
        ).stdout.decode()
        names = [Path(name) for name in listed.split("\0") if name]
    except (OSError, subprocess.CalledProcessError):
        names = [
            path.relative_to(root)
            for path in root.rglob("*")
            if path.is_file() and "__pycache__" not in path.parts
        ]
    return sorted(
        name
        for name in set(names)
        if name.parts and name.parts[0] not in EXCLUDED and (root / name).is_file()
    )


def copy_tree(root: Path, files: list[Path], target: Path) -> None:
    """Copy ``files`` (relative to ``root``) into ``target``; a file removed meanwhile is left out."""
    for name in files:
        destination = target / name
        destination.parent.mkdir(parents=True, exist_ok=True)
        try:
            shutil.copy2(root / name, destination)
        except FileNotFoundError:
            continue


def apply(mutation, copy: Path) -> str | None:
    """Apply ``mutation`` in ``copy``; the reason it is stale, or None when applied."""
    path = copy / mutation.path
    if not path.is_file():
        return f"{mutation.path} does not exist"
    text = path.read_text()
    count = text.count(mutation.old)
    if count != 1:
        return f"old text found {count} times in {mutation.path} (must be exactly once)"
    path.write_text(text.replace(mutation.old, mutation.new))
    return None


def pytest_command(python: str, mutation) -> list[str]:
    command = [python, "-m", "pytest", *PYTEST_FLAGS, *mutation.tests]
    if mutation.select:
        command += ["-k", mutation.select]
    return command


def environment(copy: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(copy), *filter(None, [env.get("PYTHONPATH")])])
    env.setdefault("OMP_NUM_THREADS", "1")
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return env


def check_isolation(python: str, copy: Path) -> None:
    """Refuse to run when ``alstrategies`` would be imported from anywhere but the copy."""
    found = subprocess.run(
        [
            python,
            "-c",
            "import alstrategies.baselines as b; print(b.__file__); print(b.__file__)",
        ],
        cwd=copy,
        env=environment(copy),
        capture_output=True,
        text=True,
    )
    paths = found.stdout.split()
    if (
        found.returncode != 0
        or len(paths) != 2
        or not all(Path(p).resolve().is_relative_to(copy) for p in paths)
    ):
        raise SystemExit(
            f"mutants: the copy's packages are not the ones imported: {found.stdout}{found.stderr}"
        )


def _failure(output: str) -> str:
    failed = re.findall(r"^(?:FAILED|ERROR) (\S+)", output, flags=re.MULTILINE)
    if failed:
        return failed[0]
    lines = [line for line in output.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "(no output)"


def run_one(mutation, python: str, timeout: float, keep: bool, clean: bool = False) -> Outcome:
    """Copy the repository as it is now, mutate it (unless ``clean``), run the mutation's tests
    and classify the result."""
    start = time.perf_counter()
    folder = Path(tempfile.mkdtemp(prefix=f"mutant-{mutation.id}-"))
    try:
        copy_tree(ROOT, source_files(ROOT), folder)
        if not clean:
            stale = apply(mutation, folder)
            if stale is not None:
                return Outcome(mutation.id, "STALE", stale, time.perf_counter() - start)
        try:
            done = subprocess.run(
                pytest_command(python, mutation),
                cwd=folder,
                env=environment(folder),
                capture_output=True,
                text=True,
                timeout=timeout,
            )
        except subprocess.TimeoutExpired:
            return Outcome(
                mutation.id, "ERROR", f"timed out after {timeout:.0f}s", time.perf_counter() - start
            )
        output = done.stdout + done.stderr
        seconds = time.perf_counter() - start
        if done.returncode == 1:
            return Outcome(mutation.id, "CAUGHT", _failure(output), seconds)
        if done.returncode == 0:
            summary = output.strip().splitlines()[-1] if output.strip() else ""
            return Outcome(mutation.id, "SURVIVED", summary, seconds)
        reason = {5: "no test selected"}.get(done.returncode, f"pytest exit status {done.returncode}")
        return Outcome(mutation.id, "ERROR", f"{reason}: {_failure(output)}", seconds)
    finally:
        if keep:
            print(f"  kept {folder}", file=sys.stderr)
        else:
            shutil.rmtree(folder, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="+", metavar="ID", help="run only these mutations")
    parser.add_argument("--list", action="store_true", help="list the mutations and exit")
    parser.add_argument("--check", action="store_true", help="only check that every old text matches once")
    parser.add_argument("--baseline", action="store_true", help="first run each test selection unmutated")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds per mutation (default 900)")
    parser.add_argument("--python", default=sys.executable, help="the interpreter that runs pytest")
    parser.add_argument("--keep", action="store_true", help="keep the mutated copies (paths on stderr)")
    parser.add_argument("--json", type=Path, help="also write the outcomes to this JSON file")
    args = parser.parse_args(argv)

    mutations = list(_load_catalogue())
    ids = [m.id for m in mutations]
    if len(set(ids)) != len(ids):
        raise SystemExit("mutants: duplicate ids in catalogue.py")
    if args.only:
        unknown = sorted(set(args.only) - set(ids))
        if unknown:
            raise SystemExit(f"mutants: unknown ids {', '.join(unknown)}; see --list")
        mutations = [m for m in mutations if m.id in args.only]
    if args.list:
        for m in mutations:
            select = f" -k {m.select!r}" if m.select else ""
            print(f"{m.id}: {m.description}\n    {m.path} -> {' '.join(m.tests)}{select}")
        return 0

    outcomes: list[Outcome] = []
    if args.check:
        for m in mutations:
            path = ROOT / m.path
            count = path.read_text().count(m.old) if path.is_file() else -1
            ok = count == 1
            detail = (
                "matches once" if ok else ("file missing" if count < 0 else f"old text found {count} times")
            )
            outcomes.append(Outcome(m.id, "OK" if ok else "STALE", detail, 0.0))
            print(f"{outcomes[-1].status:8} {m.id}: {detail}", flush=True)
    else:
        with tempfile.TemporaryDirectory(prefix="mutant-check-") as probe:
            packages = [f for f in source_files(ROOT) if f.parts[0] == "alstrategies"]
            copy_tree(ROOT, packages, Path(probe))
            check_isolation(args.python, Path(probe).resolve())
        if args.baseline:
            seen = set()
            for m in mutations:
                key = (m.tests, m.select)
                if key in seen:
                    continue
                seen.add(key)
                clean = run_one(m, args.python, args.timeout, keep=False, clean=True)
                if clean.status != "SURVIVED":
                    print(
                        f"mutants: the unmutated tests of {m.id} do not pass: {clean.detail}", file=sys.stderr
                    )
                    return 2
            print(f"baseline: {len(seen)} test selections pass unmutated", flush=True)
        for m in mutations:
            outcome = run_one(m, args.python, args.timeout, args.keep)
            outcomes.append(outcome)
            print(f"{outcome.status:8} {m.id} ({outcome.seconds:.1f}s): {outcome.detail}", flush=True)

    counts = {
        status: sum(o.status == status for o in outcomes)
        for status in ("CAUGHT", "SURVIVED", "STALE", "ERROR")
    }
    if args.check:
        counts = {"OK": sum(o.status == "OK" for o in outcomes), "STALE": counts["STALE"]}
    print("mutants: " + f"{len(outcomes)} total, " + ", ".join(f"{n} {s.lower()}" for s, n in counts.items()))
    if args.json:
        args.json.write_text(json.dumps([asdict(o) for o in outcomes], indent=1))
    bad = sum(o.status not in ("CAUGHT", "OK") for o in outcomes)
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
