"""What every command shares: the error a user can fix (printed as one line by ``cli.main``)."""

from __future__ import annotations


class UserError(Exception):
    """An error the user can fix; printed as one line, no traceback."""
