"""``python -m pipelines finetune``: fine-tune an encoder (full or LoRA) on a prepared dataset.

Runs in this process through the same job path as the worker (so the run lands in the store
exactly as a queued one would), printing progress and, at the end, the run id and its key
metrics. ``--queue`` only enqueues the job for ``python -m pipelines worker``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..configs import FinetuneConfig, add_dataclass_args, config_from_args
from .common import UserError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("finetune", help="fine-tune an encoder (full or LoRA) and evaluate it on the test split",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_dataclass_args(p, FinetuneConfig)
    p.add_argument("--queue", action="store_true", help="only enqueue the job for the worker, do not run it here")
    p.add_argument("--grid", action="append", default=[], metavar="FIELD=V1,V2",
                   help="sweep: one job per combination (repeat for several fields), e.g. "
                        "--grid learning_rate=1e-4,3e-4,1e-3 --grid method=full,lora")
    p.add_argument("--keep-weights", choices=["all", "best"], default="all",
                   help="sweep retention: keep every point's weights, or only the best point's (chosen on "
                        "validation); metrics and predictions are always kept")
    add_seeds_flag(p)
    p.set_defaults(func=run)


def _seed_count(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        n = 0
    if not 1 <= n <= 100:
        raise argparse.ArgumentTypeError(f"give a whole number of seeds from 1 to 100, got {text!r}")
    return n


def add_seeds_flag(p: argparse.ArgumentParser, help: str | None = None) -> None:
    p.add_argument("--seeds", type=_seed_count, default=1, metavar="N",
                   help=help or "repeat the run over N seeds (--seed, --seed+1, …) as one seed group: Compare and "
                                "the verdict then show the spread across seeds instead of one number (default 1)")


def run(args: argparse.Namespace) -> int:
    from ..jobs import run_now
    from ..model_check import check_model
    from ..store import Store

    cfg = config_from_args(FinetuneConfig, args)  # bad flags fail here, before a job row exists
    _check_dataset(cfg.dataset)
    check_model(cfg.model, "encoder")
    store = Store()
    if args.seeds > 1:
        if args.grid:
            raise UserError("--seeds and --grid together: repeat one configuration over seeds, or sweep a grid")
        return run_seeds(store, "finetune", cfg.to_dict(), args.seeds, args.queue)
    if args.grid:
        return _sweep(store, cfg, args)
    if args.queue:
        from ..jobs import submit

        job_id = submit(store, "finetune", cfg.to_dict())
        print(f"queued job {job_id} (finetune {cfg.model} {cfg.method} on {cfg.dataset}); "
              "run `python -m pipelines worker` to execute it")
        return 0
    job = run_now("finetune", cfg.to_dict(), store)
    if job["status"] != "done":
        error = (job.get("error") or job["status"]).strip().splitlines()[0]
        print(f"error: job {job['id']} {job['status']}: {error}")
        return 1
    print(_summary(store, job["run_id"]))
    return 0


def _sweep(store, cfg: FinetuneConfig, args: argparse.Namespace) -> int:
    """Queue one job per grid point as a sweep; without --queue, run them here one after another."""
    from .. import sweeps

    grid = sweeps.parse_grid(args.grid, FinetuneConfig)
    sweep_id, ids = sweeps.queue_sweep(store, "finetune", cfg.to_dict(), grid, keep=args.keep_weights)
    print(f"sweep {sweep_id}: queued {len(ids)} job(s) {ids}")
    if args.queue:
        print("run `python -m pipelines worker` to execute them")
        return 0
    failed = _run_points(store, ids)
    sweeps.apply_retention(store, sweep_id)
    rows = [r for r in store.runs() if r.get("sweep") == sweep_id]
    best = sweeps.best_runs(store, rows).get(sweep_id)
    if best:
        print(f"best on validation: {store.run(best)['name']} (run {best})")
    return 1 if failed else 0


def run_seeds(store, kind: str, config: dict, n_seeds: int, queue_only: bool) -> int:
    """Queue a seed group (the same config over n seeds); without --queue, run it here and print the spread."""
    import statistics

    from .. import sweeps

    sweep_id, ids = sweeps.queue_seeds(store, kind, config, n_seeds)
    print(f"seed group {sweep_id}: queued {len(ids)} {kind} job(s) {ids}")
    if queue_only:
        print("run `python -m pipelines worker` to execute them")
        return 0
    failed = _run_points(store, ids)
    scores = [r["summary"].get("macro_f1") for r in store.runs() if r.get("sweep") == sweep_id]
    scores = [s for s in scores if s is not None]
    if len(scores) > 1:
        print(f"macro-F1 over {len(scores)} seeds: mean {statistics.mean(scores):.4f} ± "
              f"{statistics.stdev(scores):.4f} (sd), from {min(scores):.4f} to {max(scores):.4f}")
    return 1 if failed else 0


def _run_points(store, ids: list[int]) -> int:
    """Run queued jobs here, one after another; the number that failed."""
    from ..jobs import execute

    failed = 0
    for job_id in ids:
        if store.claim(job_id):
            job = execute(store, store.job(job_id))
            failed += job["status"] != "done"
            print(f"job {job_id}: {job['status']}" + (f" → run {job['run_id']}" if job["run_id"] else ""))
    return failed


def _check_dataset(dataset_id: str) -> None:
    """A bundled dataset is prepared on first use; anything else must have been prepared."""
    from .. import paths, prepared
    from ..data import BUNDLED

    if dataset_id in BUNDLED or (prepared.dataset_dir(dataset_id) / "dataset.json").exists():
        return
    known = sorted(p.name for p in paths.prepared_dir().glob("*") if (p / "dataset.json").exists())
    raise FileNotFoundError(f"dataset {dataset_id!r} is not prepared; run `python -m pipelines data prepare ...` first"
                            + (f" (prepared: {', '.join(known)})" if known else f" (bundled: {', '.join(BUNDLED)})"))


def _summary(store, run_id: str) -> str:
    from .. import runs

    row = store.run(run_id)
    folder = Path(row["path"]) if row else runs.run_dir(run_id)
    m = runs.read_json(folder / "metrics.json")
    lines = [f"run {run_id}"]
    ci = m.get("accuracy_ci") or [float("nan")] * 2
    lines.append(f"  accuracy  {m['accuracy']:.4f}  (95% CI {ci[0]:.3f}–{ci[1]:.3f})")
    ci = m.get("macro_f1_ci") or [float("nan")] * 2
    lines.append(f"  macro-F1  {m['macro_f1']:.4f}  (95% CI {ci[0]:.3f}–{ci[1]:.3f})")
    for key in ("roc_auc", "subset_accuracy", "hamming_loss"):
        if m.get(key) is not None:
            lines.append(f"  {key:<9} {m[key]:.4f}")
    tr, em, sp = m.get("train", {}), m.get("emissions", {}), m.get("speed", {})
    if tr:
        lines.append(f"  train     {tr.get('train_samples_per_s') or 0:.1f} samples/s, {tr.get('epochs_run') or 0:.2f} "
                     f"epoch(s), best step {tr.get('best_step')}, max_length {tr.get('max_length')}")
    if em.get("total_energy_kwh") is not None:
        lines.append(f"  energy    {em['total_energy_kwh']:.6f} kWh, {1000 * em['total_co2_kg']:.3f} g CO2eq "
                     f"({em.get('country_iso_code')})")
    else:
        lines.append("  energy    not measured")
    if sp:
        lines.append(f"  speed     {sp['latency_ms']:.1f} ms/text at batch 1, {sp['throughput']:.1f} texts/s at batch 32")
    return "\n".join(lines)
