"""The error type every data check raises, and how a message quotes file content.

Its own module so the readers (``data_io``, ``data_csv``, ``data_encoding``) and the checks
(``data_split``) share one type without importing each other.
"""

from __future__ import annotations

EXCERPT_CHARS = 60  # a message quotes at most this much of a file's content


class DataError(ValueError):
    """Input data the user must fix; the message says where (file, row, column) and how."""


def excerpt(value: object, limit: int = EXCERPT_CHARS) -> str:
    """``repr`` of a piece of file content, cut to ``limit`` characters: a message never echoes a whole file."""
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def rows_named(positions, limit: int = 10) -> str:
    """'row 3' or 'rows 3, 7, 12' (1-based data rows), with an ellipsis past ``limit``."""
    nums = [str(int(p)) for p in positions]
    listed = ", ".join(nums[:limit]) + (f", … ({len(nums) - limit} more)" if len(nums) > limit else "")
    return ("row " if len(nums) == 1 else "rows ") + listed
