"""Files a user would bring, built byte for byte: a Windows code page, bare carriage returns inside
unquoted fields, HTML in texts. Nothing here is in the repository as data: tests write them to
``tmp_path`` so each property is known exactly.
"""

from __future__ import annotations

import random
from pathlib import Path

LABELS = ("negative", "neutral", "positive")
_WORDS = {
    "negative": ["déçu", "nul", "trop cher", "annulé", "en retard", "écœurant"],
    "neutral": ["à Zürich", "lundi", "l’équipe", "le café", "ce soir", "n°4"],
    "positive": ["génial", "très réussi", "merci", "naïve et belle", "bravo", "super"],
}


def tweet_rows(n: int = 3000, breaks: int = 94, url_tail: int = 35, html: int = 0,
               seed: int = 0) -> list[tuple[str, str]]:
    """(text, label) rows; the first ``breaks`` texts hold one or two bare ``\\r`` (unquoted in the
    CSV), ``url_tail`` of them with only a link after the last break; ``html`` texts carry markup."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        label = LABELS[i % 3]
        words = rng.sample(_WORDS[label], 3)
        text = f"“{words[0]}” – {words[1]} et {words[2]} #{i}"
        if i < breaks:
            tail = f"https://t.co/x{i}" if i < url_tail else f"suite {i} {rng.choice(_WORDS[label])}"
            text = text + "\r" + tail if i % 5 else text + "\rmême ligne\r" + tail
        elif i < breaks + html:
            text = f"{text}<br /><br />lu sur <a href=\"https://ex.com/{i}\">le site</a> &amp; c&#39;est tout"
        rows.append((text, label))
    return rows


def write_tweets_csv(path: Path, rows: list[tuple[str, str]], encoding: str = "cp1252",
                     header: str = "tweet,sentiment", newline: str = "\r\n") -> Path:
    """Unquoted fields (nothing in the texts needs quoting but the breaks), as naive exporters write."""
    lines = [header] + [f"{t},{y}" for t, y in rows]
    path.write_bytes((newline.join(lines) + newline).encode(encoding))
    return path
