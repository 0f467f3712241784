"""Benchmark the LLM baselines (prompt runs) on the same Rotten Tomatoes test texts.

    python bench/llm.py --threads 1          # 200 test texts, SmolLM2 all variants + Gemma
    python bench/llm.py --n 60 --no-gemma    # smoke check

Speed section (SmolLM2, first template, ``--speed-n`` texts): zero-/few-shot label scoring
and generate-and-parse timed in interleaved rounds, best round kept, then the ratios against
their targets: few-shot label scoring ≥ 3× faster than few-shot generate-and-parse, and
few-shot cost per text ≤ 1.5× zero-shot.

Accuracy section: for each template (default: review, classify, question) on the first
``--n`` texts of the prepared ``rotten_tomatoes`` test split (the default split the demo
uses): texts/s, accuracy, ROC-AUC, share of "positive" answers and invalid answers of
zero-/few-shot (k=2 per class) label scoring and generate-and-parse, once few-shot label
scoring done naively (no prefix reuse, one text per forward); label rows also give the
accuracy after contextual calibration with the template's content-free inputs (cal-content)
and with random train words (cal-domain). Then: 0 invalid answers in label mode, calibrated
SmolLM2 zero-shot ≥ 0.75, best installed LLM few-shot ≥ 0.80 (Gemma 3 270M, plain prompts).

Scoring section (``--sections scoring``, issue 14 §5): SmolLM2 label scoring of ``--rt-n``
Rotten Tomatoes and ``--bbc-n`` BBC News test texts (5 topics, long), zero- and few-shot, at
each of ``--thread-list``: *before* (the head's KV cache fanned out per batch,
``CausalLM.shared_head = False``) vs *after* (shared-head attention), alternating rounds,
median texts/s and the median of the per-round ratios (the head's cache is built once before
the timings: the same forward pass on both paths), plus the largest score difference and
the share of texts whose top label agrees. On the RT texts at the first thread count it also
times two reduced-precision copies against float32 *after*: bfloat16 weights
(``CausalLM.load(dtype="bfloat16")``) and int8 dynamic quantisation of the decoder's Linear
layers (``torch.ao.quantization.quantize_dynamic``; measured only, not offered). Appends a
table to bench/RESULTS.md.

Timings come from this one process on this machine; absolute texts/s depend on the
machine and its load (``--threads 1`` is steadier when other processes hold the cores).
"""

from __future__ import annotations

import argparse
import logging
import os
import time

from bench_common import bench_workspace

