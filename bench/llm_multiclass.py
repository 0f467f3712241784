"""Measure the LLM baselines on more than two classes (issue 10 §3) and the prompt templates (issue 11 §4).

    python bench/user_file.py /tmp/user_reviews.csv
    python bench/llm_multiclass.py --user-file /tmp/user_reviews.csv [--n 200] [--threads 2]
    python bench/llm_multiclass.py --datasets bbc_news --models smollm2 --templates default --n 40   # smoke

For each dataset (bbc_news: 5 topics; the 3-class user-like cp1252 file of bench/user_file.py,
prepared with the workbench's default flags; rotten_tomatoes as the binary check), on ``--n``
test texts (the seeded class-stratified sample a prompt run with ``max_test_samples`` scores: the
bbc_news split is sorted by label, its first 150 texts hold no tech): the floor (the better of a
uniform-random and a majority-class predictor,
expected macro-F1), the TF-IDF reference (the ``tfidf`` kind's features and C grid, trained
here on the whole train split), then every (model, template, mode) cell of the grid: one
label-scoring pass, read three ways from the same probabilities — uncalibrated, calibrated
with the template's content-free inputs, calibrated with random train words (domain) — with
accuracy, macro-F1 and the share of the most-predicted class (collapse shows as ~1.0).
Templates: ``default`` is what PromptConfig picks today for the dataset (review / dataset),
``classify`` the old generic one. Each cell prints when done (a killed run keeps what it
printed); ``--jsonl`` appends one record per cell for the RESULTS.md tables.

The dataset wording comes from the prepared dataset's info, as in a real run
(prompt_facts.dataset_facts). Timings are of this process on a shared machine: the load
average is printed beside them.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import time
from pathlib import Path

from bench_common import bench_workspace

GRID = [  # (model, template, mode, k): most important first, so a cut run still answers the question
    ("smollm2", "default", "zero", 0), ("smollm2", "default", "few", 2),
    ("gemma3-270m", "default", "zero", 0), ("gemma3-270m", "default", "few", 2),
    ("smollm2", "classify", "zero", 0), ("smollm2", "classify", "few", 2),
    ("gemma3-270m", "classify", "zero", 0), ("gemma3-270m", "classify", "few", 2),
    ("smollm2", "default", "few", 4), ("gemma3-270m", "default", "few", 4),
]


def floors(gold, labels):
    """Expected macro-F1/accuracy of a uniform-random guess and of always answering the majority class."""
    import numpy as np

    k = len(labels)
    p = np.array([np.mean(gold == lab) for lab in labels])
    uniform_f1 = float(np.mean([2 * q / k / (q + 1 / k) if q else 0.0 for q in p]))
    majority_f1 = float(2 * p.max() / (1 + p.max()) / k)
    return {"uniform_f1": uniform_f1, "uniform_acc": 1 / k, "majority_f1": majority_f1,
            "majority_acc": float(p.max()), "floor_f1": max(uniform_f1, majority_f1)}


def tfidf_reference(ds, texts):
    """The tfidf kind's pipeline (default features, C picked on validation) → (proba on texts, seconds)."""
    from pipelines import linear_head
    from pipelines.tfidf import C_GRID, TfidfConfig, build_features

    t0 = time.perf_counter()
    feats = build_features(TfidfConfig(dataset=ds.id))
    X = feats.fit_transform(ds.train["text"].astype(str).tolist())
    Xv = feats.transform(ds.validation["text"].astype(str).tolist())
    fit = linear_head.fit_head(X, linear_head.targets(ds, ds.train), Xv, linear_head.targets(ds, ds.validation),
                               n_labels=len(ds.labels), multi_label=False, grid=C_GRID)
    proba = linear_head.head_proba(fit.clf, feats.transform(texts), len(ds.labels), False)
    return proba, time.perf_counter() - t0


