"""Will a table fit? A width estimate of a booktabs tabular, so the writer can choose a layout that fits.

LaTeX itself is the judge (tests/test_latex.py compiles every table in a one- and a two-column
document and fails on an overfull box); this estimate only has to be on the safe side. It assumes
the writer's settings: ``\\footnotesize`` (Computer Modern at 8 pt) and ``\\tabcolsep`` = 4 pt.
The targets are a little under a 10 pt two-column article's column (248 pt) and page (506 pt) at
0.75 in margins, and under the IEEE/ACM templates' 241-252 pt columns. Glyph widths were measured
with pdflatex (cmr8: digits 4.25 pt, lower case 4.2 pt on average, capitals 6.1 pt).
"""

from __future__ import annotations

import re

COLUMN_PT = 240.0
PAGE_PT = 500.0
TABCOLSEP_PT = 4.0
MAX_ROWS = 58  # body rows of a float at 9.5 pt per row under a caption and notes, on a 9.5 in text height

# Advance widths of cmr8 in pt, by character class (bold is about 12% wider).
_DIGIT, _LOWER, _UPPER, _SPACE, _PUNCT = 4.25, 4.3, 6.3, 2.8, 2.4
_WIDE = set("mwMW")


def text_width(text: str, bold: bool = False) -> float:
    """Width in pt of plain text at 8 pt; math symbols (arrows, dagger, ±) count as one wide glyph."""
    width = 0.0
    for ch in str(text):
        if ch.isdigit():
            w = _DIGIT
        elif ch in _WIDE:
            w = 7.5
        elif ch.isupper():
            w = _UPPER
        elif ch.islower():
            w = _LOWER
        elif ch == " ":
            w = _SPACE
        elif ch in "↑↓†‡±*–":
            w = 6.0
        else:
            w = _PUNCT
        width += w
    return width * (1.12 if bold else 1.0)


def tabular_width(columns: list[list[str]], spans: list[tuple[str, int, int]] = ()) -> float:
    """Estimated width of a tabular with the given cell texts per column (headers included).

    ``spans``: (text, first column, n columns) of ``\\multicolumn`` headers, which widen their columns
    when they are wider than the columns together.
    """
    widths = [max(text_width(t, bold=True) for t in col) + 2 * TABCOLSEP_PT for col in columns]
    for text, first, n in spans:
        need = text_width(text) + 2 * TABCOLSEP_PT
        have = sum(widths[first:first + n])
        if need > have:
            extra = (need - have) / n
            for i in range(first, first + n):
                widths[i] += extra
    return sum(widths)


def plain(text: str) -> str:
    """Cell text without Markdown marks (what is measured)."""
    return re.sub(r"[*_]|<u>|</u>", "", str(text))
