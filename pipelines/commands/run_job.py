"""``run-job``: run one claimed job in this process (the local worker starts one per job).

Why a process per job: the job's energy is charged by its own process tree's CPU time
(:mod:`pipelines.attribution`), so the tree must hold the job and nothing else — not the
worker, not an earlier job's leftovers; a crash, an out-of-memory kill or a leaked thread
ends with the job's process, never the worker's. Not meant to be typed by hand.

Threads: before the job starts, this process takes its share of the cores
(:func:`pipelines.threads.start_job`: all of them unless the predictor service is active, or
``WORKBENCH_THREADS``) and announces itself in the store, so the service answers with fewer.
"""

from __future__ import annotations

import argparse
import os


def register(sub) -> None:
    p = sub.add_parser("run-job", help="(internal) run one job the worker has claimed, in this process")
    p.add_argument("job_id", type=int)
    p.add_argument("--worker-id", required=True, help="the lease holder: the worker that claimed the job")
    p.set_defaults(func=_run_job)


def _run_job(args: argparse.Namespace) -> int:
    from .. import threads
    from ..jobs import execute
    from ..store import Store

    store = Store()
    job = store.job(args.job_id)
    if job is None or job["status"] != "running" or job.get("worker_id") != args.worker_id:
        raise ValueError(f"job {args.job_id} is not running under worker {args.worker_id}; "
                         "run-job only runs a job its worker has claimed")
    threads.start_job(store)
    with threads.registered(store, f"job:{os.getpid()}", job_id=args.job_id):
        return 0 if execute(store, job, args.worker_id)["status"] == "done" else 1
