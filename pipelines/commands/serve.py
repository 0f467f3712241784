"""``serve``: the predictor service the dashboard's Playground and Data pages talk to."""

from __future__ import annotations

from ..serve import DEFAULT_BUDGET_MB, DEFAULT_IDLE_EXIT_S, DEFAULT_THREADS


def register(sub) -> None:
    p = sub.add_parser(
        "serve", help="keep run predictors warm and answer predict requests on 127.0.0.1",
        description="Long-lived predictor service. Listens on 127.0.0.1 only (a free port unless --port), records "
                    "its address in the store so the dashboard finds it, keeps loaded models under a memory budget "
                    "(least recently used evicted first) and exits after --idle-exit seconds without requests.")
    p.add_argument("--port", type=int, default=0, help="TCP port on 127.0.0.1 (default: a free one)")
    p.add_argument("--memory-budget-mb", type=float, default=DEFAULT_BUDGET_MB,
                   help=f"memory for warm models before LRU eviction (default: {DEFAULT_BUDGET_MB:.0f})")
    p.add_argument("--idle-exit", type=float, default=DEFAULT_IDLE_EXIT_S, metavar="SECONDS",
                   help=f"exit after this long without requests; 0 = never (default: {DEFAULT_IDLE_EXIT_S:.0f})")
    p.add_argument("--threads", type=int, default=DEFAULT_THREADS,
                   help=f"intra-op threads per model (torch, ONNX Runtime); 0 = torch's default (default: "
                        f"{DEFAULT_THREADS}). How many models answer at once follows WORKBENCH_THREADS or the rule "
                        "in pipelines/threads.py (fewer while a job runs)")
    p.add_argument("--warm", nargs="*", default=[], metavar="RUN_ID", help="load these runs before serving")
    p.set_defaults(func=_serve)


def _serve(args) -> int:
    from ..serve import serve

    if args.memory_budget_mb <= 0:
        raise ValueError(f"--memory-budget-mb must be positive, got {args.memory_budget_mb}")
    serve(port=args.port, budget_mb=args.memory_budget_mb, idle_exit_s=args.idle_exit or None, warm=args.warm,
          n_threads=args.threads or None)
    return 0