def scores(gold, proba, labels):
    import numpy as np
    from sklearn.metrics import accuracy_score, f1_score

    from pipelines.collapse import distribution

    pred = np.array(labels)[proba.argmax(1)]
    top = max(np.mean(pred == lab) for lab in labels)
    return {"acc": float(accuracy_score(gold, pred)),
            "f1": float(f1_score(gold, pred, labels=list(labels), average="macro", zero_division=0)),
            "top_share": float(top), "collapse": distribution(gold, pred, labels, False)["warning"]}


def markdown(path: str) -> str:
    """The RESULTS.md tables from a --jsonl file: per dataset its floor and TF-IDF, then one row per cell."""
    recs = [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]
    out = []
    for head in [r for r in recs if "floor" in r]:
        fl, tf = head["floor"], head["tfidf"]
        out += [f"\n**{head['dataset']}** ({head['classes']} classes, {head['n']} test texts; default template "
                f"`{head['default_template']}`): floor macro-F1 {fl['floor_f1']:.3f} (uniform-random "
                f"{fl['uniform_f1']:.3f}, majority {fl['majority_f1']:.3f} / acc {fl['majority_acc']:.3f}); "
                f"TF-IDF reference macro-F1 {tf['f1']:.3f}, acc {tf['acc']:.3f} ({tf['s']:.0f} s)\n",
                "| model | template | mode | raw F1 / acc | cal content-free F1 / acc | cal domain F1 / acc "
                "| top-class share raw / domain | texts/s (load) |", "|---|---|---|---|---|---|---|---|"]
        for r in [r for r in recs if r.get("dataset") == head["dataset"] and "raw" in r]:
            cells = " | ".join(f"{r[k]['f1']:.3f} / {r[k]['acc']:.3f}" for k in ("raw", "cal_content", "cal_domain"))
            mode = "zero" if r["mode"] == "zero" else f"few k={r['k']}"
            out.append(f"| {r['model']} | {r['template']} | {mode} | {cells} | {r['raw']['top_share']:.2f} / "
                       f"{r['cal_domain']['top_share']:.2f} | {r['texts_s']:.2f} ({r['load']:.0f}) |")
    return "\n".join(out)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=200, help="test texts per dataset (a seeded class-stratified sample)")
    ap.add_argument("--user-file", help="the CSV of bench/user_file.py (prepared with --text-column Text "
                    "--label-column Category --delimiter ';', all else default)")
    ap.add_argument("--datasets", nargs="+", default=["bbc_news", "user", "rotten_tomatoes"])
    ap.add_argument("--models", nargs="+", default=["smollm2", "gemma3-270m"])
    ap.add_argument("--templates", nargs="+", default=["default", "classify"])
    ap.add_argument("--binary-grid", type=int, default=4, help="cells of the grid run on rotten_tomatoes (binary check)")
    ap.add_argument("--home", help="workspace (default: a temporary one)")
    ap.add_argument("--jsonl", help="append one JSON record per cell here")
    ap.add_argument("--threads", type=int, help="torch intra-op threads")
    ap.add_argument("--cells", type=int, nargs="+", help="run only these GRID rows (0-based), e.g. from a second "
                    "process")
    ap.add_argument("--no-reference", action="store_true", help="skip the floor and TF-IDF (another process has them)")
    ap.add_argument("--table", metavar="JSONL", help="print the markdown tables of a --jsonl file and exit")
    args = ap.parse_args()
    if args.table:
        print(markdown(args.table))
        return 0
    bench_workspace(args.home, "llm-multiclass", logging.WARNING)

    import torch

    from pipelines.configs import PromptConfig
    from pipelines.data import DataSpec, ensure_prepared, prepare
    from pipelines.data_split import subsample
    from pipelines.llm import CausalLM
    from pipelines.prompt_facts import dataset_facts
    from pipelines.prompting import build_predictor
    from pipelines.prompting_templates import default_template_name

    if args.threads:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} thread(s), {os.cpu_count()} cores, "
          f"load avg {os.getloadavg()[0]:.1f}", flush=True)
    lms: dict[str, CausalLM] = {}
    sink = Path(args.jsonl).open("a") if args.jsonl else None

    def emit(rec):
        if sink:
            sink.write(json.dumps(rec) + "\n")
            sink.flush()

    sets = []
    for name in args.datasets:
        if name == "user":
            if not args.user_file:
                print("skipping the user file: pass --user-file")
                continue
            ds = prepare(DataSpec(source=args.user_file, text_column=["Text"], label_column="Category", delimiter=";"))
        else:
            ds = ensure_prepared(name)
        test = subsample(ds.test, args.n, 0, False)  # the texts a prompt run with max_test_samples=n scores
        texts, gold = test["text"].astype(str).tolist(), test["label"].astype(str).to_numpy()
        labels = list(ds.labels)
        facts = dataset_facts(ds.info)
        default_tpl = default_template_name("single_label", labels, facts)
        sets.append((ds, texts, gold, labels, facts, default_tpl))
        if args.no_reference:
            continue
        fl = floors(gold, labels)
        t_proba, t_s = tfidf_reference(ds, texts)
        ref = scores(gold, t_proba, labels)
        print(f"== {ds.id}: {len(labels)} classes, {len(texts)} of {len(ds.test)} test texts; default template "
              f"{default_tpl}\n   floor macro-F1 {fl['floor_f1']:.3f} (uniform {fl['uniform_f1']:.3f} acc "
              f"{fl['uniform_acc']:.3f}; majority {fl['majority_f1']:.3f} acc {fl['majority_acc']:.3f})\n"
              f"   TF-IDF reference: macro-F1 {ref['f1']:.3f} acc {ref['acc']:.3f} ({t_s:.1f} s to train and score, "
              f"load {os.getloadavg()[0]:.1f})", flush=True)
        emit({"dataset": ds.id, "classes": len(labels), "n": len(texts), "floor": fl, "tfidf": {**ref, "s": t_s},
              "default_template": default_tpl})
    print("\ncells: one label-scoring pass each; raw / calibrated with content-free inputs / with domain words",
          flush=True)
    for i, (model, tpl_key, mode, k) in enumerate(GRID):  # cell by cell across datasets: a cut run covers them all
        for ds, texts, gold, labels, facts, default_tpl in sets:
            if (model not in args.models or tpl_key not in args.templates or (args.cells and i not in args.cells)
                    or (len(labels) == 2 and i >= args.binary_grid)):
                continue
            tpl = default_tpl if tpl_key == "default" else tpl_key
            if model not in lms:
                lms[model] = CausalLM.load(model)
            lm = lms[model]
            cfg = dict(dataset=ds.id, model=model, template=tpl, mode=mode, k=max(k, 1))
            t0 = time.perf_counter()
            pred, _ = build_predictor(PromptConfig(**cfg), labels, False, train=ds.train, lm=lm, facts=facts)
            p = pred.predict_detailed(texts).proba
            dt = time.perf_counter() - t0
            rows = {"raw": scores(gold, p, labels)}
            for method in ("content_free", "domain"):  # the same probabilities, divided by each calibration vector
                cal, _ = build_predictor(PromptConfig(**cfg, calibrate=True, calibration=method), labels, False,
                                         train=ds.train, lm=lm, facts=facts)
                q = p / cal.calibration()[0]
                rows["cal_" + method.split("_")[0]] = scores(gold, q / q.sum(1, keepdims=True), labels)
            cells = "  ".join(f"{key} F1 {r['f1']:.3f} acc {r['acc']:.3f} top {r['top_share']:.2f}"
                              for key, r in rows.items())
            shots = "zero" if mode == "zero" else f"few k={k}"
            print(f"   {ds.id:<15} {model:<11} {tpl:<8} {shots:<8} {len(texts) / dt:5.1f} texts/s "
                  f"(load {os.getloadavg()[0]:.1f})  {cells}", flush=True)
            emit({"dataset": ds.id, "model": model, "template": tpl, "template_key": tpl_key, "mode": mode, "k": k,
                  "texts_s": len(texts) / dt, "load": os.getloadavg()[0], **rows})
    if sink:
        sink.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
