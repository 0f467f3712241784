"""``worker``: execute queued jobs; ``jobs``: list, cancel, retry them."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from .. import paths
from ..cli import format_table
from ..store import Store


def register(sub) -> None:
    p = sub.add_parser("worker", help="execute queued jobs (one at a time)",
                       description="Run queued jobs one after another. A job left 'running' by a worker that died "
                                   "is marked failed on start.")
    p.add_argument("--once", action="store_true", help="exit when the queue is empty")
    p.add_argument("--idle-exit", type=float, default=None, metavar="SECONDS",
                   help="exit after this long without work")
    p.add_argument("--detach", action="store_true",
                   help="start the worker in the background (log: models/worker.log) and return")
    p.set_defaults(func=_worker)

    j = sub.add_parser("jobs", help="list, cancel or retry jobs")
    jsub = j.add_subparsers(dest="jobs_command", required=True)
    lp = jsub.add_parser("list", help="recent jobs with status and progress")
    lp.add_argument("--status", choices=["queued", "running", "done", "failed", "cancelled"])
    lp.set_defaults(func=_jobs_list)
    cp = jsub.add_parser("cancel", help="cancel a queued or running job")
    cp.add_argument("job_id", type=int)
    cp.set_defaults(func=_jobs_cancel)
    rp = jsub.add_parser("retry", help="queue a copy of a failed or cancelled job")
    rp.add_argument("job_id", type=int)
    rp.set_defaults(func=_jobs_retry)


def start_detached_worker(idle_exit: float | None = None) -> int:
    """Start ``python -m pipelines worker`` in its own session so it outlives the caller."""
    paths.ensure_dirs()
    cmd = [sys.executable, "-m", "pipelines", "worker"]
    if idle_exit is not None:
        cmd += ["--idle-exit", str(idle_exit)]
    log = open(paths.models_dir() / "worker.log", "ab")  # noqa: SIM115 - handed to the child
    proc = subprocess.Popen(cmd, cwd=paths.REPO_ROOT, stdout=log, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, start_new_session=True, env=os.environ.copy())
    return proc.pid


def _worker(args) -> int:
    from ..jobs import worker_alive, worker_loop

    store = Store()
    if args.detach:
        if worker_alive(store):
            print("a worker is already running")
            return 0
        pid = start_detached_worker(args.idle_exit)
        print(f"worker started in the background (pid {pid}); log: {paths.models_dir() / 'worker.log'}")
        return 0
    n = worker_loop(store, once=args.once, idle_exit_s=args.idle_exit)
    print(f"worker: {n} job(s) executed")
    return 0


def _jobs_list(args) -> int:
    store = Store()
    store.reap_stale()
    rows = []
    for j in store.jobs(status=args.status):
        cfg = j["config"]
        rows.append({"id": j["id"], "kind": j["kind"], "status": j["status"], "progress": f"{j['progress']:.0%}",
                     "model": cfg.get("model"), "method": cfg.get("method") or cfg.get("mode"),
                     "dataset": cfg.get("dataset"), "run": j["run_id"], "message": (j["message"] or "")[:40],
                     "age": _age(j["created_at"])})
    print(format_table(rows))
    failed = [j for j in store.jobs(status="failed", limit=5) if j["error"]]
    for j in failed[:3] if not args.status or args.status == "failed" else []:
        print(f"\njob {j['id']} failed: {j['error'].splitlines()[0]}")
    return 0


def _jobs_cancel(args) -> int:
    print(f"job {args.job_id}: {Store().request_cancel(args.job_id)}")
    return 0


def _jobs_retry(args) -> int:
    print(f"queued job {Store().retry(args.job_id)} (copy of {args.job_id})")
    return 0


def _age(t: float) -> str:
    s = time.time() - t
    return f"{s:.0f}s" if s < 120 else f"{s / 60:.0f}m" if s < 7200 else f"{s / 3600:.0f}h"