TARGET_SPEEDUP, TARGET_FEW_COST, TARGET_CAL, TARGET_BEST = 3.0, 1.5, 0.75, 0.80


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=200, help="test texts (the first N of the test split)")
    ap.add_argument("--templates", nargs="+", default=["review", "classify", "question"])
    ap.add_argument("--k", type=int, default=2, help="few-shot examples per class")
    ap.add_argument("--naive-n", type=int, default=60, help="texts for the naive (no reuse, batch 1) timing")
    ap.add_argument("--speed-n", type=int, default=64, help="texts per timing in the speed section")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved timing rounds (best of) in the speed section")
    ap.add_argument("--sections", nargs="+", default=["accuracy", "speed"], choices=["accuracy", "speed", "scoring"])
    ap.add_argument("--rt-n", type=int, default=200, help="scoring section: Rotten Tomatoes test texts")
    ap.add_argument("--bbc-n", type=int, default=100, help="scoring section: BBC News test texts (0: skip)")
    ap.add_argument("--results", help="scoring section: append the table here (default: bench/RESULTS.md)")
    ap.add_argument("--thread-list", type=int, nargs="+", default=[1, 2], help="scoring section: torch threads")
    ap.add_argument("--no-gemma", action="store_true", help="skip Gemma 3 270M")
    ap.add_argument("--home", help="workspace holding the prepared dataset (default: a temporary one)")
    ap.add_argument("--threads", type=int, help="torch intra-op threads (default: torch's; 1 is steadier on a busy machine)")
    args = ap.parse_args()
    bench_workspace(args.home, "llm", logging.WARNING)

    import numpy as np
    import torch
    from sklearn.metrics import roc_auc_score

    from pipelines.configs import PromptConfig
    from pipelines.data import ensure_prepared
    from pipelines.llm import CausalLM
    from pipelines.prompting import build_predictor

    if args.threads:
        torch.set_num_threads(args.threads)
    if "scoring" in args.sections:
        scoring_section(args)
        if set(args.sections) == {"scoring"}:
            return 0
    ds = ensure_prepared("rotten_tomatoes")
    test = ds.test.head(args.n)
    texts, gold = test["text"].tolist(), test["label"].to_numpy()
    pos = ds.labels.index("positive")
    print(f"{len(texts)} test texts of rotten_tomatoes (split {ds.split_hash}); majority class share "
          f"{max(np.mean(gold == 'positive'), np.mean(gold == 'negative')):.3f}; load avg {os.getloadavg()[0]:.1f}")

    def measure(lm, key, **cfg):
        config = PromptConfig(dataset="rotten_tomatoes", model=lm.name, **cfg)
        t0 = time.perf_counter()
        pred, meta = build_predictor(config, ds.labels, False, train=ds.train, lm=lm)
        naive = key.endswith("naive")
        subset = texts[:args.naive_n] if naive else texts
        if naive:
            pred.reuse_prefix, lm.batch_size = False, 1
        out = pred.predict_detailed(subset)  # includes building the prefix cache
        dt = time.perf_counter() - t0
        lm.batch_size = 16
        g = gold[:len(subset)]

        def acc(proba, inv):
            return float(np.mean(np.where(inv, False, np.array(ds.labels)[np.nan_to_num(proba).argmax(1)] == g)))

        row = {"key": key, "model": lm.name, "template": cfg.get("template"), "texts_s": len(subset) / dt,
               "acc": acc(out.proba, out.invalid), "invalid": int(out.invalid.sum()),
               "pos_share": float(np.mean(~out.invalid & (np.nan_to_num(out.proba).argmax(1) == pos))),
               "auc": None, "head_tokens": len(lm.encode(meta["heads"][0])), "cal": {}}
        if cfg.get("scoring", "label") == "label" and not naive:
            row["auc"] = float(roc_auc_score(g == "positive", out.proba[:, pos]))
            for method in ("content_free", "domain"):  # same forward pass, divided by each calibration vector
                cal_pred, _ = build_predictor(PromptConfig(dataset="rotten_tomatoes", model=lm.name, calibrate=True,
                                                           calibration=method, **cfg),
                                              ds.labels, False, train=ds.train, lm=lm)
                q = out.proba / cal_pred.calibration()[0]
                row["cal"][method] = acc(q / q.sum(1, keepdims=True), out.invalid)
        cal = "  ".join(f"cal-{m.split('_')[0]} {a:.3f}" for m, a in row["cal"].items())
        auc = "  -  " if row["auc"] is None else f"{row['auc']:.3f}"
        print(f"  {lm.name:<12} {row['template']:<9} {key:<15} {row['texts_s']:>7.2f} texts/s  acc {row['acc']:.3f}  "
              f"auc {auc}  positive {row['pos_share']:.2f}  invalid {row['invalid']:>3}  head {row['head_tokens']:>3} tok"
              f"  {cal}", flush=True)
        return row

    smol = CausalLM.load("smollm2")
    print(f"SmolLM2 on {smol.device}, {torch.get_num_threads()} torch thread(s)")
    if "speed" in args.sections:
        speed_section(smol, texts[:args.speed_n], args, ds, build_predictor, PromptConfig)
    if "accuracy" not in args.sections:
        return 0
    print(f"\naccuracy section: every variant on all {len(texts)} texts (texts/s of one pass, load-sensitive)")
    results = []
    for tpl in args.templates:
        few = {"mode": "few", "k": args.k, "template": tpl}
        zero = {"mode": "zero", "template": tpl}
        results += [
            measure(smol, "zero label", **zero),
            measure(smol, "zero generate", scoring="generate", **zero),
            measure(smol, "few label", **few),
            measure(smol, "few generate", scoring="generate", **few),
        ]
        if tpl == args.templates[0]:
            results.append(measure(smol, "few label naive", **few))
    if not args.no_gemma:
        gemma = CausalLM.load("gemma3-270m")
        print(f"Gemma 3 270M on {gemma.device}")
        for tpl in args.templates:
            results += [measure(gemma, "zero label", template=tpl),
                        measure(gemma, "few label", mode="few", k=args.k, template=tpl)]

    by = {(r["model"], r["template"], r["key"]): r for r in results}
    naive = by.get(("smollm2", args.templates[0], "few label naive"))
    if naive:
        fast = by[("smollm2", args.templates[0], "few label")]["texts_s"]
        print(f"prefix reuse + batching vs naive few-shot label scoring (one pass each): "
              f"{fast / naive['texts_s']:.2f}x faster")
    label_invalid = sum(r["invalid"] for r in results if "generate" not in r["key"])
    gen = [r for r in results if "generate" in r["key"]]
    print(f"invalid answers: label modes {label_invalid} [{_ok(label_invalid == 0)} = 0]; generate modes "
          + ", ".join(f"{r['template']}/{r['key'].split()[0]} {r['invalid']}/{len(texts)}" for r in gen))
    best_cal = max(max(r["cal"].values()) for r in results
                   if r["model"] == "smollm2" and r["key"] == "zero label")
    print(f"best calibrated SmolLM2 zero-shot accuracy {best_cal:.3f} [{_ok(best_cal >= TARGET_CAL)} >= {TARGET_CAL}]")
    fews = [(max([r["acc"], *r["cal"].values()]), r) for r in results if r["key"] == "few label"]
    best_acc, best = max(fews, key=lambda x: x[0])
    print(f"best few-shot: {best['model']} {best['template']} accuracy {best_acc:.3f} "
          f"[{_ok(best_acc >= TARGET_BEST)} >= {TARGET_BEST}]")
    return 0


