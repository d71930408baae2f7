"""LaTeX renderings of a :class:`~alstrategies.report.tables.Table`: booktabs ``tabular``\\ s in
one of :data:`LATEX_LAYOUTS`, so that a table with many budget columns still fits a page.

* ``"split"`` (the default, :data:`DEFAULT_LATEX_LAYOUT`): the table's columns are shared out
  over as few ``table`` environments as hold at most :data:`MAX_COLUMNS` of them each (as evenly
  as possible, earlier parts one wider), one after the other, each with the row names; the first
  part keeps the label, part ``k`` gets ``<label>-part<k>``, every caption ends with
  ``Part k of n: <first column> to <last column>.`` A table of at most :data:`MAX_COLUMNS`
  columns is rendered exactly as ``"wide"``.
* ``"wide"``: one ``tabular`` with every column (the layout of before; 11 columns do not fit).
* ``"transposed"``: the columns become the rows and the rows the columns (for a budget table:
  budgets as rows, strategies as columns), split like ``"split"`` when there are more than
  :data:`MAX_COLUMNS` of them. The best cells are those of the table (per budget), so in this
  layout they are bold per row.

Why :data:`MAX_COLUMNS` is 4: in the ``\\footnotesize`` of these tables (Computer Modern, pdflatex),
a cell ``88.01 $\\pm$ 12.72`` is 51.0 pt wide, 57.8 pt in bold, and an HD95 cell ``370.77 $\\pm$
101.23`` 67.6 pt in bold; ``random\\_foreground\\_oracle`` is 96.1 pt; every column adds
``2 \\tabcolsep`` = 12 pt. On a 6.5 in (469.75 pt) text width the row names and 4 columns of the
widest cells take 108.1 + 4 x 79.6 = 426.5 pt; 5 columns of Dice cells would fit (457.1 pt) but
5 of HD95 cells would not (506.1 pt). (The 345 pt text width of a bare ``article`` holds 3.)

The only package needed beyond LaTeX itself is booktabs (:data:`LATEX_PACKAGES`; TeX Live's
``texlive-latex-recommended``, not in ``texlive-latex-base``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from alstrategies.errors import ConfigError

if TYPE_CHECKING:
    from alstrategies.report.tables import Table

__all__ = [
    "DEFAULT_LATEX_LAYOUT",
    "LATEX_LAYOUTS",
    "LATEX_PACKAGES",
    "MAX_COLUMNS",
    "check_latex_layout",
    "column_parts",
    "latex_escape",
    "latex_header_comment",
    "render_latex",
]

#: The layouts of :func:`render_latex` (see the module docstring).
LATEX_LAYOUTS: tuple[str, ...] = ("split", "wide", "transposed")
#: The layout of every ``.tex`` file the report writes unless told otherwise.
DEFAULT_LATEX_LAYOUT: str = "split"
#: At most this many value columns per ``tabular`` in the ``"split"`` and ``"transposed"`` layouts.
MAX_COLUMNS = 4
#: The LaTeX packages the rendered tables need (``\\usepackage{...}``).
LATEX_PACKAGES: tuple[str, ...] = ("booktabs",)


def check_latex_layout(layout: str) -> str:
    """``layout`` when it is one of :data:`LATEX_LAYOUTS`, else a :class:`ConfigError`."""
    if layout not in LATEX_LAYOUTS:
        raise ConfigError(f"unknown LaTeX layout {layout!r}; choose one of {', '.join(LATEX_LAYOUTS)}")
    return layout


def latex_escape(text: str) -> str:
    """Escape the characters that are special in LaTeX text mode (and write ± as ``$\\pm$``)."""
    replacements = {
        "\\": r"\textbackslash{}",
        "&": r"\&",
        "%": r"\%",
        "$": r"\$",
        "#": r"\#",
        "_": r"\_",
        "{": r"\{",
        "}": r"\}",
        "~": r"\textasciitilde{}",
        "^": r"\textasciicircum{}",
        "±": r"$\pm$",
        "–": "--",
    }
    return "".join(replacements.get(character, character) for character in str(text))


def column_parts(n_columns: int, max_columns: int = MAX_COLUMNS) -> list[range]:
    """The column ranges of the parts: as few as hold at most ``max_columns`` each, their sizes
    as even as possible (the earlier parts one wider), e.g. 10 columns at 4 -> 4, 3, 3."""
    if max_columns < 1:
        raise ConfigError(f"max_columns must be at least 1, got {max_columns}")
    if n_columns <= 0:
        return [range(0)]
    count = -(-n_columns // max_columns)
    size, extra = divmod(n_columns, count)
    parts, start = [], 0
    for k in range(count):
        stop = start + size + (1 if k < extra else 0)
        parts.append(range(start, stop))
        start = stop
    return parts


def latex_header_comment(layout: str = DEFAULT_LATEX_LAYOUT, max_columns: int = MAX_COLUMNS) -> str:
    """The comment line that a report's ``.tex`` file carries: the layout and the packages."""
    check_latex_layout(layout)
    shape = {
        "split": f"at most {max_columns} value columns per tabular, one table environment per part",
        "wide": "one tabular with every column",
        "transposed": f"columns and rows swapped, at most {max_columns} value columns per tabular",
    }[layout]
    packages = ", ".join(f"\\usepackage{{{name}}}" for name in LATEX_PACKAGES)
    return (
        f"% Written by `alstrategies report`, LaTeX layout {layout!r} ({shape}); needs {packages} "
        "(TeX Live: texlive-latex-recommended, not in texlive-latex-base) and nothing else."
    )


