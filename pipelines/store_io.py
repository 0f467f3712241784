"""Opening the store's SQLite file, and its faults as one-line errors naming the file and the fix.

Why a module of its own: a full disk, a read-only workspace or a damaged file surface as
``sqlite3`` errors deep inside any store call (``disk I/O error``, ``attempt to write a
readonly database``, ``database disk image is malformed``). :class:`pipelines.store.Store`
turns each into a :class:`StoreError` at one place, its ``connect``, so every command (and the
dashboard) reports the same sentence instead of a traceback.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path


class StoreError(RuntimeError):
    """The store file cannot be used as it is; the message says which file and what to do."""


def ensure_creatable(path: Path) -> None:
    """A missing store is created on first use: its folder must exist and be writable."""
    if path.exists():
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"cannot create the store {path} ({exc.strerror}): make {path.parent} writable, or point "
                         "WORKBENCH_HOME at a writable folder") from exc
    if not os.access(path.parent, os.W_OK):
        raise StoreError(f"cannot create the store {path}: {path.parent} is read-only; make it writable, or point "
                         "WORKBENCH_HOME at a writable folder")


def is_read_only(path: Path) -> bool:
    """The file or its folder (where SQLite keeps its -wal and -shm files) cannot be written by us."""
    return path.exists() and not (os.access(path, os.W_OK) and os.access(path.parent, os.W_OK))


def open_read_write(path: Path) -> sqlite3.Connection:
    con = sqlite3.connect(path, timeout=30, isolation_level=None)
    con.row_factory = sqlite3.Row
    con.execute("PRAGMA busy_timeout=30000")
    con.execute("PRAGMA journal_mode=WAL")
    return con


def open_read_only(path: Path) -> sqlite3.Connection:
    """A read-only connection; on a read-only file system, an immutable one.

    ``mode=ro`` still needs the ``-shm`` file of a WAL store, which cannot be created on a
    read-only file system; ``immutable=1`` (no locking, no WAL) then is the only way to read it.
    """
    try:
        con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30, isolation_level=None)
        con.execute("SELECT 1 FROM sqlite_master LIMIT 1")
    except sqlite3.OperationalError:
        con = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True, isolation_level=None)
    con.row_factory = sqlite3.Row
    return con


_FAULTS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("database or disk is full", "disk i/o error"),
     "cannot write {path}: the disk is full or failing ({msg}); free some space there and retry (the store keeps its "
     "previous state)"),
    (("readonly database", "read-only", "unable to open database file"),
     "cannot write {path}: it is read-only ({msg}); make the workspace writable, or point WORKBENCH_HOME at a "
     "writable copy (read-only commands still work)"),
    (("malformed", "file is not a database", "file is encrypted", "not a database"),
     "{path} is damaged or not a workbench store ({msg}): move it aside to start an empty store, or restore a "
     "backup (a copy {name}.v<N>.bak may sit beside it)"),
    (("database is locked", "database table is locked"),
     "{path} stayed locked by another process for 30 s ({msg}); retry, or stop the process that holds it"),
)


def store_fault(path: Path, exc: sqlite3.DatabaseError) -> StoreError | None:
    """The one-line StoreError for an SQLite fault of the file itself (full, read-only, damaged), else None."""
    msg = str(exc)
    low = msg.lower()
    for needles, template in _FAULTS:
        if any(n in low for n in needles):
            return StoreError(template.format(path=path, name=path.name, msg=msg))
    return None
