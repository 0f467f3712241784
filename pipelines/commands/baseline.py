"""``python -m pipelines baseline KIND``: train a reference baseline (tfidf, probe, setfit) and evaluate it.

Each kind is a sub-command whose flags come from its config dataclass, so ``python -m
pipelines baseline probe --help`` lists exactly the probe's knobs with their defaults and
valid ranges (one ``--kind`` flag could not: the three kinds have different fields and
different defaults for the shared ones). Like ``finetune``, it runs in this process through
the worker's job path; ``--queue`` only enqueues the job for ``python -m pipelines worker``.

  tfidf   word + char n-gram TF-IDF + logistic regression (seconds; the reference line)
  probe   frozen encoder embeddings (cached per model and split) + logistic regression
  setfit  SetFit on n labelled examples per class (the few-labels regime)
"""

from __future__ import annotations

import argparse

from ..configs import add_dataclass_args, config_from_args
from .finetune import add_seeds_flag

KINDS = ("tfidf", "probe", "setfit")
SEEDED = ("probe",)  # kinds with --seeds: a full-data TF-IDF fit does not move with the seed


def _config_class(kind: str) -> type:
    from .. import kinds

    return kinds.get(kind).config


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("baseline", help="train a reference baseline (tfidf, probe, setfit) and evaluate it",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    kinds_sub = p.add_subparsers(dest="kind", metavar="KIND", required=True)
    for kind in KINDS:
        cls = _config_class(kind)
        k = kinds_sub.add_parser(kind, help=(cls.__doc__ or kind).strip().splitlines()[0],
                                 description=(cls.__doc__ or "").strip())
        add_dataclass_args(k, cls)
        k.add_argument("--queue", action="store_true", help="only enqueue the job for the worker, do not run it here")
        if kind in SEEDED:
            add_seeds_flag(k)
        k.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..jobs import run_now, submit
    from ..store import Store
    from .finetune import _check_dataset, _summary, run_seeds

    cfg = config_from_args(_config_class(args.kind), args)  # bad flags fail here, before a job row exists
    _check_dataset(cfg.dataset)
    store = Store()
    if getattr(args, "seeds", 1) > 1:
        return run_seeds(store, args.kind, cfg.to_dict(), args.seeds, args.queue)
    if args.queue:
        job_id = submit(store, args.kind, cfg.to_dict())
        print(f"queued job {job_id} ({args.kind} {cfg.model} on {cfg.dataset}); "
              "run `python -m pipelines worker` to execute it")
        return 0
    job = run_now(args.kind, cfg.to_dict(), store)
    if job["status"] != "done":
        error = (job.get("error") or job["status"]).strip().splitlines()[0]
        print(f"error: job {job['id']} {job['status']}: {error}")
        return 1
    print(_baseline_summary(store, job["run_id"], _summary))
    return 0


def _baseline_summary(store, run_id: str, summary) -> str:
    """finetune's summary with its train line (epochs, steps) replaced by what a baseline has."""
    from .. import runs

    lines = [line for line in summary(store, run_id).splitlines() if not line.startswith("  train ")]
    tr = runs.read_json(runs.run_dir(run_id) / "metrics.json").get("train", {}) if runs.run_dir(run_id).exists() else {}
    parts = [f"{tr['train_samples']} texts" if tr.get("train_samples") else None,
             f"C={tr['C']:g}" if tr.get("C") else None,
             f"{tr['train_runtime_s']:.1f} s" if tr.get("train_runtime_s") else None,
             "embeddings from cache" if tr.get("embeddings_cached") and all(tr["embeddings_cached"].values()) else None]
    if any(parts):
        lines.insert(3, "  train     " + ", ".join(p for p in parts if p))
    return "\n".join(lines)
