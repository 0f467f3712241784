"""Storage faults: a full disk, a read-only workspace, a damaged store, a SIGKILL mid-write.

After each: the store opens and passes ``PRAGMA integrity_check``, no job is stuck running,
every finished run loads, and each command that could not work said why in one line. The
disk-full and read-only cases mount a small tmpfs / a read-only bind mount, which needs root
(as in CI); without root, the read-only case uses permissions and the disk-full one is skipped
with the reason.
"""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from pipelines.cli import main
from tests.fixtures_faults import build_workspace, changed, snapshot, tiny_csv

ROOT = hasattr(os, "geteuid") and os.geteuid() == 0
READ_COMMANDS = [["runs", "list"], ["jobs", "list"], ["data", "list"], ["compare", "--dataset", "tiny"],
                 ["runs", "list", "--dataset", "tiny"]]


def _mount(*args: str) -> None:
    subprocess.run(["mount", *args], check=True, capture_output=True, text=True)


def _umount(target: Path) -> None:
    subprocess.run(["umount", "-l", str(target)], check=False, capture_output=True)


def _can_mount(tmp_path: Path) -> str | None:
    """None when this process can mount a tmpfs, else the reason (for the skip)."""
    if not ROOT:
        return "needs root to mount a small tmpfs (CI runs as root)"
    probe = tmp_path / "probe"
    probe.mkdir()
    try:
        _mount("-t", "tmpfs", "-o", "size=64k", "tmpfs", str(probe))
    except (subprocess.CalledProcessError, FileNotFoundError) as exc:
        return f"cannot mount a tmpfs here: {getattr(exc, 'stderr', exc)}".strip()
    _umount(probe)
    return None


@contextmanager
def home_at(path: Path) -> Iterator[Path]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("WORKBENCH_HOME", str(path))
        mp.delenv("WORKBENCH_STORE", raising=False)
        yield path


def one_line_error(capsys, argv: list[str], *words: str) -> str:
    rc = main(argv)
    _, err = capsys.readouterr()
    errors = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert rc == 2 and len(errors) == 1 and "Traceback" not in err, (rc, err[-2000:])
    for w in words:
        assert w in errors[0], errors[0]
    return errors[0]


def assert_healthy(home: Path) -> None:
    """The store opens, is intact, holds no running job, and every finished run's predictor loads."""
    from pipelines.predictor import load_run_predictor
    from pipelines.store import Store

    with home_at(home):
        con = sqlite3.connect(home / "models" / "workbench.sqlite")
        try:
            assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        finally:
            con.close()
        store = Store()
        store.reap_stale(now=time.time() + 3600)  # what any worker does at start: expired leases fail
        assert not store.jobs("running")
        for run in store.runs():
            predictor = load_run_predictor(run["path"])
            assert predictor.predict_proba(["a text"]).shape == (1, len(predictor.labels))


# -------------------------------------------------------------------------- disk full
def _fill(folder: Path) -> Path:
    """Write until the file system is full; returns the filler file (delete it to free the space)."""
    filler = folder / "filler"
    with open(filler, "wb") as fh:
        try:
            while True:
                fh.write(b"\0" * 65536)
                fh.flush()
        except OSError:
            pass
    return filler


def test_disk_full(tmp_path, capsys):
    reason = _can_mount(tmp_path)
    if reason:
        pytest.skip(reason)
    home = tmp_path / "small"
    home.mkdir()
    _mount("-t", "tmpfs", "-o", "size=3m", "tmpfs", str(home))
    try:
        with home_at(home):
            build_workspace(home)
            other = tiny_csv(tmp_path / "other.csv", rows=4000)  # outside the full disk: only writing fails
            before = snapshot(home)
            filler = _fill(home)
            line = one_line_error(capsys, ["data", "prepare", str(other), "--name", "other", "--tokenizer", "none"])
            assert "No space left" in line or "disk is full" in line, line
            assert not (home / "data" / "prepared" / "other").exists(), "a failed prepare left its folder"
            assert not list((home / "data" / "prepared").glob("other*")), "a failed prepare left a temp folder"
            for argv in READ_COMMANDS:  # reading still works
                assert main(argv) == 0, argv
            capsys.readouterr()
            # a store write on the full disk: refused in one line naming the store, or it fit in free pages
            rc = main(["shortlist", "add", "tiny", "minilm"])
            _, err = capsys.readouterr()
            assert "Traceback" not in err
            if rc:
                assert "workbench.sqlite" in err and "disk is full" in err, err
            filler.unlink()
            if rc:
                assert not changed(before, snapshot(home))
        assert_healthy(home)
    finally:
        _umount(home)


# ---------------------------------------------------------------------- read-only workspace
@contextmanager
def read_only_view(tmp_path: Path, home: Path) -> Iterator[Path]:
    """The workspace as a read-only bind mount (root ignores file permissions), else chmod'ed read-only."""
    if ROOT and _can_mount(tmp_path) is None:
        view = tmp_path / "ro"
        view.mkdir()
        _mount("--bind", str(home), str(view))
        try:
            _mount("-o", "remount,ro,bind", str(view))
            yield view
        finally:
            _umount(view)
        return
    if ROOT:
        pytest.skip("root ignores permissions and cannot mount here: no read-only workspace to test")
    modes = {p: p.stat().st_mode for p in [home, *home.rglob("*")]}
    for p in modes:
        p.chmod(modes[p] & ~0o222)
    try:
        yield home
    finally:
        for p, mode in modes.items():
            p.chmod(mode)


