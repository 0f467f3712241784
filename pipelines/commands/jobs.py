"""``jobs list|cancel|retry``: the queue, who holds each running job, when each will be done (ETA), and what to
do about it."""

from __future__ import annotations

import time

from .. import estimate
from ..eta import queue_etas
from ..jobs import lease_holder
from ..store import Store
from ..textout import format_table


def register(sub) -> None:
    j = sub.add_parser("jobs", help="list, cancel or retry jobs")
    jsub = j.add_subparsers(dest="jobs_command", required=True)
    lp = jsub.add_parser("list", help="recent jobs with status, progress and the worker holding them")
    lp.add_argument("--status", choices=["queued", "running", "done", "failed", "cancelled"])
    lp.set_defaults(func=_jobs_list)
    cp = jsub.add_parser("cancel", help="cancel a queued or running job")
    cp.add_argument("job_id", type=int)
    cp.set_defaults(func=_jobs_cancel)
    rp = jsub.add_parser("retry", help="queue a failed or cancelled job again (its next attempt)")
    rp.add_argument("job_id", type=int)
    rp.set_defaults(func=_jobs_retry)


def _jobs_list(args) -> int:
    store = Store()
    store.reap_stale()
    rows = []
    jobs = store.jobs(status=args.status)
    etas = queue_etas(store, store.jobs(status=("queued", "running"), limit=10_000))  # every job ahead counts
    for j in jobs:
        cfg = j["config"]
        eta = etas.get(j["id"])
        rows.append({"id": j["id"], "kind": j["kind"], "status": j["status"], "progress": f"{j['progress']:.0%}",
                     "done in": _eta_cell(eta), "eta from": eta.source if eta else "",
                     "attempt": j["attempt"], "model": cfg.get("model"), "method": cfg.get("method") or cfg.get("mode"),
                     "dataset": cfg.get("dataset") or cfg.get("source"), "run": j["run_id"],
                     "held by": lease_holder(j), "message": (j["message"] or "")[:40], "age": _age(j["created_at"])})
    print(format_table(rows))
    failed = [j for j in store.jobs(status="failed", limit=5) if j["error"]]
    for j in failed[:3] if not args.status or args.status == "failed" else []:
        print(f"\njob {j['id']} failed: {j['error'].splitlines()[0]}")
    return 0


def _jobs_cancel(args) -> int:
    print(f"job {args.job_id}: {Store().request_cancel(args.job_id)}")
    return 0


def _jobs_retry(args) -> int:
    store = Store()
    job_id = store.retry(args.job_id)
    print(f"job {job_id} queued again (attempt {store.job(job_id)['attempt']})")
    return 0


def _eta_cell(eta) -> str:
    if eta is None:
        return ""
    if eta.done_in_s is None:
        return "unknown"
    return ("~" if eta.rough else "") + estimate.words(eta.done_in_s)


def _age(t: float) -> str:
    s = time.time() - t
    return f"{s:.0f}s" if s < 120 else f"{s / 60:.0f}m" if s < 7200 else f"{s / 3600:.0f}h"
