"""``runs list|show|delete|measure-speed``: the finished runs in the store."""

from __future__ import annotations

import json
from pathlib import Path

from .. import collapse
from .. import runs as runfiles
from ..runfolder import RunFolder
from ..store import Store
from ..textout import format_table
from .common import UserError


def register(sub) -> None:
    p = sub.add_parser("runs", help="list, show or delete finished runs")
    rsub = p.add_subparsers(dest="runs_command", required=True)
    lp = rsub.add_parser("list", help="one line per run")
    lp.add_argument("--dataset", help="only runs on this dataset")
    lp.set_defaults(func=_list)
    sp = rsub.add_parser("show", help="config and metrics of one run")
    sp.add_argument("run_id")
    sp.add_argument("--json", action="store_true", help="print metrics.json as is")
    sp.set_defaults(func=_show)
    dp = rsub.add_parser("delete", help="delete a run (store row and folder)")
    dp.add_argument("run_id", nargs="+")
    dp.set_defaults(func=_delete)
    mp = rsub.add_parser("measure-speed", help="queue speed-only jobs that measure runs' latency and throughput "
                                               "again (one at a time; the run folders stay as they are)")
    mp.add_argument("run_id", nargs="+")
    mp.add_argument("--now", action="store_true", help="measure here and now, one run after the other, "
                                                       "instead of queueing for the worker")
    mp.set_defaults(func=_measure_speed)


def _list(args) -> int:
    rows = []
    for r in Store().runs(dataset_id=args.dataset):
        s = r["summary"]
        rows.append({"run": r["id"], "name": r["name"], "kind": r["kind"], "model": Path(r["model"]).name,
                     "method": r["method"], "dataset": r["dataset_id"], "accuracy": s.get("accuracy"),
                     "macro_f1": s.get("macro_f1"), "energy_kwh": s.get("energy_kwh")})
    print(format_table(rows))
    return 0


def _get(run_id: str) -> dict:
    row = Store().run(run_id)
    if row is None:
        raise UserError(f"no run {run_id!r}; see `python -m pipelines runs list`")
    return row


def _show(args) -> int:
    row = _get(args.run_id)
    folder = Path(row["path"])
    metrics = RunFolder(folder).read_metrics()
    if args.json:
        print(json.dumps(metrics, indent=2))
        return 0
    cfg = RunFolder(folder).read_config()
    print(f"run       {row['id']}  ({row['name']})\nfolder    {folder}\nkind      {row['kind']}\n"
          f"dataset   {row['dataset_id']} (split {row['split_hash']})\nmodel     {row['model']} {row['method'] or ''}")
    print("config    " + json.dumps(cfg.get("config", {}), sort_keys=True))
    for k in ("accuracy", "macro_f1", "micro_f1", "weighted_f1", "roc_auc", "pr_auc", "subset_accuracy",
              "hamming_loss", "invalid_rate"):
        if metrics.get(k) is not None:
            ci = metrics.get(f"{k}_ci")
            print(f"{k:<16}{metrics[k]:.4f}" + (f"  (95% CI {ci[0]:.4f}–{ci[1]:.4f})" if ci else ""))
    em = metrics.get("emissions") or {}
    if em:
        print(f"energy          {em.get('total_energy_kwh')} kWh, CO2eq {em.get('total_co2_kg')} kg")
    dist = collapse.for_run(folder, metrics)
    if dist:
        print(f"predictions     {collapse.shares_text(dist)}")
        if dist.get("warning"):
            print(f"warning: {dist['warning']}")
    return 0


def _known_runs(args) -> Store:
    """The store, once every run id given exists (an unknown one stops the command before it changes anything)."""
    for run_id in args.run_id:
        _get(run_id)
    return Store()


def _delete(args) -> int:
    store = _known_runs(args)
    for run_id in args.run_id:
        runfiles.delete_run(store, run_id)
        print(f"deleted {run_id}")
    return 0


def _measure_speed(args) -> int:
    """Queue (or run here) one ``speed`` job per run; print each figure and its load when run here."""
    from .. import speed
    from ..jobs import run_now
    from ..speed_job import queue

    store = _known_runs(args)
    if not args.now:
        ids = queue(store, list(args.run_id))
        skipped = len(args.run_id) - len(ids)
        print(f"queued {len(ids)} speed job(s): {', '.join(f'#{i}' for i in ids) or '-'}"
              + (f" ({skipped} already queued)" if skipped else "")
              + "; a worker runs them one at a time (`python -m pipelines worker`)")
        return 0
    failed = 0
    for run_id in args.run_id:
        job = run_now("speed", {"run_id": run_id}, store)
        if job["status"] != "done":
            failed += 1
            print(f"{run_id}: {job['status']}: {(job.get('error') or '').splitlines()[0] if job.get('error') else ''}")
            continue
        m = (store.get(speed.NAMESPACE, run_id) or {}).get("measurements", [{}])[-1]
        flag = "CONTENDED" if m.get("contended") else "uncontended"
        print(f"{run_id}: {m.get('latency_ms', float('nan')):.2f} ms/text, {m.get('throughput', float('nan')):.1f} "
              f"texts/s · load {m.get('load_1m')} on {m.get('cores')} cores, other work {m.get('others_load')} "
              f"({flag})")
    return 1 if failed else 0