def test_read_only_workspace(tmp_path, capsys):
    home = tmp_path / "ws"
    home.mkdir()
    with home_at(home):
        build_workspace(home)
    before = snapshot(home)
    with read_only_view(tmp_path, home) as view, home_at(view):
        for argv in READ_COMMANDS:
            rc = main(argv)
            out, err = capsys.readouterr()
            assert rc == 0 and "Traceback" not in err, (argv, err[-1500:])
        assert "majority" in (main(["runs", "list"]), capsys.readouterr().out)[1]
        one_line_error(capsys, ["data", "prepare", str(tiny_csv(tmp_path / "n.csv")), "--name", "new",
                                "--tokenizer", "none"], "read-only")
        one_line_error(capsys, ["shortlist", "add", "tiny", "minilm"], "read-only", "workbench.sqlite")
        one_line_error(capsys, ["jobs", "retry", "1"], "read-only")
    assert not changed(before, snapshot(home))
    assert_healthy(home)


# -------------------------------------------------------------------------- damaged store
def _garbage(p: Path) -> None:
    p.write_bytes(os.urandom(3000))


def _truncated(p: Path) -> None:
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 3])


def _text_file(p: Path) -> None:
    p.write_text("this is not a database\n" * 50)


@pytest.mark.parametrize("damage", [_garbage, _truncated, _text_file], ids=["garbage", "truncated", "text-file"])
def test_damaged_store_is_one_line_naming_the_file(damage, tmp_path, capsys):
    home = tmp_path / "ws"
    home.mkdir()
    with home_at(home):
        build_workspace(home)
        store = home / "models" / "workbench.sqlite"
        snapshot(home)  # checkpoint: the whole store is in the main file
        for extra in ("-wal", "-shm"):
            Path(str(store) + extra).unlink(missing_ok=True)
        damage(store)
        damaged = store.read_bytes()
        for argv in [*READ_COMMANDS, ["shortlist", "add", "tiny", "minilm"]]:
            line = one_line_error(capsys, argv, "workbench.sqlite")
            assert "damaged or not a workbench store" in line, line
        assert store.read_bytes() == damaged, "a damaged store must be left as it is (for recovery)"
        if damage is _garbage:  # the dashboard says the same, on its first page, without a traceback
            from streamlit.testing.v1 import AppTest

            at = AppTest.from_file(str(Path(__file__).parent.parent / "dashboard" / "Home.py"), default_timeout=60)
            at.run()
            assert not at.exception and any("workbench.sqlite" in e.value for e in at.error)
        store.unlink()  # what the message says to do: move it aside → a fresh, empty store
        assert main(["runs", "list"]) == 0


# ------------------------------------------------------------------- SIGKILL during writes
HAMMER = """
import random, sys, time
from pipelines.store import Store
s = Store()
print("ready", flush=True)
i = 0
while True:
    i += 1
    jid = s.enqueue("majority", {"dataset": "tiny", "i": i})
    s.put("hammer", str(i % 50), {"i": i, "pad": "x" * random.randint(0, 5000)})
    s.log_metric(jid, i, "loss", 1.0 / i)
    s.finish(jid, "cancelled")
"""


def test_sigkill_during_store_writes(tmp_path):
    home = tmp_path / "ws"
    home.mkdir()
    with home_at(home):
        build_workspace(home)
    env = {**os.environ, "WORKBENCH_HOME": str(home)}
    for delay in (0.3, 0.7, 1.1):
        proc = subprocess.Popen([sys.executable, "-c", HAMMER], env=env, stdout=subprocess.PIPE, text=True)
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        assert_healthy(home)


WORKER = ("import tests.kind_majority; from pipelines.worker import worker_loop; "
          "raise SystemExit(0 if worker_loop(once=True) >= 0 else 1)")


@pytest.mark.parametrize("phase, config, started", [
    ("training", {"sleep_s": 30.0}, lambda job: (job["progress"] or 0) > 0),
    ("evaluation", {"predict_sleep_s": 30.0}, lambda job: job["message"] == "scoring the test split"),
])
def test_sigkill_of_a_worker_mid_job(tmp_path, phase, config, started):
    """A worker killed while its job trains or evaluates: the lease expires, the job fails with the reason,
    nothing lands, and the store and every finished run stay usable."""
    from pipelines import paths
    from pipelines.jobs import submit
    from pipelines.store import Store

    home = tmp_path / "ws"
    home.mkdir()
    with home_at(home):
        build_workspace(home)
        store = Store()
        job_id = submit(store, "majority", {"dataset": "tiny", "speed_samples": 0, **config})
        runs_before = {r["id"] for r in store.runs()}
        proc = subprocess.Popen([sys.executable, "-c", WORKER], cwd=paths.REPO_ROOT, start_new_session=True,
                                env={**os.environ, "WORKBENCH_HOME": str(home), "WORKBENCH_LEASE_S": "2"},
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not started(store.job(job_id)):
            time.sleep(0.1)
        assert started(store.job(job_id)), f"the job never reached {phase}"
        assert store.job(job_id)["status"] == "running"
        os.killpg(proc.pid, signal.SIGKILL)  # the worker and the job's own process
        proc.wait(timeout=30)
        time.sleep(2.5)
        assert store.reap_stale() == [job_id]
        job = store.job(job_id)
        assert job["status"] == "failed" and "lease expired" in job["error"]
        assert {r["id"] for r in store.runs()} == runs_before
    assert_healthy(home)
    shutil.rmtree(home / "models" / "runs" / ".partial", ignore_errors=True)
