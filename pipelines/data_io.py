"""Reading user data files into a raw table, with errors a user can act on.

Formats: CSV, TSV, JSONL (or a JSON array), Parquet (optionally ``.gz``/``.bz2``/``.xz``
compressed text formats) and a ``datasets.save_to_disk`` folder. Every problem becomes a
:class:`DataError` that names the file, the line or row and what to do about it. Binary
files and archives are recognised by their magic bytes first and refused by name; text is
then decoded in the encoding the user names, or the one ``data_encoding`` detects (shown
to the user, who can override it). CSV/TSV parsing lives in ``data_csv``.

Rows are numbered from 1, header not counted, in every message (and the prepared ``id`` is
that number), so "row 7" means the same thing everywhere.
"""

from __future__ import annotations

import bz2
import gzip
import json
import logging
import lzma
from pathlib import Path
from typing import Any

import pandas as pd

from . import data_encoding
from .data_csv import read_delimited, sniff_delimiter
from .data_errors import EXCERPT_CHARS, DataError, excerpt

__all__ = ["DataError", "EXCERPT_CHARS", "SUPPORTED", "decode", "detect_format", "excerpt", "read_capped",
           "read_table", "size_mb"]

log = logging.getLogger(__name__)

SUPPORTED = ("CSV (.csv), TSV (.tsv/.tab), JSONL (.jsonl/.ndjson/.json), Parquet (.parquet) "
             "or a datasets.save_to_disk folder")
_TEXT_FORMATS = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "json"}
_COMPRESSED = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}
_CHUNK = 1 << 20

