"""The local executor: one worker process runs queued jobs one at a time, cheapest first.

One at a time on purpose: speed figures stay comparable when jobs do not compete for the
same cores (a cluster executor may run several jobs at once, each on its own resources).
Each job runs in a process of its own (``python -m pipelines run-job``) under the worker's
lease: its energy is charged by that process tree's CPU time, the worker is never charged,
and a job that crashes or is killed takes only its own process down — the worker records
why and goes on. The worker registers itself in the store (kv ``worker``/``current``) so the
dashboard knows whether to start one; jobs themselves are held by leases (see
:mod:`pipelines.store`), not by this record.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from typing import Any

from . import paths
from .procs import pid_alive
from .store import Store, this_worker_id
from .sweeps import apply_retention

log = logging.getLogger(__name__)


def worker_loop(store: Store | None = None, once: bool = False, poll_s: float = 1.0,
                idle_exit_s: float | None = None) -> int:
    """Execute queued jobs one at a time. Returns the number of jobs executed.

    ``once``: stop when the queue is empty; ``idle_exit_s``: stop after that long without
    work (used by on-demand workers). SIGTERM finishes the current job, then exits.
    """
    store = store or Store()
    paths.ensure_dirs()
    stop = threading.Event()

    def _term(signum: int, _frame: Any) -> None:
        log.info("worker got signal %s; finishing current job then exiting", signum)
        stop.set()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _term)
    worker_id = this_worker_id()
    reaped = store.reap_stale()
    if reaped:
        log.warning("failed %d job(s) whose lease had expired: %s", len(reaped), reaped)
    record = {"pid": os.getpid(), "worker_id": worker_id, "started_at": time.time()}
    store.put("worker", "current", record)
    done, idle_since = 0, time.monotonic()
    while not stop.is_set():
        job = store.claim_next(worker_id)
        if job is None:
            if once or (idle_exit_s is not None and time.monotonic() - idle_since > idle_exit_s):
                break
            stop.wait(poll_s)
            store.reap_stale()
            store.put("worker", "current", {**record, "idle": True})
            continue
        log.info("worker %s: job %s (%s), attempt %s", worker_id, job["id"], job["kind"], job["attempt"])
        run_in_own_process(store, job, worker_id)
        if job.get("sweep"):
            apply_retention(store, job["sweep"])
        done += 1
        idle_since = time.monotonic()
    store.delete("worker", "current")
    return done


def run_in_own_process(store: Store, job: dict[str, Any], worker_id: str) -> dict[str, Any]:
    """Run a claimed job in a child process and wait; a child that died without finishing fails the job."""
    proc = subprocess.Popen([sys.executable, "-m", "pipelines", "run-job", str(job["id"]), "--worker-id", worker_id],
                            cwd=paths.REPO_ROOT, stdin=subprocess.DEVNULL, env=os.environ.copy())
    code = proc.wait()
    row = store.job(job["id"])
    if row["status"] == "running" and row.get("worker_id") == worker_id:
        how = f"was killed by signal {-code}" if code < 0 else f"exited with code {code}"
        hint = " (out of memory?)" if code == -signal.SIGKILL else ""
        store.finish(job["id"], "failed", error=f"the job's process {how}{hint} before the job finished; "
                                                "retry the job to run it again")
        row = store.job(job["id"])
    return row


def worker_alive(store: Store) -> bool:
    """Is a local worker process registered and still running on this machine?"""
    info = store.get("worker", "current")
    return bool(info and pid_alive(info.get("pid")))
