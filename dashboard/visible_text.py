"""Texts shown as they are, control characters included, without the browser acting on them.

A text decoded with the wrong code page (or a Windows file read as Latin-1) holds C1 control
characters (U+0080–U+009F: what bytes 0x80–0x9F become), which a browser draws as nothing, as
boxes or, for U+0085, as a line break, so two texts that differ look the same. They are shown
as escapes (``\\x92``) instead, which also tells the user their file's encoding was guessed
wrong. Tabs and line breaks stay as they are.
"""

from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def visible(text: object) -> str:
    """``"it\\x92s"`` → ``"it\\\\x92s"`` (shown as the four characters ``\\x92``)."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", str(text))


def has_controls(text: object) -> bool:
    return bool(_CONTROL.search(str(text)))