# Leading bytes of files users pick by mistake. Recognising them lets the message say what the
# file is ("a ZIP archive") instead of blaming the encoding.
_MAGIC: tuple[tuple[bytes, str, str], ...] = (
    (b"PK\x03\x04", "a ZIP archive (an .xlsx or .docx file is one too)", "unzip it, or export the sheet as CSV"),
    (b"PK\x05\x06", "an empty ZIP archive", "export the data as CSV"),
    (b"%PDF", "a PDF document", "export the table as CSV"),
    (b"\x89PNG", "a PNG image", "point to the data file"),
    (b"\xff\xd8\xff", "a JPEG image", "point to the data file"),
    (b"GIF8", "a GIF image", "point to the data file"),
    (b"\xd0\xcf\x11\xe0", "an old Microsoft Office file (.xls/.doc)", "save it as CSV"),
    (b"PAR1", "a Parquet file", "give it the .parquet extension"),
    (b"SQLite format 3\x00", "an SQLite database", "export the table as CSV"),
    (b"\x1f\x8b", "gzip-compressed data", "give it a .gz extension (data.csv.gz)"),
    (b"BZh", "bzip2-compressed data", "give it a .bz2 extension"),
    (b"\xfd7zXZ\x00", "xz-compressed data", "give it a .xz extension"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive", "extract it first"),
    (b"Rar!", "a RAR archive", "extract it first"),
    (b"\x7fELF", "an executable program", "point to the data file"),
)


def detect_format(path: Path) -> tuple[str, str | None]:
    """(format, compression suffix) from the file name; a folder is a ``datasets`` folder."""
    if path.is_dir():
        return "hf_disk", None
    suffixes = [s.lower() for s in path.suffixes]
    compression = suffixes[-1] if suffixes and suffixes[-1] in _COMPRESSED else None
    if compression:
        suffixes = suffixes[:-1]
    ext = suffixes[-1] if suffixes else ""
    if ext in (".parquet", ".pq") and not compression:
        return "parquet", None
    if ext in _TEXT_FORMATS:
        return _TEXT_FORMATS[ext], compression
    if path.is_file():  # say what it is when we can tell (a .zip, a .pdf, an image)
        _refuse_binary(path.name, _head(path))
    raise DataError(f"{path.name}: unsupported file type {excerpt(ext or '(no extension)', 20)}; use {SUPPORTED}")


def size_mb(path: Path) -> float:
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6
    return path.stat().st_size / 1e6


def read_table(path: str | Path, *, encoding: str | None = None, delimiter: str | None = None,
               max_file_mb: float = 200.0, report: dict[str, Any] | None = None) -> tuple[pd.DataFrame, str]:
    """Read a user file into a DataFrame of raw columns; returns (frame, format).

    ``encoding`` None or "auto" detects it. ``report`` (when given) receives what reading found:
    ``encoding`` and ``encoding_how`` (bom, utf-8, detected, given), ``encoding_candidates``
    (other code pages that decode it as cleanly) and ``line_breaks_in_fields`` (rows holding a
    carriage return inside a field, read as a line break in the text).
    """
    report = {} if report is None else report
    path = Path(path).expanduser()
    if not path.exists():
        raise FileNotFoundError(f"no such file or folder: {path}")
    fmt, compression = detect_format(path)
    mb = size_mb(path)
    if max_file_mb and mb > max_file_mb:
        raise DataError(f"{path.name} is {mb:.3g} MB, above the {max_file_mb:g} MB limit: sample it down first, "
                        f"or raise the limit (max_file_mb / --max-file-mb)")
    log.info("reading %s (%s, %.1f MB)", path, fmt, mb)
    if fmt == "parquet":
        _refuse_binary(path.name, _head(path), expected=b"PAR1")
        return _read_parquet(path), fmt
    if fmt == "hf_disk":
        return _read_hf_disk(path), fmt
    if not compression:
        _refuse_binary(path.name, _head(path))
    data = read_capped(path, compression, max_file_mb)
    if compression:
        _refuse_binary(path.name, data[:4096], inside=f" (inside the {compression} file)")
    text, found = data_encoding.decode(data, path.name, encoding)
    report.update(encoding=found.encoding, encoding_how=found.how, encoding_candidates=found.candidates)
    if fmt in ("csv", "tsv"):
        sep = delimiter or ("\t" if fmt == "tsv" else sniff_delimiter(text))
        report.update(delimiter=sep, delimiter_how="given" if delimiter else "detected")
        return read_delimited(text, path.name, sep, report), fmt
    return _read_json(text, path.name, fmt), fmt


def _head(path: Path, n: int = 4096) -> bytes:
    with path.open("rb") as fh:
        return fh.read(n)


def _refuse_binary(name: str, head: bytes, expected: bytes | None = None, inside: str = "") -> None:
    """Name what a non-text file is (ZIP, PDF, image, …) instead of blaming its encoding."""
    if expected and head.startswith(expected):
        return
    if head[257:262] == b"ustar":
        raise DataError(f"{name} is a tar archive{inside}, not a data table: extract it and point to the data file")
    for magic, what, fix in _MAGIC:
        if head.startswith(magic) and magic != expected:
            raise DataError(f"{name} is {what}{inside}, not {_expected(name, expected)}: {fix}")
    if expected:
        raise DataError(f"{name} is not a Parquet file (it does not start with the Parquet marker PAR1): check the "
                        f"file, or give it the extension of its real format ({SUPPORTED})")
    if head[:2] not in (b"\xff\xfe", b"\xfe\xff") and b"\x00" in head:
        at = head.index(b"\x00")
        raise DataError(f"{name} holds binary data{inside} (a NUL byte at offset {at}), not text: point to a "
                        f"CSV/TSV/JSONL file, or a Parquet file named .parquet")


def _expected(name: str, expected: bytes | None) -> str:
    return "a Parquet file" if expected else "a text table (CSV, TSV or JSON lines)"


def read_capped(path: Path, compression: str | None, max_file_mb: float | None) -> bytes:
    """The file's bytes (decompressed), read in chunks and refused as soon as they pass ``max_file_mb``.

    The cap is checked on the *decompressed* stream: a 1 MB ``.csv.gz`` that expands to a
    gigabyte is stopped after ``max_file_mb``, never held whole in memory.
    """
    limit = int(max_file_mb * 1e6) if max_file_mb else None
    opener = _COMPRESSED[compression] if compression else open
    chunks: list[bytes] = []
    total = 0
    try:
        with opener(path, "rb") as fh:
            while chunk := fh.read(_CHUNK):
                total += len(chunk)
                if limit is not None and total > limit:
                    raise DataError(f"{path.name} expands to more than {max_file_mb:g} MB"
                                    + (f" when decompressed (the {compression} file itself is "
                                       f"{path.stat().st_size / 1e6:.3g} MB)" if compression else "")
                                    + ": sample it down first, or raise the limit (max_file_mb / --max-file-mb)")
                chunks.append(chunk)
    except (OSError, EOFError, lzma.LZMAError, ValueError) as exc:
        if isinstance(exc, DataError) or not compression:
            raise
        raise DataError(f"{path.name}: cannot decompress ({excerpt(str(exc), 120)}); is it really a {compression} "
                        f"file?") from exc
    return b"".join(chunks)


def decode(data: bytes, name: str, encoding: str | None = None) -> str:
    """Text of ``data`` in ``encoding``, or in the detected one (None or "auto"); see ``data_encoding``."""
    return data_encoding.decode(data, name, encoding)[0]


def _read_json(text: str, name: str, fmt: str) -> pd.DataFrame:
    stripped = text.lstrip()
    if fmt == "json" and stripped.startswith("["):
        try:
            records = json.loads(text)
        except json.JSONDecodeError as exc:
            raise DataError(f"{name}: invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from exc
        for i, rec in enumerate(records, 1):
            if not isinstance(rec, dict):
                raise DataError(f"{name}: item {i} of the JSON array is {type(rec).__name__}, not an object "
                                f"({{\"text\": ..., \"label\": ...}})")
        return _frame(records, name)
    records = []
    # split on \n only: str.splitlines() also breaks at \x85, \u2028 and bare \r, which JSON strings may hold
    for lineno, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(f"{name}: line {lineno} is not valid JSON ({exc.msg}, column {exc.colno}); each line "
                            f"must be one JSON object like {{\"text\": \"...\", \"label\": \"...\"}}") from exc
        if not isinstance(rec, dict):
            raise DataError(f"{name}: line {lineno} is a JSON {type(rec).__name__}, not an object like "
                            f"{{\"text\": \"...\", \"label\": \"...\"}}")
        records.append(rec)
    return _frame(records, name)


def _frame(records: list[dict], name: str) -> pd.DataFrame:
    if not records:
        raise DataError(f"{name} is empty: it holds no records")
    return pd.DataFrame.from_records(records)


def _read_parquet(path: Path) -> pd.DataFrame:
    try:
        return pd.read_parquet(path)
    except Exception as exc:  # noqa: BLE001 - pyarrow raises several types for a bad file
        raise DataError(f"{path.name}: not a readable Parquet file ({excerpt(str(exc), 160)})") from exc


def _read_hf_disk(path: Path) -> pd.DataFrame:
    """A ``Dataset`` or ``DatasetDict`` saved with ``save_to_disk``; ClassLabel ints become names.

    The folder's own splits (if any) are concatenated: the workbench makes its own seeded,
    stratified split so every run is compared on the same one.
    """
    markers = ("dataset_info.json", "state.json", "dataset_dict.json")
    if not any((path / m).exists() for m in markers):
        raise DataError(f"{path.name}/ is a folder but not a datasets.save_to_disk folder (none of "
                        f"{', '.join(markers)} inside); point to a file ({SUPPORTED})")
    import datasets

    try:
        ds = datasets.load_from_disk(str(path))
    except Exception as exc:  # noqa: BLE001
        raise DataError(f"{path.name}/: datasets.load_from_disk failed: {excerpt(str(exc), 160)}") from exc
    parts = list(ds.values()) if isinstance(ds, datasets.DatasetDict) else [ds]
    if len(parts) > 1:
        log.info("%s: concatenating its %d splits (%s) before re-splitting", path.name, len(parts),
                 ", ".join(ds.keys()))
    frames = []
    for part in parts:
        df = part.to_pandas()
        for col, feat in part.features.items():
            if isinstance(feat, datasets.ClassLabel):
                df[col] = [feat.names[v] if v is not None and v >= 0 else None for v in df[col]]
            elif isinstance(feat, datasets.List) and isinstance(feat.feature, datasets.ClassLabel):
                names = feat.feature.names
                df[col] = [[names[v] for v in vals] for vals in df[col]]
        frames.append(df)
    return pd.concat(frames, ignore_index=True)
