"""Benchmark the data-derived fine-tune defaults (issue 10 §2) against the TF-IDF reference.

    python bench/defaults.py --home /tmp/defaults_ws            # everything (about an hour on 2 cores)
    python bench/defaults.py --home /tmp/defaults_ws --only rt2k user --skip old probe
    python bench/defaults.py --home /tmp/defaults_ws --variant min_steps=1000   # one principled change
    python bench/defaults.py --home /tmp/defaults_ws --report-only --markdown  # the table again, no training

Per dataset, through the real job path (``jobs.run_now``): the TF-IDF reference, a frozen
MiniLM probe and the LLM few-shot baseline with its derived model, template and calibration on
the whole test split (bundled sets: the issue 10 acceptance table), MiniLM full with the old
defaults (``epochs=1``; small sets) and with the new ones (nothing set:
:mod:`pipelines.train_defaults` decides). Prints test accuracy,
macro-F1, wall seconds, kWh, and for each other row the paired-bootstrap 95% CI of the
macro-F1 difference against TF-IDF (:func:`pipelines.stats.significance`) in words. The target:
MiniLM new never significantly worse than TF-IDF. Finished runs are reused by name, so a
stopped bench resumes. Datasets: Rotten Tomatoes (whole, and a 2,000-text train subset),
BBC news, three BBC topics cut to their first 300 characters (written as a user CSV),
movie genres (multi-label), and the user-like file of ``bench/user_file.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

from bench_common import bench_workspace

from pipelines.train_defaults import RULE  # the rule's version names the runs, so a new rule is measured anew

BBC3_TOPICS = ("business", "politics", "tech")  # the three that share vocabulary: the hard part of BBC
SMALL = ("rt2k", "bbc3", "user")
# name → (prepared dataset id, max_train_samples for every run, bundled?)
DATASETS = {"user": ("user3", None, False), "rt2k": ("rotten_tomatoes", 2000, True),
            "bbc3": ("bbc3_300", None, False), "rt": ("rotten_tomatoes", None, True),
            "genres": ("movie_genres", None, True), "bbc": ("bbc_news", None, True)}


def prepare_all(home: Path) -> None:
    """Prepare the six sets in the bench workspace (a second call finds them prepared)."""
    import subprocess
    import sys

    from pipelines.data import prepare
    from pipelines.data_bundled import load_bbc_news

    for name in ("rotten_tomatoes", "bbc_news", "movie_genres"):
        prepare(name)
    bbc3 = home / "bbc3_300.csv"
    if not bbc3.exists():
        df = load_bbc_news()
        df = df[df["label"].isin(BBC3_TOPICS)].copy()
        df["text"] = df["text"].str.slice(0, 300)
        df[["text", "label"]].to_csv(bbc3, index=False)
    prepare(str(bbc3), name="bbc3_300")
    user = home / "user3.csv"
    if not user.exists():
        subprocess.run([sys.executable, str(Path(__file__).with_name("user_file.py")), str(user)], check=True)
    prepare(str(user), name="user3", text_column=["Text"], label_column="Category", delimiter=";")


def plan(only: list[str], skip: list[str], variant: dict, llms: tuple[str, ...] = ()
         ) -> list[tuple[str, str, str, dict]]:
    """(dataset key, row label, kind, config), the cheap rows first: TF-IDF, probe, LLM few-shot, MiniLM."""
    out = []
    keys = only or list(DATASETS)
    for key in keys:
        ds, n, _ = DATASETS[key]
        out.append((key, "TF-IDF", "tfidf", {"dataset": ds, "max_train_samples": n}))
    for key in keys:
        ds, n, bundled = DATASETS[key]
        if bundled and "probe" not in skip:
            out.append((key, "probe(MiniLM)", "probe", {"dataset": ds, "model": "minilm", "max_train_samples": n}))
    for key in keys:
        ds, n, bundled = DATASETS[key]
        if bundled and not n and "llm" not in skip:  # the derived LLM and template, whole test split
            out.append((key, "LLM few-shot", "prompt", {"dataset": ds, "mode": "few"}))
            out += [(key, f"LLM few-shot {m}", "prompt", {"dataset": ds, "mode": "few", "model": m}) for m in llms]
    for key in keys:
        ds, n, _ = DATASETS[key]
        out.append((key, f"MiniLM new ({RULE.split()[-1]})", "finetune", {"dataset": ds,
                                                                         "max_train_samples": n or 10_000}))
        if variant:
            tag = ",".join(f"{k}={v}" for k, v in variant.items())
            out.append((key, f"MiniLM new ({tag})", "finetune", {"dataset": ds, "max_train_samples": n or 10_000,
                                                                 **variant}))
        if key in SMALL and "old" not in skip:
            out.append((key, "MiniLM old", "finetune", {"dataset": ds, "max_train_samples": n or 10_000,
                                                        "epochs": 1.0}))
    for key, label, kind, cfg in out:
        if kind in ("finetune", "probe"):
            cfg.setdefault("model", "minilm")
        cfg["run_name"] = f"{key}: {label}"
        if kind == "finetune":
            cfg["method"] = "full"
    return out


def run_all(steps: list[tuple[str, str, str, dict]], store) -> None:
    from pipelines.jobs import run_now

    for key, label, kind, cfg in steps:
        if _find(store, cfg["run_name"]):
            continue
        t0 = time.perf_counter()
        job = run_now(kind, cfg, store, progress=False)
        wall = time.perf_counter() - t0
        state = job["status"] if job["status"] != "done" else f"run {job['run_id']}"
        print(f"[{time.strftime('%H:%M:%S')}] {key:<6} {label:<26} {state} in {wall:.0f} s; load {_load()}",
              flush=True)
        if job["status"] == "done":
            store.put("bench_defaults_wall", job["run_id"], {"wall_s": wall, "load": _load()})


def _find(store, name: str):
    rows = [r for r in store.runs() if r.get("name") == name]
    return max(rows, key=lambda r: r.get("created_at") or 0) if rows else None


def _load() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def report(steps: list[tuple[str, str, str, dict]], store, markdown: bool) -> str:
    """The table: one row per run, every other row with the CI of its macro-F1 gap to TF-IDF."""
    from pipelines import runs
    from pipelines.compare import load_comparison
    from pipelines.stats import significance

    head = ["dataset", "run", "n train", "epochs run/max", "steps", "max_len", "acc", "macro-F1", "wall s", "kWh",
            "ΔF1 vs TF-IDF [95% CI]", "verdict"]
    lines = []
    for key, label, kind, cfg in steps:
        row = _find(store, cfg["run_name"])
        if row is None:
            continue
        m = runs.read_json(Path(row["path"]) / "metrics.json")
        tr = m.get("train") or {}
        wall = (store.get("bench_defaults_wall", row["id"]) or {}).get("wall_s")
        diff, verdict = "", ""
        ref = _find(store, f"{key}: TF-IDF")
        if kind != "tfidf" and ref:
            comp = load_comparison(store, run_ids=[ref["id"], row["id"]])
            b = significance(comp, ref["id"], row["id"])["bootstrap_macro_f1"]
            lo, hi = b["ci"]
            diff = f"{b['difference']:+.3f} [{lo:+.3f}, {hi:+.3f}]"
            verdict = ("significantly worse" if hi < 0 else "significantly better" if lo > 0
                       else "not significantly different")
        epochs = (f"{tr['epochs_run']:.2f}/{tr['epochs']:g}" if tr.get("epochs") else "")
        kwh = (m.get("emissions") or {}).get("total_energy_kwh")
        derived = ", derived" if label == "LLM few-shot" else ""
        shown = f"LLM few-shot ({row.get('model')}{derived}, k={cfg.get('k', 2)})" if kind == "prompt" else label
        lines.append([DATASETS[key][0] if key != "rt2k" else "rotten_tomatoes (2k train)", shown,
                      str(tr.get("train_samples") or ""), epochs, str(tr.get("steps") or ""),
                      str(tr.get("max_length") or ""), f"{m['accuracy']:.3f}", f"{m['macro_f1']:.3f}",
                      f"{wall:.0f}" if wall else "", f"{kwh:.5f}" if kwh is not None else "", diff, verdict])
    if markdown:
        out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        out += ["| " + " | ".join(r) + " |" for r in lines]
    else:
        widths = [max(len(h), *(len(r[i]) for r in lines)) if lines else len(h) for i, h in enumerate(head)]
        fmt = "  ".join(f"{{:<{w}}}" for w in widths)
        out = [fmt.format(*head)] + [fmt.format(*r) for r in lines]
    return "\n".join(out + verdicts(steps, store))


def verdicts(steps: list[tuple[str, str, str, dict]], store) -> list[str]:
    """What the workbench's own verdict (pipelines/verdict.py) says of each dataset's rows together
    (only where TF-IDF is the reference: trained on the whole train split)."""
    from pipelines.compare import load_comparison
    from pipelines.verdict import verdict_for

    out = []
    for key in dict.fromkeys(k for k, *_ in steps):
        if DATASETS[key][1]:
            continue
        found = [_find(store, cfg["run_name"]) for k, _, _, cfg in steps if k == key]
        ids = [r["id"] for r in found if r]
        if len(ids) > 1 and _find(store, f"{key}: TF-IDF"):
            text = verdict_for(load_comparison(store, run_ids=ids)).text()
            out.append(f"verdict {key}: " + " ".join(text.split()))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--home", help="workspace (default: a new temporary folder); reuse it to resume")
    ap.add_argument("--only", nargs="+", choices=list(DATASETS), default=[])
    ap.add_argument("--skip", nargs="+", choices=["old", "probe", "llm"], default=[])
    ap.add_argument("--variant", nargs="+", default=[], metavar="FIELD=VALUE",
                    help="also MiniLM new with these config changes (one principled change, e.g. min_steps=1000)")
    ap.add_argument("--rows", nargs="+", default=[], metavar="LABEL",
                    help="train only the rows whose label starts with one of these (e.g. 'MiniLM old'); the "
                         "report still shows every row")
    ap.add_argument("--llm", nargs="+", default=[], metavar="MODEL",
                    help="also the LLM few-shot row with these installed LLMs (e.g. gemma3-270m): which one is best")
    ap.add_argument("--report-only", action="store_true", help="print the table of finished runs, train nothing")
    ap.add_argument("--markdown", action="store_true", help="print the table as Markdown (for bench/RESULTS.md)")
    args = ap.parse_args()
    home = Path(bench_workspace(args.home, "defaults"))
    from pipelines.configs import FinetuneConfig
    from pipelines.store import Store

    variant = {}
    for item in args.variant:
        k, _, v = item.partition("=")
        variant[k] = json.loads(v)
    FinetuneConfig(**variant)  # a bad field or value fails here, before anything trains
    store = Store()
    steps = plan(args.only, args.skip, variant, tuple(args.llm))
    if not args.report_only:
        prepare_all(home)
        print(f"load before: {_load()}", flush=True)
        run_all([st for st in steps if not args.rows or st[1].startswith(tuple(args.rows))], store)
    import torch
    import transformers

    print(f"\nworkspace {home}; {os.cpu_count()} cores, load {_load()}; Python {platform.python_version()}, "
          f"torch {torch.__version__}, transformers {transformers.__version__}")
    print(report(steps, store, args.markdown))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
