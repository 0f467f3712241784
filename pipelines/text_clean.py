"""Markup in texts, and texts with next to nothing to classify.

Reviews scraped from web pages keep ``<br />``, links and entities (``&amp;``, ``&#39;``).
A model then learns from markup, two copies of one review that differ only by a ``<br />``
escape de-duplication and can straddle train and test, and nobody is told. So markup is
detected in every user file, stripped by default (``DataSpec.strip_html``) *before*
de-duplication, and counted in the dataset's stats either way.

Only what is unmistakably HTML is touched, so ordinary text survives byte for byte: tags
of known HTML elements (``<3`` or ``a <b and c> d`` in a tweet are not tags unless the name
is an element's), comments, and entities ending in ``;`` that HTML defines. A text
without any is returned unchanged, so stripping never changes the split of a file that
holds no markup. Only the standard library is used (``re``, ``html``).

"Near-empty" texts (only a link, a @mention, punctuation or emoji: nothing a classifier
can read) are counted, not dropped: whether they are noise is the user's call.
"""

from __future__ import annotations

import html
import re
import unicodedata
from collections.abc import Iterable
from html.entities import html5
from typing import Any

_ELEMENTS = (
    "a abbr address area article aside audio b base bdi bdo big blockquote body br button canvas caption center "
    "cite code col colgroup data dd del details dfn div dl dt em embed fieldset figcaption figure font footer form "
    "h1 h2 h3 h4 h5 h6 head header hr html i iframe img input ins kbd label legend li link main map mark meta nav "
    "noscript object ol optgroup option p param picture pre q s samp script section select small source span strike "
    "strong style sub summary sup svg table tbody td textarea tfoot th thead time title tr tt u ul var video wbr"
).split()
_BLOCK = set("address article aside blockquote br dd div dl dt figcaption figure footer form h1 h2 h3 h4 h5 h6 "
             "header hr li main nav ol p pre section table tbody td tfoot th thead tr ul".split())
_TAG = re.compile(r"</?(" + "|".join(_ELEMENTS) + r")\b(?:\s+[^<>]*)?/?>", re.IGNORECASE)
_DROP_WITH_CONTENT = re.compile(r"<(script|style)\b[^>]*>.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)
_ENTITY = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")
_LINK = re.compile(r"<a\s[^<>]*href", re.IGNORECASE)
_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_MENTION = re.compile(r"@\w+")


def _known_entity(m: re.Match) -> bool:
    return m.group(0).startswith("&#") or m.group(0)[1:] in html5


def has_markup(text: str) -> bool:
    """True when ``text`` holds an HTML tag, comment or entity (see the module docstring for what counts)."""
    if "<" in text and (_TAG.search(text) or _COMMENT.search(text)):
        return True
    return "&" in text and any(_known_entity(m) for m in _ENTITY.finditer(text))


def strip_markup(text: str) -> str:
    """``text`` without tags and comments (block tags become line breaks), entities decoded.

    Tags go first, then entities, so an escaped ``&lt;br&gt;`` stays visible as text. White
    space is tidied only in a text that had markup.
    """
    if not has_markup(text):
        return text
    out = _COMMENT.sub(" ", _DROP_WITH_CONTENT.sub(" ", text))
    out = _TAG.sub(lambda m: "\n" if m.group(1).lower() in _BLOCK else "", out)
    out = _ENTITY.sub(lambda m: html.unescape(m.group(0)), out)
    out = out.replace("\xa0", " ")
    out = re.sub(r"[ \t]+", " ", out)
    out = re.sub(r" ?\n ?", "\n", out)
    return re.sub(r"\n{3,}", "\n\n", out).strip()


def clean_texts(texts: Iterable[str], strip: bool) -> tuple[list[str], dict[str, Any]]:
    """(texts, counts): markup stripped when ``strip``; counts of texts with markup and with links."""
    out: list[str] = []
    n_markup = n_links = 0
    for t in texts:
        if has_markup(t):
            n_markup += 1
            n_links += bool(_LINK.search(t))
            out.append(strip_markup(t) if strip else t)
        else:
            out.append(t)
    return out, {"html_texts": n_markup, "html_links": n_links, "html_stripped": bool(strip)}


def near_empty_kind(text: str) -> str | None:
    """"link", "mention", "symbols" (punctuation, emoji, digits alone do count as content) or None."""
    rest = _MENTION.sub(" ", _URL.sub(" ", text))
    if any(unicodedata.category(ch)[0] in "LN" for ch in rest):
        return None
    if _URL.search(text):
        return "link"
    if _MENTION.search(text):
        return "mention"
    return "symbols"


def near_empty(ids: Iterable[int], texts: Iterable[str], limit: int = 10) -> dict[str, Any]:
    """How many texts have nothing to classify: {n, by_kind {link, mention, symbols}, ids (first ``limit``)}."""
    by_kind = {"link": 0, "mention": 0, "symbols": 0}
    hits: list[int] = []
    for i, t in zip(ids, texts):
        kind = near_empty_kind(t)
        if kind:
            by_kind[kind] += 1
            hits.append(int(i))
    return {"n": len(hits), "by_kind": by_kind, "ids": hits[:limit]}


def report_notes(cleaning: dict) -> list[str]:
    """Sentences about what reading and cleaning found (the dashboard shows the same ones)."""
    notes = []
    if cleaning.get("line_breaks_in_fields"):
        notes.append(f"{cleaning['line_breaks_in_fields']:,} texts hold a line break inside their field (a carriage "
                     f"return, kept as a line break in the text)")
    if cleaning.get("html_texts"):
        done = "stripped" if cleaning.get("html_stripped") else "kept (--no-strip-html)"
        notes.append(f"{cleaning['html_texts']:,} texts had HTML markup or entities, {done}; "
                     f"{cleaning.get('html_links', 0):,} of them with links")
    if cleaning.get("near_empty_texts"):
        notes.append(f"{cleaning['near_empty_texts']:,} texts are near-empty (only a link, a @mention, punctuation "
                     f"or emoji): kept")
    return notes
