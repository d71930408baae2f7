"""Reading a run's ``run.log`` back: the wall-clock time of every invocation."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

_LOG_LINE = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),\d+ \w+ \[(\d+)\] (.*)$")


_START = re.compile(r"^run .+: dataset ")  # the first line of every invocation (see ``Run.run``)


def invocation_minutes(log: Path) -> list[float]:
    """The wall-clock minutes of every invocation that ``log`` (a run's ``run.log``) records:
    from its ``run <folder>: dataset ...`` line to the last line any process wrote before the next one. An
    invocation that was killed ends at its last line, so the sum never counts idle time."""
    spans: list[list[datetime]] = []
    for line in log.read_text(errors="replace").splitlines():
        match = _LOG_LINE.match(line)
        if match is None:
            continue
        stamp = datetime.strptime(match[1], "%Y-%m-%d %H:%M:%S")
        if _START.match(match[3]) or not spans:
            spans.append([stamp, stamp])
        else:
            spans[-1][1] = max(spans[-1][1], stamp)
    return [(end - start).total_seconds() / 60 for start, end in spans]