def _grid(table: Table, transposed: bool) -> tuple[str, list[str], list[str], list[list[str]]]:
    """The escaped corner, column headers, row names and cells (bold and ``--`` applied)."""
    best = table.best()
    cells = []
    for i in range(len(table.rows)):
        row = []
        for j in range(len(table.columns)):
            cell = table.cell(i, j, plus_minus="$\\pm$")
            row.append("--" if cell is None else (rf"\textbf{{{cell}}}" if best[i, j] else cell))
        cells.append(row)
    rows = [latex_escape(name) for name in table.rows]
    columns = [latex_escape(name) for name in table.columns]
    if not transposed:
        return latex_escape(table.row_header), columns, rows, cells
    swapped = [[cells[i][j] for i in range(len(rows))] for j in range(len(columns))]
    return latex_escape(table.column_header), rows, columns, swapped


def _environment(
    corner: str,
    headers: Sequence[str],
    names: Sequence[str],
    cells: Sequence[Sequence[str]],
    part: range,
    caption: str,
    label: str | None,
) -> str:
    lines = [
        r"\begin{table}[htbp]",
        r"\centering",
        r"\footnotesize",
        rf"\caption{{{caption}}}",
    ]
    if label:
        lines.append(rf"\label{{{label}}}")
    lines += [
        rf"\begin{{tabular}}{{l{'c' * len(part)}}}",
        r"\toprule",
        " & ".join([corner, *(headers[j] for j in part)]) + r" \\",
        r"\midrule",
    ]
    for name, row in zip(names, cells, strict=True):
        lines.append(" & ".join([name, *(row[j] for j in part)]) + r" \\")
    lines += [r"\bottomrule", r"\end{tabular}", r"\end{table}"]
    return "\n".join(lines) + "\n"


def render_latex(
    table: Table,
    caption: str | None = None,
    label: str | None = None,
    *,
    layout: str = DEFAULT_LATEX_LAYOUT,
    max_columns: int = MAX_COLUMNS,
) -> str:
    """``table`` as LaTeX ``table`` environments with booktabs ``tabular``\\ s (needs
    ``\\usepackage{booktabs}``) in ``layout`` (see the module docstring; parts of at most
    ``max_columns`` value columns). One ``l`` column for the row names and one ``c`` column per
    value column; cells are ``mean $\\pm$ std``, the best cells in ``\\textbf{}``, missing cells
    ``--``. ``caption`` is plain text (escaped here; default: the table's title)."""
    check_latex_layout(layout)
    corner, headers, names, cells = _grid(table, transposed=layout == "transposed")
    text = latex_escape(caption or table.title)
    parts = [range(len(headers))] if layout == "wide" else column_parts(len(headers), max_columns)
    if len(parts) == 1:
        return _environment(corner, headers, names, cells, parts[0], text, label)
    blocks = []
    for k, part in enumerate(parts, start=1):
        span = f"{headers[part[0]]} to {headers[part[-1]]}" if len(part) > 1 else headers[part[0]]
        where = f"{'' if text.rstrip().endswith('.') else '.'} Part {k} of {len(parts)}: {span}."
        part_label = label if k == 1 or not label else f"{label}-part{k}"
        blocks.append(_environment(corner, headers, names, cells, part, text + where, part_label))
    return "\n".join(blocks)
