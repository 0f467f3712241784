"""Benchmark the LLM baselines of issue 4 on the same Rotten Tomatoes test texts.

    python bench/llm.py                      # 200 test texts, SmolLM2 all variants + Gemma few-shot
    python bench/llm.py --n 60 --no-gemma    # smoke check

For each template (default: review, classify, question) and SmolLM2-135M-Instruct, on the
first ``--n`` texts of the prepared ``rotten_tomatoes`` test split (the default split, the
one the demo runs use), it prints texts/s, accuracy, ROC-AUC, the share of "positive"
answers and invalid answers for:

    zero-shot label scoring, the same calibrated, zero-shot generate-and-parse,
    few-shot (k=2 per class) label scoring, the same calibrated, few-shot generate-and-parse,
    and once, few-shot label scoring done naively (no prefix reuse, one text per forward)

then the ratios of the issue's targets: few-shot label scoring ≥ 3× faster than few-shot
generate-and-parse; few-shot cost per text ≤ 1.5× zero-shot; 0 invalid answers in label
mode; calibrated SmolLM2 zero-shot accuracy ≥ 0.75; best installed LLM few-shot ≥ 0.80
(Gemma 3 270M, plain-text prompts). All timings come from this one process on this machine,
so ratios compare; absolute texts/s depend on the machine and its load.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

TARGET_SPEEDUP, TARGET_FEW_COST, TARGET_CAL, TARGET_BEST = 3.0, 1.5, 0.75, 0.80


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=200, help="test texts (the first N of the test split)")
    ap.add_argument("--templates", nargs="+", default=["review", "classify", "question"])
    ap.add_argument("--k", type=int, default=2, help="few-shot examples per class")
    ap.add_argument("--naive-n", type=int, default=60, help="texts for the naive (no reuse, batch 1) timing")
    ap.add_argument("--no-gemma", action="store_true", help="skip Gemma 3 270M")
    ap.add_argument("--home", help="workspace holding the prepared dataset (default: a temporary one)")
    args = ap.parse_args()
    os.environ["WORKBENCH_HOME"] = args.home or tempfile.mkdtemp(prefix="bench-llm-")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s: %(message)s")

    import numpy as np
    from sklearn.metrics import roc_auc_score

    from pipelines.configs import PromptConfig
    from pipelines.data import ensure_prepared
    from pipelines.llm import CausalLM
    from pipelines.prompting import build_predictor

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
        subset = texts[:args.naive_n] if key.endswith("naive") else texts
        if key.endswith("naive"):
            pred.reuse_prefix, lm.batch_size = False, 1
        out = pred.predict_detailed(subset)  # includes building the prefix cache and calibration
        dt = time.perf_counter() - t0
        lm.batch_size = 16
        labels_pred = np.where(out.invalid, "<invalid>", np.array(ds.labels)[np.nan_to_num(out.proba).argmax(1)])
        g = gold[:len(subset)]
        row = {"key": key, "template": cfg.get("template"), "texts_s": len(subset) / dt,
               "acc": float(np.mean(labels_pred == g)), "invalid": int(out.invalid.sum()),
               "pos_share": float(np.mean(labels_pred == "positive")),
               "auc": float(roc_auc_score(g == "positive", out.proba[:, pos])) if cfg.get("scoring") != "generate"
               else None, "head_tokens": len(lm.encode(meta["heads"][0]))}
        print(f"  {lm.name:<12} {row['template']:<9} {key:<22} {row['texts_s']:>7.2f} texts/s  acc {row['acc']:.3f}  "
              f"auc {row['auc'] if row['auc'] is None else round(row['auc'], 3)!s:<5}  positive {row['pos_share']:.2f}  "
              f"invalid {row['invalid']:>3}  head {row['head_tokens']} tok", flush=True)
        return row

    results = []
    smol = CausalLM.load("smollm2")
    print(f"SmolLM2 on {smol.device}")
    for tpl in args.templates:
        few = {"mode": "few", "k": args.k, "template": tpl}
        zero = {"mode": "zero", "template": tpl}
        results += [
            measure(smol, "zero label", **zero),
            measure(smol, "zero label calibrated", calibrate=True, **zero),
            measure(smol, "zero generate", scoring="generate", **zero),
            measure(smol, "few label", **few),
            measure(smol, "few label calibrated", calibrate=True, **few),
            measure(smol, "few generate", scoring="generate", **few),
        ]
        if tpl == args.templates[0]:
            results.append(measure(smol, "few label naive", **few))
    if not args.no_gemma:
        gemma = CausalLM.load("gemma3-270m")
        print(f"Gemma 3 270M on {gemma.device}")
        for tpl in args.templates:
            results += [measure(gemma, "gemma zero label", template=tpl),
                        measure(gemma, "gemma few label", mode="few", k=args.k, template=tpl)]

    print("\nratios per template (SmolLM2, same texts, same process):")
    by = {(r["template"], r["key"]): r for r in results}
    for tpl in args.templates:
        fl, fg, zl = by[(tpl, "few label")], by[(tpl, "few generate")], by[(tpl, "zero label")]
        speed, cost = fl["texts_s"] / fg["texts_s"], zl["texts_s"] / fl["texts_s"]
        print(f"  {tpl:<9} few-shot label/generate speed {speed:.2f}x [{_ok(speed >= TARGET_SPEEDUP)} ≥ 3x]; "
              f"few/zero cost per text {cost:.2f}x [{_ok(cost <= TARGET_FEW_COST)} ≤ 1.5x]; "
              f"calibration zero-shot {zl['acc']:.3f} → {by[(tpl, 'zero label calibrated')]['acc']:.3f}, "
              f"few-shot {fl['acc']:.3f} → {by[(tpl, 'few label calibrated')]['acc']:.3f}")
    naive = by.get((args.templates[0], "few label naive"))
    if naive:
        print(f"  prefix reuse + batching vs naive few-shot label scoring: "
              f"{by[(args.templates[0], 'few label')]['texts_s'] / naive['texts_s']:.2f}x faster")
    label_invalid = sum(r["invalid"] for r in results if "generate" not in r["key"])
    gen = [r for r in results if "generate" in r["key"]]
    print(f"invalid answers: label modes {label_invalid} [{_ok(label_invalid == 0)} = 0]; generate modes "
          + ", ".join(f"{r['template']}/{r['key'].split()[0]} {r['invalid']}" for r in gen))
    best_cal = max(by[(t, "zero label calibrated")]["acc"] for t in args.templates)
    print(f"best calibrated SmolLM2 zero-shot accuracy {best_cal:.3f} [{_ok(best_cal >= TARGET_CAL)} ≥ {TARGET_CAL}]")
    fews = [r for r in results if "few" in r["key"] and "generate" not in r["key"] and "naive" not in r["key"]]
    best = max(fews, key=lambda r: r["acc"])
    print(f"best few-shot: {best['key']} ({best['template']}) accuracy {best['acc']:.3f} "
          f"[{_ok(best['acc'] >= TARGET_BEST)} ≥ {TARGET_BEST}]")
    return 0


def _ok(flag: bool) -> str:
    return "OK" if flag else "MISS"


if __name__ == "__main__":
    raise SystemExit(main())
