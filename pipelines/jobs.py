"""Running jobs: the context a job function gets, in-process execution, and the worker loop.

A job function has the signature ``fn(config: dict, ctx: JobContext) -> str`` (the run id).
It writes into ``ctx.work_dir``, reports ``ctx.progress(...)`` (which raises ``Cancelled``
once a cancel was requested) and finishes with ``ctx.finalize_run(...)``. The same path runs
a job queued by the dashboard (``python -m pipelines worker``) and one started from the CLI,
so both leave the same rows and folders.

A daemon thread beats the heartbeat every few seconds, also during a long forward pass, so
only a dead process (SIGKILL, OOM, power) goes stale; ``Store.reap_stale`` then fails the job.
"""

from __future__ import annotations

import importlib
import logging
import os
import signal
import threading
import time
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from . import paths, runs
from .store import Store

log = logging.getLogger(__name__)

# kind -> "module:function"; imported lazily so the worker starts fast and a kind whose
# optional dependencies are missing fails only its own jobs.
JOB_KINDS: dict[str, str] = {
    "finetune": "pipelines.finetune:run_finetune_job",
    "prompt": "pipelines.prompting:run_prompt_job",
    "prepare": "pipelines.data:run_prepare_job",  # returns no run
}

HEARTBEAT_EVERY_S = 3.0


class Cancelled(Exception):
    """Raised inside a job when the user asked to cancel it."""


class JobContext:
    def __init__(self, store: Store, job: dict[str, Any]):
        self.store = store
        self.job = job
        self.job_id: int = job["id"]
        self.kind: str = job["kind"]
        self.config: dict[str, Any] = job["config"]
        self.work_dir: Path = runs.work_dir_for(self.kind, self.config)
        self.cancel_requested = False
        self._progress: float | None = None
        self._message: str | None = None
        self._stop = threading.Event()
        self._log_handler = logging.FileHandler(self.work_dir / "log.txt")
        self._log_handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        self.logger = logging.getLogger(f"pipelines.job.{self.job_id}")

    # -- called by job code
    def progress(self, fraction: float, message: str | None = None) -> None:
        """Record progress (0..1) and a short status line; raise Cancelled if asked to stop."""
        self._progress = max(0.0, min(1.0, float(fraction)))
        if message:
            self._message = message
        self.check_cancel()

    def check_cancel(self) -> None:
        if self.cancel_requested:
            raise Cancelled(f"job {self.job_id} cancelled by user")

    def log_metric(self, step: int, name: str, value: float, epoch: float | None = None) -> None:
        self.store.log_metric(self.job_id, step, name, value, epoch)

    def finalize_run(self, *, dataset: dict[str, Any], model: str, method: str | None,
                     metrics: dict[str, Any], name: str | None = None) -> str:
        """Move the work folder into place and register the run, in that order."""
        run_id = runs.new_run_id(model, method)
        folder = runs.finalize(self.work_dir, run_id)
        self.store.add_run({
            "id": run_id, "job_id": self.job_id, "kind": self.kind, "name": name or run_id,
            "dataset_id": dataset["id"], "split_hash": dataset["split_hash"], "model": model,
            "method": method, "path": str(folder), "summary": runs.summary_from_metrics(metrics),
        })
        return run_id

    # -- heartbeat
    def _beat(self) -> None:
        while not self._stop.wait(HEARTBEAT_EVERY_S):
            self._beat_once()

    def _beat_once(self) -> None:
        try:
            if self.store.heartbeat(self.job_id, self._progress, self._message):
                self.cancel_requested = True
        except Exception:  # a locked DB must not kill the job; the next beat retries
            log.exception("heartbeat failed")

    def __enter__(self) -> JobContext:
        self.work_dir.mkdir(parents=True, exist_ok=True)
        logging.getLogger().addHandler(self._log_handler)
        self._thread = threading.Thread(target=self._beat, daemon=True, name=f"heartbeat-{self.job_id}")
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._beat_once()
        logging.getLogger().removeHandler(self._log_handler)
        self._log_handler.close()


def resolve(kind: str) -> Callable[[dict[str, Any], JobContext], str]:
    if kind not in JOB_KINDS:
        raise ValueError(f"unknown job kind {kind!r}; known: {', '.join(JOB_KINDS)}")
    module, func = JOB_KINDS[kind].split(":")
    return getattr(importlib.import_module(module), func)


def execute(store: Store, job: dict[str, Any]) -> dict[str, Any]:
    """Run one claimed job to its end and record how it ended. Returns the final job row."""
    job_id = job["id"]
    try:
        fn = resolve(job["kind"])
        with JobContext(store, job) as ctx:
            ctx.logger.info("job %s (%s) started in pid %s", job_id, job["kind"], os.getpid())
            run_id = fn(job["config"], ctx)
        store.finish(job_id, "done", run_id=run_id)
    except Cancelled as exc:
        log.info("%s", exc)
        store.finish(job_id, "cancelled", error=str(exc))
    except Exception as exc:  # any failure is the job's, never the worker's
        log.error("job %s failed: %s", job_id, exc)
        store.finish(job_id, "failed", error=f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=8)}")
    return store.job(job_id)


def run_now(kind: str, config: dict[str, Any], store: Store | None = None) -> dict[str, Any]:
    """Enqueue a job and run it in this process (the CLI's default)."""
    store = store or Store()
    job_id = store.enqueue(kind, config)
    store.claim(job_id)
    return execute(store, store.job(job_id))


def worker_loop(store: Store | None = None, once: bool = False, poll_s: float = 1.0,
                idle_exit_s: float | None = None) -> int:
    """Execute queued jobs one at a time (one tracked job per machine, see emissions.py).

    Returns the number of jobs executed. ``once``: stop when the queue is empty;
    ``idle_exit_s``: stop after that long without work (used by on-demand workers).
    """
    store = store or Store()
    paths.ensure_dirs()
    stop = threading.Event()

    def _term(signum: int, _frame: Any) -> None:
        log.info("worker got signal %s; finishing current job then exiting", signum)
        stop.set()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _term)
    reaped = store.reap_stale()
    if reaped:
        log.warning("marked %d job(s) from dead workers as failed: %s", len(reaped), reaped)
    store.put("worker", "current", {"pid": os.getpid(), "started_at": time.time()})
    done, idle_since = 0, time.monotonic()
    while not stop.is_set():
        job = store.claim_next()
        if job is None:
            if once or (idle_exit_s is not None and time.monotonic() - idle_since > idle_exit_s):
                break
            stop.wait(poll_s)
            store.put("worker", "current", {"pid": os.getpid(), "started_at": time.time(), "idle": True})
            continue
        log.info("worker: job %s (%s)", job["id"], job["kind"])
        execute(store, job)
        done += 1
        idle_since = time.monotonic()
    store.delete("worker", "current")
    return done


def worker_alive(store: Store) -> bool:
    """Is a worker process registered and still running on this machine?"""
    from .store import _pid_alive

    info = store.get("worker", "current")
    return bool(info and _pid_alive(info.get("pid")))
