"""``python -m pipelines curve``: how many labels do I need? One run per training-set size, as a sweep.

  python -m pipelines curve --dataset rt --sizes 50,100,250,500,1000,all          # TF-IDF (seconds)
  python -m pipelines curve --kind probe --model minilm --dataset rt              # embeddings cached once
  python -m pipelines curve --kind finetune --model minilm --epochs 3 --dataset rt

Each size trains on a nested, seeded, class-stratified subset of the train split (the 100
texts contain the 50; ``--seed`` picks the order) and is scored on the same test split as
every other run. Points keep metrics and predictions, not weights. Compare draws the curve
with the dataset's LLM runs as horizontal references. Kind flags are those of ``finetune``
or ``baseline KIND`` (a flag the chosen kind lacks is refused).
"""

from __future__ import annotations

import argparse
import dataclasses

from ..configs import config_fields
from ..curves import DEFAULT_SIZES, FIELD, KINDS
from .common import UserError


def _config_class(kind: str) -> type:
    from .. import kinds

    return kinds.get(kind).config


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("curve", help="learning curve: quality against the number of labelled training texts",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--kind", choices=KINDS, default="tfidf", help="the model kind (default tfidf: seconds a point)")
    p.add_argument("--sizes", default=DEFAULT_SIZES, help=f"training-set sizes, 'all' = the whole train split "
                                                          f"(default {DEFAULT_SIZES})")
    p.add_argument("--queue", action="store_true", help="only enqueue the points for the worker, do not run them here")
    kind_flags = p.add_argument_group("kind flags (those of the chosen kind; defaults are the kind's)")
    owners: dict[str, list[str]] = {}
    fields = {}
    for kind in KINDS:
        for f in config_fields(_config_class(kind), skip=(FIELD, "nested_subsample")):
            owners.setdefault(f.name, []).append(kind)
            fields.setdefault(f.name, f)
    for name, f in fields.items():  # one flag per field of any kind; SUPPRESS: only what the user typed
        kinds_note = "" if len(owners[name]) == len(KINDS) else f" [{', '.join(owners[name])}]"
        if f.type is bool:
            kind_flags.add_argument(f.flag, dest=name, action=argparse.BooleanOptionalAction,
                                    default=argparse.SUPPRESS, help=f.help + kinds_note)
        elif f.is_list:
            kind_flags.add_argument(f.flag, dest=name, nargs="+", type=f.item_type, default=argparse.SUPPRESS,
                                    help=f.help + kinds_note)
        else:
            kind_flags.add_argument(f.flag, dest=name, type=f.type, default=argparse.SUPPRESS,
                                    help=f.help + kinds_note)
    p.set_defaults(func=run, _owners=owners)


def run(args: argparse.Namespace) -> int:
    from .. import curves, sweeps
    from ..data import ensure_prepared
    from ..jobs import execute
    from ..store import Store
    from .finetune import _check_dataset

    cls = _config_class(args.kind)
    names = {f.name for f in dataclasses.fields(cls)}
    given = {k: v for k, v in vars(args).items() if k in args._owners}
    wrong = sorted(k for k in given if k not in names)
    if wrong:
        flags = ", ".join("--" + k.replace("_", "-") for k in wrong)
        raise UserError(f"{flags}: not a flag of the {args.kind} kind (see python -m pipelines curve --help)")
    cfg = cls(**given)  # bad values fail here, before a job row exists
    _check_dataset(cfg.dataset)
    if args.kind in ("probe", "finetune"):
        from ..model_check import check_model

        check_model(cfg.model, "encoder")
    n_train = len(ensure_prepared(cfg.dataset).train)
    try:
        sizes = curves.parse_sizes(args.sizes, n_train)
    except ValueError as exc:
        raise UserError(str(exc)) from None
    store = Store()
    sweep_id, ids = curves.queue_curve(store, args.kind, cfg.to_dict(), sizes)
    words = ", ".join(str(s) if s else f"all ({n_train})" for s in sizes)
    print(f"curve {sweep_id}: queued {len(ids)} {args.kind} point(s) on {cfg.dataset}: {words} labelled texts")
    if args.queue:
        print("run `python -m pipelines worker` to execute them")
        return 0
    failed = 0
    for job_id in ids:
        if store.claim(job_id):
            job = execute(store, store.job(job_id))
            failed += job["status"] != "done"
            row = store.run(job["run_id"]) if job.get("run_id") else None
            score = f" macro-F1 {row['summary'].get('macro_f1'):.3f}" if row and (row.get("summary") or {}).get(
                "macro_f1") is not None else ""
            print(f"job {job_id}: {job['status']}" + (f" → run {job['run_id']}{score}" if job.get("run_id") else ""))
    dropped = sweeps.apply_retention(store, sweep_id)
    print(f"weights dropped for {len(dropped)} point(s): a curve keeps metrics and predictions; see Compare")
    return 1 if failed else 0
