"""Plain-text tables for the terminal: the one printer the CLI commands and ``tables.to_text`` share.

No dependency beyond the standard library, so any module can print a table without pulling
in pandas or the CLI.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any


def cell(value: Any) -> str:
    """How one value reads in a table: None as "-", floats to four significant digits."""
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def format_table(rows: Sequence[dict[str, Any]], columns: Sequence[str] | None = None,
                 right: Iterable[str] = (), empty: str | None = "(none)") -> str:
    """Aligned columns under a header and a dashed rule; ``right`` names right-aligned (numeric) columns.

    No rows: ``empty``, or with ``empty=None`` the header and rule alone (needs ``columns``).
    """
    if not rows and (empty is not None or not columns):
        return empty or ""
    columns = list(columns or rows[0])
    right = set(right)
    cells = [[cell(r.get(c)) for c in columns] for r in rows]
    widths = [max([len(c), *(len(row[i]) for row in cells)]) for i, c in enumerate(columns)]

    def line(values: Iterable[str]) -> str:
        return "  ".join(v.rjust(w) if c in right else v.ljust(w) for v, w, c in zip(values, widths, columns))

    return "\n".join([line(columns), line("-" * w for w in widths), *(line(row) for row in cells)])
