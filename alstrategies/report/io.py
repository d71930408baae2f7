"""Atomic writes of report files: readers see the old file or the new one, never half of one."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from alstrategies.atomic import atomic_stream, atomic_write_text

__all__ = ["atomic_write_text", "save_figure", "write_csv"]


def save_figure(figure: Figure, path: str | Path, dpi: int | None = None) -> Path:
    """Save ``figure`` to ``path`` (format from the suffix) through a temporary file and
    ``os.replace``. PDF files carry no creation date, so equal figures give equal files."""
    path = Path(path)
    suffix = path.suffix.lower().lstrip(".")
    metadata = {"CreationDate": None} if suffix == "pdf" else None
    with atomic_stream(path) as stream:
        figure.savefig(stream, format=suffix, dpi=dpi, metadata=metadata)
    return path


def write_csv(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write ``frame`` without its index, atomically."""
    path = Path(path)
    atomic_write_text(path, frame.to_csv(index=False))
    return path
