"""``worker``: execute queued jobs, cheapest first — locally one at a time, or on a Ray cluster."""

from __future__ import annotations

from .. import paths
from ..store import Store
from .common import UserError

EXECUTORS = ("local", "ray")


def register(sub) -> None:
    p = sub.add_parser("worker", help="execute queued jobs (one at a time, cheapest first; or on a Ray cluster)",
                       description="Run queued jobs one after another, cheapest first. Each job is held by a lease "
                                   "that the worker renews; a job whose lease expired (its worker died) is marked "
                                   "failed with the reason, and `jobs retry` runs it again. With --executor ray the "
                                   "worker is a Ray driver: each job becomes a Ray task (several at once when the "
                                   "cluster has room), while this process keeps the store, the leases and the runs.")
    p.add_argument("--once", action="store_true", help="exit when the queue is empty")
    p.add_argument("--idle-exit", type=float, default=None, metavar="SECONDS",
                   help="exit after this long without work")
    p.add_argument("--detach", action="store_true",
                   help="start the worker in the background (log: models/worker.log) and return")
    p.add_argument("--executor", choices=EXECUTORS, default="local",
                   help="local: run jobs on this machine, one at a time (default); ray: submit them to a Ray cluster")
    p.add_argument("--address", default=None, metavar="ADDR",
                   help="with --executor ray: the cluster to join (host:port of `ray start --head`); default: "
                        "RAY_ADDRESS, a cluster started on this machine, else a private one")
    p.add_argument("--max-concurrent", type=int, default=None, metavar="N",
                   help="with --executor ray: jobs running at once (default: the cluster's CPUs, one per job)")
    p.set_defaults(func=_worker)


def executor_args(executor: str = "local", address: str | None = None, max_concurrent: int | None = None) -> list[str]:
    """The worker flags for an executor choice (the dashboard's setting goes through here)."""
    if executor not in EXECUTORS:
        raise UserError(f"unknown executor {executor!r}; choose one of {', '.join(EXECUTORS)}")
    if executor == "local":
        return []
    return (["--executor", executor] + (["--address", address] if address else [])
            + (["--max-concurrent", str(max_concurrent)] if max_concurrent else []))


def start_detached_worker(idle_exit: float | None = None, extra: list[str] | None = None) -> int:
    """Start ``python -m pipelines worker`` in its own session so it outlives the caller."""
    from ..procs import spawn_detached

    args = ["worker"] + (["--idle-exit", str(idle_exit)] if idle_exit is not None else []) + list(extra or [])
    return spawn_detached(args, paths.models_dir() / "worker.log").pid


def _worker(args) -> int:
    from ..worker import worker_alive

    if args.max_concurrent is not None and args.max_concurrent < 1:
        raise UserError("--max-concurrent must be at least 1")
    if args.executor == "local" and (args.address or args.max_concurrent):
        raise UserError("--address and --max-concurrent apply to --executor ray only")
    store = Store()
    if args.detach:
        if worker_alive(store):
            print("a worker is already running")
            return 0
        pid = start_detached_worker(args.idle_exit, executor_args(args.executor, args.address, args.max_concurrent))
        print(f"worker started in the background (pid {pid}); log: {paths.models_dir() / 'worker.log'}")
        return 0
    if args.executor == "ray":
        from ..executors.ray_executor import ray_worker_loop

        n = ray_worker_loop(store, address=args.address, max_concurrent=args.max_concurrent, once=args.once,
                            idle_exit_s=args.idle_exit)
    else:
        from ..worker import worker_loop

        n = worker_loop(store, once=args.once, idle_exit_s=args.idle_exit)
    print(f"worker: {n} job(s) executed")
    return 0
