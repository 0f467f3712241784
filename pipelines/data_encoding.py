"""Which encoding a text file was written in, and decoding it with a message a user can act on.

Users bring files saved by Excel or older tools in a Windows code page; refusing them with
"pass --encoding" is a dead end for someone who never opens a terminal. So ``auto`` (the
default) decides in this order, each step for a reason:

1. a byte-order mark (UTF-8, UTF-16, UTF-32) names the encoding outright;
2. valid UTF-8 is UTF-8 (ASCII included): a detector must never overrule bytes that decode;
3. otherwise charset-normalizer ranks the code pages that decode the bytes. On short
   Western-European text it often ties cp1250 (Central European) with cp1252 (Western),
   and cp1250 turns "très" into "trčs"; so among candidates the detector finds as clean as
   its best (same "chaos" within a margin) cp1252 wins, being by far the most common
   non-UTF-8 source (Excel's "CSV" on a Western Windows). Latin-1 is never picked:
   cp1252 decodes the same letters and also the curly quotes that latin-1 would turn into
   invisible control characters (bytes 0x80–0x9F).

Only encodings that keep ASCII bytes as ASCII are candidates (the commas, tabs, quotes and
line ends of a table must survive), which rules out EBCDIC guesses on odd bytes. Binary
files and archives are recognised before this by their magic bytes (``data_io``), so a ZIP
is never "decoded". The result is shown to the user, who can override it.
"""

from __future__ import annotations

import codecs
import logging
from dataclasses import dataclass, field

from .data_errors import DataError

log = logging.getLogger(__name__)

AUTO = "auto"
PREFERRED = "cp1252"
CHAOS_MARGIN = 0.02  # candidates this close to the detector's best count as equally clean
DETECT_BYTES = 4_000_000  # the detector reads a prefix: enough for any code page, bounded time
_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF8, "utf-8-sig"),
         (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
# Offered in the dashboard's override list besides the detector's candidates.
COMMON = ("utf-8", "cp1252", "latin-1", "utf-16", "cp1250", "cp1251", "iso8859-15", "mac-roman", "cp932",
          "gb18030", "big5", "euc-kr")


@dataclass
class Detected:
    """The encoding used, how it was chosen, and what else decoded the bytes as cleanly."""

    encoding: str
    how: str  # "bom", "utf-8", "detected", "given"
    candidates: list[str] = field(default_factory=list)


def canonical(name: str) -> str:
    """A codec's standard name ("utf_16_le" → "utf-16-le", "latin_1" → "iso8859-1")."""
    return codecs.lookup(name).name


def _ascii_safe(name: str) -> bool:
    try:
        return b"\r\n\t ,;|\"'abcXYZ019".decode(name) == "\r\n\t ,;|\"'abcXYZ019"
    except (UnicodeDecodeError, LookupError):
        return False


def detect(data: bytes) -> Detected:
    """The encoding of ``data`` (see the module docstring for the order and why); DataError if none fits."""
    for bom, name in _BOMS:
        if data.startswith(bom):
            return Detected(name, "bom")
    try:
        data.decode("utf-8")
        return Detected("utf-8", "utf-8")
    except UnicodeDecodeError:
        pass
    import charset_normalizer

    matches = charset_normalizer.from_bytes(data[:DETECT_BYTES])
    ranked: list[tuple[float, str]] = []
    for m in matches:
        for name in [m.encoding, *m.could_be_from_charset]:
            name = canonical(name)
            if _ascii_safe(name) and name not in {n for _, n in ranked}:
                ranked.append((m.chaos, name))
    if not ranked:
        raise DataError("cannot tell which encoding it is in (no code page decodes it cleanly)")
    best_chaos = min(c for c, _ in ranked)
    clean = [n for c, n in ranked if c <= best_chaos + CHAOS_MARGIN]
    pick = PREFERRED if PREFERRED in clean else clean[0]
    log.info("detected encoding %s (candidates: %s)", pick, ", ".join(n for _, n in ranked[:6]))
    return Detected(pick, "detected", [n for _, n in ranked if n != pick][:5])


def decode(data: bytes, name: str, encoding: str | None = None) -> tuple[str, Detected]:
    """Text of ``data`` in the given encoding, or in the detected one when ``encoding`` is None/"auto"."""
    if encoding and encoding.lower() != AUTO:
        try:
            codecs.lookup(encoding)
        except LookupError as exc:
            raise DataError(f"unknown encoding {encoding!r}: use auto or a Python codec name such as utf-8, "
                            f"cp1252, latin-1, utf-16") from exc
        try:
            return data.decode(encoding), Detected(canonical(encoding), "given")
        except UnicodeDecodeError as exc:
            raise DataError(f"{name} is not valid {encoding}: {_where(data, exc)}; check the encoding "
                            f"(--encoding), or leave it on auto") from exc
    try:
        found = detect(data)
    except DataError as exc:
        raise DataError(f"{name}: {exc}. Re-save it as UTF-8, or name its encoding (--encoding cp1252)") from None
    try:
        text = data.decode(found.encoding)
    except UnicodeDecodeError as exc:  # the detector reads a prefix; a later byte may not fit
        raise DataError(f"{name} looks like {found.encoding} text, but {_where(data, exc)}: re-save it as UTF-8, "
                        f"or name its encoding (--encoding ...)") from exc
    return text.removeprefix("\ufeff"), found


def _where(data: bytes, exc: UnicodeDecodeError) -> str:
    line = data[: exc.start].count(b"\n") + 1
    return f"byte 0x{data[exc.start]:02x} on line {line} (offset {exc.start}) cannot be decoded"
