"""User strings inside HTML or Markdown the dashboard renders: escaped, never interpreted.

Run names, dataset names and file names are typed by users (or come from a shared
workspace). Where a page needs ``unsafe_allow_html=True`` (a coloured dot beside a name),
the name goes through :func:`html_text`, so ``<img src=x onerror=...>`` shows as text, and
colours through :func:`safe_colour`, so a value cannot close the ``style`` attribute.
"""

from __future__ import annotations

import html
import re

_MARKDOWN = re.compile(r"([\\`*_{}\[\]()#+\-.!|~])")
_COLOUR = re.compile(r"#[0-9A-Fa-f]{3,8}|rgba?\([0-9., ]+\)")


def html_text(text: object) -> str:
    """``text`` as literal characters in Markdown with HTML enabled: HTML-escaped, Markdown-escaped."""
    return html.escape(_MARKDOWN.sub(r"\\\1", str(text)), quote=True)


def safe_colour(colour: object, default: str = "#444444") -> str:
    """A CSS colour (hex or rgb/rgba) or ``default``: nothing else reaches a style attribute."""
    text = str(colour or "")
    return text if _COLOUR.fullmatch(text) else default
