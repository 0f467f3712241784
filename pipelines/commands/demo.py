"""``demo``: queue the default comparison (and, with ``--run``, execute it here)."""

from __future__ import annotations

from ..demo import PROFILES
from ..store import Store


def register(sub) -> None:
    p = sub.add_parser("demo", help="queue the default comparison (MiniLM full/LoRA, MPNet LoRA, SmolLM2 baselines)")
    p.add_argument("--profile", choices=PROFILES, default="default",
                   help="default: ~8 min on 2 idle cores (encoders on a sample of the train split); "
                        "full: one epoch over the whole train split (~23 min); tiny: seconds (tests)")
    p.add_argument("--dataset", default="rotten_tomatoes", help="prepared dataset id")
    p.add_argument("--run", action="store_true", help="execute the queue in this process until it is empty")
    p.set_defaults(func=_demo)


def _demo(args) -> int:
    from ..demo import queue_demo

    store = Store()
    ids = queue_demo(store, profile=args.profile, dataset=args.dataset)
    print(f"queued {len(ids)} demo job(s): {ids}" if ids else "demo already queued or done: nothing to add")
    if args.run:
        from ..worker import worker_loop

        worker_loop(store, once=True)
        failed = [j for j in store.jobs(status="failed", limit=50) if j["id"] in ids]
        if failed:
            print(f"{len(failed)} demo job(s) failed; see `python -m pipelines jobs list`")
            return 1
    return 0

