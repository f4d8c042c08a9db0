"""The one order of names samis shows anywhere: natural order, ``In_2`` before ``In_10``.

Samples, method folders, table rows sorted by name and a definition's ``methods: all`` all use it,
so a list never appears in two orders.
"""

from __future__ import annotations

import re

_DIGITS = re.compile(r"(\d+)")


def natural_key(text) -> tuple:
    """Sort key comparing digit runs as numbers and the rest case-insensitively."""
    return tuple(int(part) if part.isdigit() else part.lower() for part in _DIGITS.split(str(text)))
