"""What a loader found and what it used: ``<dataset>: N cases found, M used (...); skipped: ...``.

Every file-based loader counts the cases it found, those its split uses and what it skipped, with
the reason. The line is the dataset's ``info["cases"]`` (``alstrategies prepare`` prints it) and
is logged; when something was skipped or left unused that the user may not expect (a case not in
the explicit lists, a file beside the images that no pattern matches, a case missing from a
range), it is also a one-line :class:`~alstrategies.data.notices.DatasetWarning`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from alstrategies.data.notices import warn

log = logging.getLogger("alstrategies")
SHOWN = 3


def preview(names: Sequence[str], limit: int = SHOWN) -> str:
    """``"a, b, c, ..."``: the first names of a list."""
    names = list(names)
    return ", ".join(names[:limit]) + (", ..." if len(names) > limit else "")


@dataclass
class Census:
    """The cases of one load; ``where`` names the dataset (e.g. ``"folder /x"``)."""

    where: str
    found: int = 0
    #: (reason, how many, which, expected)
    skips: list[tuple[str, int, str, bool]] = field(default_factory=list)

    def skip(self, reason: str, names: Sequence[str], expected: bool = False, shown: str = "") -> None:
        """Record ``names`` skipped for ``reason`` (``shown`` instead of the first names);
        ``expected`` skips (macOS ``._`` copies) only count, others make the line a warning."""
        if names:
            self.skips.append((reason, len(names), shown or preview(names), expected))

    def line(
        self, train: Sequence[str], held_out: Sequence[str], kind: str = "test", unused: str = ""
    ) -> str:
        """The census line for this split; ``unused`` says why the other found cases are not used."""
        used = len(train) + len(held_out)
        text = f"{self.where}: {self.found} case(s) found, {used} used ({len(train)} training, {len(held_out)} {kind})"
        if used < self.found:
            text += f", {self.found - used} not used ({unused or 'not in the split'})"
        if self.skips:
            parts = [f"{count} {reason} ({shown})" for reason, count, shown, _ in self.skips]
            text += "; skipped: " + "; ".join(parts)
        return text

    def report(
        self,
        train: Sequence[str],
        held_out: Sequence[str],
        kind: str = "test",
        unused: str = "",
        unused_expected: bool = False,
    ) -> str:
        """Log the line, warn it when a skip is unexpected or a found case unused (unless
        ``unused_expected``: cases held out by an option), and return it."""
        text = self.line(train, held_out, kind, unused)
        unused_cases = len(train) + len(held_out) < self.found
        surprising = any(not expected for *_, expected in self.skips) or (
            unused_cases and not unused_expected
        )
        if surprising:
            warn(text)
        else:
            log.info(text)
        return text
