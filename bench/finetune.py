"""Benchmark the demo comparison: MiniLM full, MiniLM LoRA, MPNet LoRA on Rotten Tomatoes.

    python bench/finetune.py            # the demo itself (whole RT train split, 1 epoch: the defaults)
    python bench/finetune.py --quick    # same trio on 500 texts (minutes, for a smoke check)
    python bench/finetune.py --grouping # also MiniLM full with random batches: what length grouping buys

Runs each fine-tune through the real job path (``jobs.run_now``) in a scratch workspace
(``--home`` to keep the runs) and prints, per run, train samples/s, test accuracy and
macro-F1 (95% CIs), energy; then the ratios LoRA/full training speed and the accuracy gaps,
against the demo's quality targets (best ≥ 0.88, MiniLM ≥ 0.80, MiniLM LoRA within 3 points of
full). Ratios are measured in one process on one machine, so they compare; absolute
timings depend on the machine and on whatever else runs on it.
"""

from __future__ import annotations

import argparse
import os
import time

from bench_common import bench_workspace

TARGET_BEST, TARGET_MINILM, TARGET_GAP = 0.88, 0.80, 0.03


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="500 train texts instead of the demo's 9,564")
    ap.add_argument("--home", help="workspace to write runs into (default: a new temporary folder)")
    ap.add_argument("--only", nargs="+", choices=["minilm-full", "minilm-lora", "mpnet-lora"],
                    help="run a subset of the trio")
    ap.add_argument("--grouping", action="store_true",
                    help="add MiniLM full with group_by_length off, to print the grouped/random training speed ratio")
    args = ap.parse_args()
    bench_workspace(args.home, "finetune")

    from pipelines import runs
    from pipelines.demo import demo_jobs
    from pipelines.jobs import run_now
    from pipelines.store import Store

    store = Store()
    configs = [c for kind, c in demo_jobs("default") if kind == "finetune"]
    if args.grouping:
        minilm_full = next(c for c in configs if (c["model"], c["method"]) == ("minilm", "full"))
        configs.append({**minilm_full, "group_by_length": False, "run_name": "MiniLM full (random batches)"})
    results = {}
    for cfg in configs:
        key = f"{cfg['model']}-{cfg['method']}" + ("-random" if cfg["group_by_length"] is False else "")
        if args.only and key.removesuffix("-random") not in args.only:
            continue
        if args.quick:
            cfg = {**cfg, "max_train_samples": 500, "run_name": cfg["run_name"] + " (quick)"}
        t0 = time.perf_counter()
        job = run_now("finetune", cfg, store)
        wall = time.perf_counter() - t0
        if job["status"] != "done":
            print(f"{key}: {job['status']}: {(job.get('error') or '').splitlines()[0]}")
            continue
        m = runs.read_json(runs.run_dir(job["run_id"]) / "metrics.json")
        results[key] = (m, wall)

    print(f"\nworkspace: {os.environ['WORKBENCH_HOME']}")
    print(f"{'run':<18} {'train/s':>8} {'steps':>5} {'acc':>6} {'acc 95% CI':>13} {'macro-F1':>8} "
          f"{'kWh':>9} {'ms/text':>8} {'texts/s':>8} {'wall s':>7}")
    for key, (m, wall) in results.items():
        tr, em, sp = m["train"], m["emissions"], m["speed"]
        energy = em.get("total_energy_kwh")
        print(f"{key:<18} {tr['train_samples_per_s']:>8.1f} {tr['steps']:>5} {m['accuracy']:>6.3f} "
              f"{m['accuracy_ci'][0]:>6.3f}-{m['accuracy_ci'][1]:<6.3f} {m['macro_f1']:>8.3f} "
              f"{energy if energy is not None else float('nan'):>9.5f} {sp['latency_ms']:>8.1f} "
              f"{sp['throughput']:>8.1f} {wall:>7.0f}")
    if results:
        m0 = next(iter(results.values()))[0]
        ph = m0["emissions"]["phases"][0]
        print(f"power methods: cpu {ph.get('cpu_method')} ({ph.get('cpu_tdp_w')} W), ram {ph.get('ram_method')}, "
              f"gpu {ph.get('gpu_method')}; device {m0['train'].get('device')}")
    full, lora, mpnet = (results.get(k, (None,))[0] for k in ("minilm-full", "minilm-lora", "mpnet-lora"))
    if full and lora:
        ratio = lora["train"]["train_samples_per_s"] / full["train"]["train_samples_per_s"]
        gap = full["accuracy"] - lora["accuracy"]
        print(f"MiniLM LoRA/full train samples/s: {ratio:.2f}x; accuracy gap full-LoRA {gap:+.3f} "
              f"(macro-F1 {full['macro_f1'] - lora['macro_f1']:+.3f}) "
              f"[{'OK' if gap <= TARGET_GAP else 'MISS'}: ≤ {TARGET_GAP}]")
        print(f"trainable params: full {full['model']['trainable_params']:,}, LoRA {lora['model']['trainable_params']:,};"
              f" saved model MB: full {full['model']['size_mb']:.1f}, LoRA {lora['model']['size_mb']:.1f}")
    if full:
        print(f"MiniLM full accuracy {full['accuracy']:.3f} [{'OK' if full['accuracy'] >= TARGET_MINILM else 'MISS'}:"
              f" ≥ {TARGET_MINILM}]")
    if results:
        best_key, (best, _) = max(results.items(), key=lambda kv: kv[1][0]["accuracy"])
        print(f"best encoder {best_key} accuracy {best['accuracy']:.3f} "
              f"[{'OK' if best['accuracy'] >= TARGET_BEST else 'MISS'}: ≥ {TARGET_BEST}]")
    random_batches = results.get("minilm-full-random", (None,))[0]
    if full and random_batches:
        print(f"MiniLM full, length-grouped/random batches: train samples/s "
              f"{full['train']['train_samples_per_s'] / random_batches['train']['train_samples_per_s']:.2f}x, "
              f"accuracy {full['accuracy'] - random_batches['accuracy']:+.3f}")
    if mpnet and lora:
        print(f"MPNet LoRA vs MiniLM LoRA: train samples/s {mpnet['train']['train_samples_per_s'] / lora['train']['train_samples_per_s']:.2f}x, "
              f"accuracy {mpnet['accuracy'] - lora['accuracy']:+.3f}")
    return 0 if results else 1


if __name__ == "__main__":
    raise SystemExit(main())
