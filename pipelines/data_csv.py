"""CSV/TSV text → raw table, with line breaks inside fields handled or named, never turned into rows.

Tweets and reviews exported by naive tools carry bare carriage returns (``\\r``) inside
*unquoted* fields. The csv module, like every CSV reader, ends a row there: one text
becomes two rows, the first without a label, and the old advice ("--drop-empty") then kept
only the text's last line. Two rules replace that:

* when the file's rows end with ``\\n`` or ``\\r\\n`` (its header line says which), a bare
  ``\\r`` inside a line cannot be a row end: it is read as a line break inside the field
  (kept as ``\\n``) and the rows holding one are counted in the report;
* a break that still cuts a row (a bare ``\\n`` in an unquoted field) shows as a record
  with too few fields whose rest is on the next line(s). Such rows are named in one
  error ("94 rows contain a line break inside a field: rows 12, 57, …") with the fix
  (quote the field), instead of being padded into extra half-rows.
"""

from __future__ import annotations

import csv
import io
import logging
import re
from typing import Any

import pandas as pd

from .data_errors import DataError, excerpt, rows_named

log = logging.getLogger(__name__)

_BARE_CR = re.compile(r"\r(?!\n)")


def row_terminator(text: str) -> str | None:
    """How the header line ends: "\\r\\n", "\\n", "\\r", or None for a one-line text."""
    m = re.search(r"\r\n|\n|\r", text)
    return m.group(0) if m else None


def sniff_delimiter(text: str, default: str = ",") -> str:
    """The delimiter of a CSV whose user gave none: ``default`` unless the header says otherwise.

    Spreadsheets saved in many European locales separate fields with ';' (the comma is the
    decimal mark there); a header line with no ``default`` in it but a ';', tab or '|' is
    split by the most frequent of those. Quoted headers are rare; a wrong guess still meets
    the header check below, which names the fix.
    """
    first = next((ln for ln in text.removeprefix("\ufeff").splitlines() if ln.strip()), "")
    if default in first:
        return default
    counts = {d: first.count(d) for d in (";", "\t", "|")}
    best = max(counts, key=counts.get)
    return best if counts[best] else default


def _placeholder(text: str) -> str:
    """A private-use character absent from ``text``, standing in for in-field carriage returns."""
    return next(ch for ch in map(chr, range(0xE000, 0xF900)) if ch not in text)


def read_delimited(text: str, name: str, sep: str, report: dict[str, Any] | None = None) -> pd.DataFrame:
    """Parse with the csv module (strict quoting) so a bad line is reported, never half-read.

    pandas' reader silently drops the extra fields of a first data row that is longer than
    the header (with ``index_col=False``) and cannot say where an unclosed quote began.
    """
    report = {} if report is None else report
    text = text.removeprefix("\ufeff")  # a BOM that survived decoding would rename the first column
    if not text.strip():
        raise DataError(f"{name} is empty: it needs a header line and at least one data row")
    mark = None
    if row_terminator(text) in ("\n", "\r\n") and _BARE_CR.search(text):
        mark = _placeholder(text)
        text = _BARE_CR.sub(mark, text)
    sep_name = {"\t": "tab", ",": "comma", ";": "semicolon"}.get(sep, repr(sep))
    header, records = _records(text, name, sep, sep_name)
    rows = _join_or_refuse(records, len(header), name)
    if mark:
        hit = sum(any(mark in v for v in rec) for rec in rows)
        rows = [[v.replace(mark, "\n") for v in rec] for rec in rows]
        header = [h.replace(mark, " ") for h in header]
        report["line_breaks_in_fields"] = hit
        log.info("%s: %d rows hold a carriage return inside a field (read as a line break in the text)", name, hit)
    return pd.DataFrame(rows, columns=header, dtype=object)


def _records(text: str, name: str, sep: str, sep_name: str) -> tuple[list[str], list[tuple[list[str], int]]]:
    """(header, [(record, first line)]): blank lines skipped, the header checked."""
    csv.field_size_limit(2**31 - 1)  # long documents are fine; the file size cap bounds memory
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=sep, strict=True)
    header: list[str] | None = None
    records: list[tuple[list[str], int]] = []
    while True:
        start = reader.line_num + 1
        try:
            rec = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise DataError(f"{name}: malformed line {start}: {exc}. A quoted field must be closed, and quotes "
                            f"inside a quoted field doubled (\"\"); fix that line") from exc
        if not rec or rec == [""]:
            continue  # blank line
        if header is None:
            header = _check_header([h.strip() for h in rec], name, sep, sep_name, start)
            continue
        if len(rec) > len(header):
            raise DataError(f"{name}: malformed line {start}: {len(rec)} {sep_name}-separated fields, but the header "
                            f"has {len(header)}. Quote fields that contain a {sep_name} (\"like, this\") or fix "
                            f"that line")
        records.append((rec, start))
    if header is None:
        raise DataError(f"{name} is empty: it needs a header line and at least one data row")
    return header, records


def _check_header(header: list[str], name: str, sep: str, sep_name: str, line: int) -> list[str]:
    if len(header) == 1:
        other = next((d for d in ("\t", ";", "|", ",") if d != sep and d in header[0]), None)
        if other:
            shown = {"\t": "tab"}.get(other, repr(other))
            raise DataError(f"{name}: the header is one {sep_name}-separated column {excerpt(header[0])}; the "
                            f"file looks {shown}-separated: pass --delimiter {other!r} (delimiter=...)")
    dups = sorted({h for h in header if header.count(h) > 1})
    if dups:
        raise DataError(f"{name}: column name(s) {', '.join(map(excerpt, dups[:5]))} appear more than once in "
                        f"the header (line {line}); give every column a distinct name")
    return header


def _join_or_refuse(records: list[tuple[list[str], int]], width: int, name: str) -> list[list[str]]:
    """Rows of ``width`` fields; rows cut by a line break inside a field are named in one error.

    A record with too few fields whose following record(s) complete it exactly (the last
    field running on after the break) is a cut row. A short record nothing completes (a
    trailing field left out) is padded with empty fields, as before.
    """
    rows: list[list[str]] = []
    cut: list[tuple[int, int]] = []  # (row number, line)
    i = 0
    while i < len(records):
        rec, line = records[i]
        j = i + 1
        merged = list(rec)
        while len(merged) < width and j < len(records):
            nxt = records[j][0]
            merged = merged[:-1] + [merged[-1] + "\n" + nxt[0]] + nxt[1:]
            j += 1
        if len(rec) < width and len(merged) == width:
            cut.append((len(rows) + 1, line))
            rows.append(merged)
            i = j
            continue
        rows.append(rec + [""] * (width - len(rec)))
        i += 1
    if cut:
        lines = ", ".join(str(ln) for _, ln in cut[:5]) + (", …" if len(cut) > 5 else "")
        raise DataError(f"{name}: {len(cut)} row{'s' if len(cut) > 1 else ''} contain{'' if len(cut) > 1 else 's'} "
                        f"a line break inside a field: {rows_named([r for r, _ in cut])} (from line {lines}). The "
                        f"text goes on at the start of the next line, so reading it would cut the row in two: put "
                        f"quotes around fields with line breaks (\"first line⏎second line\"), or remove the breaks")
    return rows