def speed_section(lm, texts, args, ds, build_predictor, PromptConfig) -> None:
    """Texts/s of the four variants, timed in interleaved rounds and the best round kept.

    On a shared machine a load burst during one variant would skew a ratio; interleaving
    the variants and keeping each one's fastest round compares them under the same load.
    Each timing includes building the prompt and its prefix cache (cleared before each).
    """
    variants = {"zero label": {"mode": "zero"}, "few label": {"mode": "few", "k": args.k},
                "zero generate": {"mode": "zero", "scoring": "generate"},
                "few generate": {"mode": "few", "k": args.k, "scoring": "generate"}}
    tpl = args.templates[0]
    best: dict[str, float] = {}
    for _ in range(args.rounds):
        for key, cfg in variants.items():
            lm.clear_prefix_cache()
            t0 = time.perf_counter()
            pred, _ = build_predictor(PromptConfig(dataset="rotten_tomatoes", model=lm.name, template=tpl, **cfg),
                                      ds.labels, False, train=ds.train, lm=lm)
            pred.predict_detailed(texts)
            best[key] = max(best.get(key, 0.0), len(texts) / (time.perf_counter() - t0))
    print(f"\nspeed section: {tpl} template, {len(texts)} texts, best of {args.rounds} interleaved rounds "
          f"(load avg {os.getloadavg()[0]:.1f})")
    for key, v in best.items():
        print(f"  {key:<14} {v:>7.2f} texts/s  ({1000 / v:.0f} ms/text)")
    speed = best["few label"] / best["few generate"]
    cost = best["zero label"] / best["few label"]
    print(f"  few-shot label scoring vs generate-and-parse: {speed:.2f}x faster [{_ok(speed >= TARGET_SPEEDUP)} >= 3x]")
    print(f"  few-shot / zero-shot cost per text (label scoring): {cost:.2f}x [{_ok(cost <= TARGET_FEW_COST)} <= 1.5x]")
    print(f"  zero-shot label scoring vs generate-and-parse: {best['zero label'] / best['zero generate']:.2f}x faster")


