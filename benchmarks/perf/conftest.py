"""Shared helpers for the speed benchmarks: every figure is a ratio measured side by side."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest


def best_of(function: Callable[[], object], repeats: int = 3) -> float:
    """The fastest of ``repeats`` wall-clock runs of ``function`` (seconds)."""
    return interleaved({"f": function}, repeats)["f"]


def interleaved(functions: dict[str, Callable[[], object]], repeats: int = 3) -> dict[str, float]:
    """Fastest wall-clock time of each function, the runs interleaved (A B A B ...) so that
    a change in machine load hits every contender alike."""
    times: dict[str, list[float]] = {name: [] for name in functions}
    for _ in range(repeats):
        for name, function in functions.items():
            start = time.perf_counter()
            function()
            times[name].append(time.perf_counter() - start)
    return {name: min(values) for name, values in times.items()}


@pytest.fixture
def report_ratio(benchmark):
    """Record ``name = ours / reference`` in the benchmark's extra_info and print it."""

    def record(name: str, ours: float, reference: float) -> float:
        ratio = ours / reference
        benchmark.extra_info[name] = round(ratio, 3)
        print(f"\n{name}: {ratio:.3f} (ours {ours:.3f}s, reference {reference:.3f}s)")
        return ratio

    return record
