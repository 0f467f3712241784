"""``worker``: execute queued jobs, cheapest first, one at a time."""

from __future__ import annotations

from .. import paths
from ..store import Store


def register(sub) -> None:
    p = sub.add_parser("worker", help="execute queued jobs (one at a time, cheapest first)",
                       description="Run queued jobs one after another, cheapest first. Each job is held by a lease "
                                   "that the worker renews; a job whose lease expired (its worker died) is marked "
                                   "failed with the reason, and `jobs retry` runs it again.")
    p.add_argument("--once", action="store_true", help="exit when the queue is empty")
    p.add_argument("--idle-exit", type=float, default=None, metavar="SECONDS",
                   help="exit after this long without work")
    p.add_argument("--detach", action="store_true",
                   help="start the worker in the background (log: models/worker.log) and return")
    p.set_defaults(func=_worker)


def start_detached_worker(idle_exit: float | None = None) -> int:
    """Start ``python -m pipelines worker`` in its own session so it outlives the caller."""
    from ..procs import spawn_detached

    args = ["worker"] + (["--idle-exit", str(idle_exit)] if idle_exit is not None else [])
    return spawn_detached(args, paths.models_dir() / "worker.log").pid


def _worker(args) -> int:
    from ..worker import worker_alive, worker_loop

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