def scoring_section(args) -> None:
    """Before/after texts/s of label scoring (alternating rounds, medians), same-score check, precision copies."""
    import platform
    import statistics
    import warnings
    from datetime import UTC, datetime
    from pathlib import Path

    import numpy as np
    import torch
    import transformers

    from pipelines.configs import PromptConfig
    from pipelines.data import ensure_prepared
    from pipelines.llm import CausalLM
    from pipelines.prompting import build_predictor

    load0 = os.getloadavg()[0]
    fp = CausalLM.load("smollm2")
    low = {"bf16": CausalLM.load("smollm2", dtype="bfloat16"), "int8": CausalLM.load("smollm2")}
    with warnings.catch_warnings():  # torch points eager quantisation to torchao
        warnings.simplefilter("ignore")
        torch.ao.quantization.quantize_dynamic(low["int8"].decoder, {torch.nn.Linear}, dtype=torch.qint8, inplace=True)
    print(f"\nscoring section: SmolLM2 label scoring, before = head cache fanned out per batch, after = shared-head "
          f"attention; {args.rounds} alternating rounds, head cache built before timing (load avg {load0:.1f})")
    rows, agree = [], []
    for ds_name, n in (("rotten_tomatoes", args.rt_n), ("bbc_news", args.bbc_n)):
        if not n:
            continue
        ds = ensure_prepared(ds_name)
        texts = ds.test["text"].head(n).tolist()
        for mode in ("zero", "few"):
            pred, _ = build_predictor(PromptConfig(dataset=ds_name, model="smollm2", mode=mode, k=args.k),
                                      ds.labels, False, train=ds.train, lm=fp)
            reqs = pred.builder.requests(texts)
            owner = np.array(pred.builder.continuation_answer)
            for ti, threads in enumerate(args.thread_list):
                torch.set_num_threads(threads)
                variants = {"before": (fp, False), "after": (fp, True)}
                if ds_name == "rotten_tomatoes" and ti == 0:
                    variants |= {name: (lm, True) for name, lm in low.items()}
                speed: dict[str, list[float]] = {v: [] for v in variants}
                scores: dict[str, np.ndarray] = {}
                for lm, _ in variants.values():
                    lm.score(reqs[:1])  # builds the head's cache once (the same forward either way): not timed
                for _ in range(args.rounds):
                    for v, (lm, shared) in variants.items():
                        lm.shared_head = shared
                        t0 = time.perf_counter()
                        scores[v] = np.array(lm.score(reqs))
                        speed[v].append(len(reqs) / (time.perf_counter() - t0))
                fp.shared_head = True
                top = {v: owner[s.argmax(1)] for v, s in scores.items()}
                for v in variants:
                    ref = "before" if v == "after" else "after"
                    row = {"data": "RT" if ds_name == "rotten_tomatoes" else "BBC", "n": len(reqs), "mode": mode,
                           "threads": threads, "variant": v, "texts_s": statistics.median(speed[v]),
                           "ratio": statistics.median(a / b for a, b in zip(speed[v], speed["before"])),
                           "diff": float(np.abs(scores[v] - scores[ref]).max()) if v != "before" else 0.0,
                           "same": float(np.mean(top[v] == top[ref])) if v != "before" else 1.0,
                           "load": os.getloadavg()[0]}
                    rows.append(row)
                    print(f"  {row['data']:<3} n={row['n']:<3} {mode:<4} {threads} thr  {v:<6} {row['texts_s']:7.2f} texts/s"
                          f"  {row['ratio']:5.2f}x before  max |Δ log-prob| {row['diff']:.1e} vs {ref}  same label "
                          f"{row['same']:.2%}  load {row['load']:.1f}", flush=True)
                    if v != "before":
                        agree.append(row)
    bad = [r for r in agree if r["variant"] == "after" and (r["diff"] > 1e-4 or r["same"] < 1.0)]
    print(f"after vs before: max |Δ| {max(r['diff'] for r in agree if r['variant'] == 'after'):.1e} "
          f"[{_ok(not bad)} <= 1e-4, same labels]")
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M")
    lines = [f"\n## llm scoring — {stamp}\n",
             f"SmolLM2-135M label scoring (bench/llm.py --sections scoring), {args.rounds} alternating rounds, median, "
             f"the head's cache built before timing; "
             f"{os.cpu_count()} cores, load average {load0:.1f} before, {os.getloadavg()[0]:.1f} after (machine shared "
             f"with other jobs: compare the ratios); torch {torch.__version__}, transformers {transformers.__version__}, "
             f"Python {platform.python_version()}\n",
             "| data | texts | mode | threads | variant | texts/s | × before (median of rounds) | max abs Δ log-prob | "
             "same label | vs | load |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    lines += [f"| {r['data']} | {r['n']} | {r['mode']} | {r['threads']} | {r['variant']} | {r['texts_s']:.2f} | "
              f"{r['ratio']:.2f}× | {r['diff']:.1e} | {r['same']:.2%} | "
              f"{'-' if r['variant'] == 'before' else 'before' if r['variant'] == 'after' else 'after (fp32)'} | "
              f"{r['load']:.1f} |" for r in rows]
    with open(args.results or Path(__file__).with_name("RESULTS.md"), "a", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")


def _ok(flag: bool) -> str:
    return "OK" if flag else "MISS"


if __name__ == "__main__":
    raise SystemExit(main())
