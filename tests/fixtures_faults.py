"""A small workspace of its own for the bad-input and fault tests, and a byte-for-byte snapshot of it.

Why its own workspace: these tests corrupt, fill and freeze workspaces, and assert that a
refused command changed *nothing*; sharing the session workspace would couple them to every
other area's runs. The workspace holds one prepared dataset (``tiny``, from a CSV, no
tokenizer) and one finished run of the test-only ``majority`` kind (about a second).
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

TINY_ROWS = 60


def tiny_csv(path: Path, rows: int = TINY_ROWS) -> Path:
    lines = ["text,label"] + [f"review number {i} is {'good' if i % 2 else 'bad'},{'pos' if i % 2 else 'neg'}"
                              for i in range(rows)]
    path.write_text("\n".join(lines) + "\n")
    return path


def build_workspace(home: Path) -> dict[str, str]:
    """Prepare ``tiny`` and run the majority kind on it in ``home`` (WORKBENCH_HOME must point there)."""
    import tests.kind_majority  # noqa: F401 - registers the test-only kind
    from pipelines.data import prepare
    from pipelines.jobs import run_now

    ds = prepare(str(tiny_csv(home / "tiny.csv")), name="tiny", tokenizer="none")
    job = run_now("majority", {"dataset": "tiny", "speed_samples": 0, "run_name": "majority"})
    assert job["status"] == "done", job["error"]
    return {"dataset": ds.id, "run_id": job["run_id"], "job_id": str(job["id"])}


@pytest.fixture(scope="module")
def workspace(tmp_path_factory) -> Iterator[dict[str, str]]:
    """WORKBENCH_HOME pointed at a fresh workspace for the module; restored afterwards."""
    home = tmp_path_factory.mktemp("ws")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("WORKBENCH_HOME", str(home))
        mp.delenv("WORKBENCH_STORE", raising=False)
        info = build_workspace(home)
        yield {**info, "home": str(home)}


def snapshot(home: Path | str, ui_state_ok: bool = False) -> dict[str, str]:
    """sha256 of the store (after a WAL checkpoint) and of every prepared dataset and run folder file.

    Uploads (``data/uploads``) are left out: storing an uploaded file is what the upload widget does.
    ``ui_state_ok``: the store is compared row by row, leaving out the dashboard's own UI choices
    (kv namespace ``ui``: the picked upload, the current dataset), which every page visit records.
    """
    home = Path(home)
    store = home / "models" / "workbench.sqlite"
    if store.exists() and os.access(store, os.W_OK):
        con = sqlite3.connect(store)
        try:
            con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            con.close()
    out = {}
    folders = (home / "data" / "prepared", home / "models" / "runs")
    files = [store] + sorted(p for d in folders if d.exists() for p in d.rglob("*") if p.is_file())
    for p in files:
        if p.exists():
            out[str(p.relative_to(home))] = hashlib.sha256(p.read_bytes()).hexdigest()
    if ui_state_ok and store.exists():
        con = sqlite3.connect(store)
        try:
            rows = [ln for ln in con.iterdump() if not ln.startswith("INSERT INTO \"kv\" VALUES('ui',")]
        finally:
            con.close()
        out[str(store.relative_to(home))] = hashlib.sha256("\n".join(rows).encode()).hexdigest()
    return out


def changed(before: dict[str, str], after: dict[str, str]) -> list[str]:
    return sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
