"""Comparing runs: load the runs of one test split into data frames, test differences, find the Pareto front.

Everything here is numpy/pandas only (no torch, and no scipy: its import alone costs seconds): the dashboard and ``python -m pipelines
compare`` both build on it, and the dashboard must never import a deep-learning framework.

Why the split check is strict: two runs are comparable only when they were scored on the
identical test examples. The store records each run's ``split_hash`` (a content hash of the
dataset's three splits), so a mix of hashes is refused with the list of which run is on
which split, instead of producing a table whose rows silently mean different things.

Significance: paired tests on the same test examples. McNemar looks only at the examples
where exactly one of the two runs is right (the discordant pairs); with fewer than 25 of
them the chi-square approximation is poor, so the exact binomial test is used. The paired
bootstrap resamples test examples (the same resample for both runs) and reads how often the
difference in accuracy or macro-F1 is at least as extreme as observed under the null of no
difference (the centred bootstrap distribution), which also works for macro-F1, where
McNemar does not apply.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import runs as runs_mod
from .store import Store

log = logging.getLogger(__name__)

ALPHA = 0.05
EXACT_BELOW = 25  # McNemar: exact binomial test when discordant pairs < this
N_BOOTSTRAP = 2000

#: numeric columns of :attr:`Comparison.runs`, in display order, with whether higher is better.
METRIC_COLUMNS: dict[str, bool] = {
    "accuracy": True,
    "macro_f1": True,
    "energy_kwh": False,
    "co2_g": False,
    "latency_ms": False,
    "throughput": True,
    "params_m": False,
    "size_mb": False,
}


class MixedSplitsError(ValueError):
    """Runs on different test splits were asked to be compared."""


# ----------------------------------------------------------------------------- selection

def _short(split_hash: str) -> str:
    return str(split_hash)[:8]


def check_same_split(rows: Sequence[dict[str, Any]]) -> str:
    """Return the one split hash shared by ``rows``; raise MixedSplitsError naming who is on which split."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault(r["split_hash"], []).append(r)
    if len(groups) <= 1:
        return next(iter(groups), "")
    parts = []
    for h, members in groups.items():
        ids = ", ".join(m["id"] for m in members)
        datasets = sorted({m["dataset_id"] for m in members})
        parts.append(f"{ids} on {'/'.join(datasets)} (split {_short(h)})")
    raise MixedSplitsError(
        "cannot compare runs on different test splits: " + "; ".join(parts)
        + ". Metrics are only comparable on the identical test examples: choose runs of one dataset split.")


def select_runs(store: Store, dataset_id: str | None = None,
                run_ids: Sequence[str] | None = None) -> tuple[list[dict[str, Any]], list[str]]:
    """The store rows of the runs to compare (all on one split) and notes on what was left out.

    ``run_ids`` wins when given (every id must exist, all on one split, and on ``dataset_id`` if
    both are given). With ``dataset_id`` alone: the runs on that dataset's current split (runs
    on an older split of the same dataset are left out, with a note). With neither: all runs
    when they share one split, else an error asking to choose a dataset.
    """
    notes: list[str] = []
    if run_ids:
        rows, missing = [], []
        for rid in dict.fromkeys(run_ids):
            row = store.run(rid)
            if row:
                rows.append(row)
            else:
                missing.append(rid)
        if missing:
            raise ValueError(f"unknown run id(s): {', '.join(missing)}; list runs with `python -m pipelines runs list`")
        check_same_split(rows)
        if dataset_id and any(r["dataset_id"] != dataset_id for r in rows):
            other = [r["id"] for r in rows if r["dataset_id"] != dataset_id]
            raise MixedSplitsError(f"run(s) {', '.join(other)} are not on dataset {dataset_id!r}; "
                                   "drop --dataset or choose runs of that dataset")
        return rows, notes

    all_rows = store.runs()
    if dataset_id:
        rows = [r for r in all_rows if r["dataset_id"] == dataset_id]
        ds = store.dataset(dataset_id)
        if ds is None and not rows:
            known = sorted({r["dataset_id"] for r in all_rows} | {d["id"] for d in store.datasets()})
            raise ValueError(f"unknown dataset {dataset_id!r}" + (f"; known: {', '.join(known)}" if known else
                                                                   "; prepare one with `python -m pipelines data prepare`"))
        if ds is not None:
            current = ds["split_hash"]
        else:  # dataset row gone: the most recent split that has runs
            current = rows[-1]["split_hash"]
        old = [r for r in rows if r["split_hash"] != current]
        if old:
            hashes = ", ".join(sorted({_short(r["split_hash"]) for r in old}))
            notes.append(f"{len(old)} run(s) of {dataset_id} on an older split ({hashes}) left out, not comparable "
                         f"with the current split {_short(current)}: {', '.join(r['id'] for r in old)}")
        return [r for r in rows if r["split_hash"] == current], notes

    hashes = {r["split_hash"] for r in all_rows}
    if len(hashes) > 1:
        datasets = sorted({r["dataset_id"] for r in all_rows})
        raise ValueError(f"the store holds runs on {len(hashes)} different splits; choose one dataset "
                         f"(--dataset {' | '.join(datasets)}) or give --runs")
    return all_rows, notes


# ------------------------------------------------------------------------------ loading

@dataclass
class Comparison:
    """The runs of one split, loaded from the store rows and their run folders."""

    dataset_id: str
    split_hash: str
    task: str
    labels: list[str]
    runs: pd.DataFrame  # one row per run, index = run id, columns: see _run_row
    metrics: dict[str, dict[str, Any]] = field(default_factory=dict)  # run id -> metrics.json
    configs: dict[str, dict[str, Any]] = field(default_factory=dict)  # run id -> config.json
    notes: list[str] = field(default_factory=list)

    @property
    def run_ids(self) -> list[str]:
        return list(self.runs.index)

    @property
    def multi_label(self) -> bool:
        return self.task == "multi_label"

    @cached_property
    def labels_by_id(self) -> dict[str, str]:
        """Run id → display name (a dict: frames of many runs look names up thousands of times)."""
        return {rid: str(lab) for rid, lab in zip(self.runs.index, self.runs["label"])}

    def label_of(self, run_id: str) -> str:
        return self.labels_by_id[run_id]

    def path_of(self, run_id: str) -> Path:
        return Path(self.runs.at[run_id, "path"])

    def subset(self, run_ids: Sequence[str]) -> Comparison:
        """The same comparison restricted to some runs (order kept as given)."""
        keep = [r for r in run_ids if r in self.runs.index]
        return Comparison(self.dataset_id, self.split_hash, self.task, self.labels, self.runs.loc[keep].copy(),
                          {k: self.metrics[k] for k in keep if k in self.metrics},
                          {k: self.configs[k] for k in keep if k in self.configs}, list(self.notes))

    def best(self, column: str, n: int | None = None) -> list[str]:
        """Run ids sorted best-first by a metric column (NaN last)."""
        higher = METRIC_COLUMNS.get(column, True)
        order = self.runs[column].astype(float).sort_values(ascending=not higher, na_position="last")
        ids = list(order.index)
        return ids[:n] if n else ids

    # -- per-run detail frames
    def per_class(self) -> pd.DataFrame:
        """Long frame: run_id, label (run display name), class, precision, recall, f1, support."""
        out = []
        for rid in self.run_ids:
            pc = (self.metrics.get(rid) or {}).get("per_class") or {}
            for cls in self.labels:
                m = pc.get(cls)
                if m is None:
                    continue
                out.append({"run_id": rid, "label": self.label_of(rid), "class": cls,
                            "precision": m.get("precision"), "recall": m.get("recall"), "f1": m.get("f1"),
                            "support": m.get("support")})
        return pd.DataFrame(out, columns=["run_id", "label", "class", "precision", "recall", "f1", "support"])

    def confusion(self, run_id: str) -> np.ndarray | None:
        """Counts, rows = gold, columns = predicted, in ``labels`` order (single-label runs only)."""
        cm = (self.metrics.get(run_id) or {}).get("confusion_matrix")
        return None if cm is None else np.asarray(cm, dtype=np.int64)

    def emissions(self) -> pd.DataFrame:
        """One row per (run, phase): energy_kwh, co2_g, duration_s, the power methods and the country."""
        out = []
        for rid in self.run_ids:
            em = (self.metrics.get(rid) or {}).get("emissions") or {}
            for ph in em.get("phases") or []:
                out.append({
                    "run_id": rid, "label": self.label_of(rid), "phase": ph.get("phase"),
                    "energy_kwh": _num(ph.get("energy_kwh")),
                    "co2_g": _num(ph.get("co2_kg")) * 1000.0 if ph.get("co2_kg") is not None else np.nan,
                    "duration_s": _num(ph.get("duration_s")), "measured": bool(ph.get("measured")),
                    "cpu_method": ph.get("cpu_method"), "ram_method": ph.get("ram_method"),
                    "gpu_method": ph.get("gpu_method"), "cpu_power_w": _num(ph.get("cpu_power_w")),
                    "ram_power_w": _num(ph.get("ram_power_w")), "gpu_power_w": _num(ph.get("gpu_power_w")),
                    "country": ph.get("country_iso_code"),
                })
        cols = ["run_id", "label", "phase", "energy_kwh", "co2_g", "duration_s", "measured", "cpu_method",
                "ram_method", "gpu_method", "cpu_power_w", "ram_power_w", "gpu_power_w", "country"]
        return pd.DataFrame(out, columns=cols)

    def history(self, store: Store) -> pd.DataFrame:
        """Training curves from the store's history table: run_id, label, step, name, value, epoch."""
        jobs: dict[int, list[str]] = {}
        for rid in self.run_ids:
            jid = self.runs.at[rid, "job_id"]
            if jid is not None and not pd.isna(jid):
                jobs.setdefault(int(jid), []).append(rid)
        cols = ["run_id", "label", "step", "name", "value", "epoch"]
        if not jobs:
            return pd.DataFrame(columns=cols)
        marks = ",".join("?" * len(jobs))
        with store.connect() as con:
            rows = con.execute(f"SELECT job_id, step, name, value, epoch FROM history WHERE job_id IN ({marks}) "
                               "ORDER BY at", tuple(jobs)).fetchall()
        names = self.labels_by_id
        out = [{"run_id": rid, "label": names[rid], "step": r["step"], "name": r["name"], "value": r["value"],
                "epoch": r["epoch"]}
               for r in rows for rid in jobs[r["job_id"]]]
        return pd.DataFrame(out, columns=cols)

    def predictions(self, run_id: str) -> pd.DataFrame:
        return runs_mod.load_predictions(self.path_of(run_id))


def _num(v: Any) -> float:
    try:
        return float(v) if v is not None else np.nan
    except (TypeError, ValueError):
        return np.nan


def _ci(m: dict[str, Any], key: str) -> tuple[float, float]:
    ci = m.get(key)
    if isinstance(ci, (list, tuple)) and len(ci) == 2 and ci[0] is not None:
        return float(ci[0]), float(ci[1])
    return np.nan, np.nan


def _run_row(row: dict[str, Any], metrics: dict[str, Any]) -> dict[str, Any]:
    """One row of the runs frame, from metrics.json where present, else the store's summary."""
    s = row.get("summary") or {}
    m = {**s, **metrics}
    em = metrics.get("emissions") or {}
    size = metrics.get("model") or {}
    speed = metrics.get("speed") or {}
    acc_lo, acc_hi = _ci(m, "accuracy_ci")
    f1_lo, f1_hi = _ci(m, "macro_f1_ci")
    energy = em.get("total_energy_kwh", s.get("energy_kwh"))
    co2 = em.get("total_co2_kg", s.get("co2_kg"))
    params = size.get("total_params", s.get("params"))
    phases = em.get("phases") or []
    methods = sorted({p.get("cpu_method") for p in phases if p.get("cpu_method")})
    return {
        "run_id": row["id"], "name": row.get("name") or row["id"], "model": row.get("model"),
        "method": row.get("method"), "kind": row.get("kind"), "dataset_id": row["dataset_id"],
        "split_hash": row["split_hash"], "job_id": row.get("job_id"), "created_at": row.get("created_at"),
        "path": row.get("path"),
        "accuracy": _num(m.get("accuracy")), "accuracy_lo": acc_lo, "accuracy_hi": acc_hi,
        "macro_f1": _num(m.get("macro_f1")), "macro_f1_lo": f1_lo, "macro_f1_hi": f1_hi,
        "micro_f1": _num(m.get("micro_f1")), "weighted_f1": _num(m.get("weighted_f1")),
        "roc_auc": _num(m.get("roc_auc")),
        "energy_kwh": _num(energy), "co2_g": _num(co2) * 1000.0 if co2 is not None else np.nan,
        "latency_ms": _num(speed.get("latency_ms", s.get("latency_ms"))),
        "throughput": _num(speed.get("throughput", s.get("throughput"))),
        "params_m": _num(params) / 1e6 if params is not None else np.nan,
        "trainable_params_m": _num(size.get("trainable_params")) / 1e6 if size.get("trainable_params") else np.nan,
        "size_mb": _num(size.get("size_mb", s.get("size_mb"))),
        "duration_s": _num(em.get("duration_s")),
        "energy_measured": bool(em.get("measured")) if em else False,
        "country": em.get("country_iso_code"),
        "cpu_method": ", ".join(methods) if methods else None,
        "n_test": m.get("n"),
    }


def _display_labels(frame: pd.DataFrame) -> list[str]:
    """Readable, unique run names for legends: the run name, else model · method; ids break ties."""
    base = []
    for rid, name, model, method in zip(frame["run_id"], frame["name"], frame["model"], frame["method"]):
        if name and name != rid:
            base.append(str(name))
        else:
            base.append(" · ".join(x for x in (Path(str(model)).name, method) if x))
    counts = pd.Series(base).value_counts()
    return [f"{b} #{rid[-4:]}" if counts[b] > 1 else b for b, rid in zip(base, frame["run_id"])]


def load_comparison(store: Store | None = None, dataset_id: str | None = None,
                    run_ids: Sequence[str] | None = None) -> Comparison:
    """Select runs (see :func:`select_runs`) and read their folders into a :class:`Comparison`."""
    store = store or Store()
    rows, notes = select_runs(store, dataset_id, run_ids)
    return comparison_from_rows(store, rows, notes, dataset_id)


def comparison_from_rows(store: Store, rows: Sequence[dict[str, Any]], notes: Sequence[str] = (),
                         dataset_id: str | None = None) -> Comparison:
    split_hash = check_same_split(rows)
    notes = list(notes)
    metrics, configs, frame_rows = {}, {}, []
    for r in rows:
        folder = Path(r["path"])
        try:
            m = runs_mod.read_json(folder / "metrics.json")
        except (OSError, ValueError) as exc:
            notes.append(f"run {r['id']}: metrics.json unreadable ({exc}); shown from the store summary only")
            m = {}
        try:
            c = runs_mod.read_json(folder / "config.json")
        except (OSError, ValueError):
            c = {}
        metrics[r["id"]], configs[r["id"]] = m, c
        frame_rows.append(_run_row(r, m))
    frame = pd.DataFrame(frame_rows, columns=list(_run_row({"id": "", "dataset_id": "", "split_hash": ""}, {})))
    if len(frame):
        frame["label"] = _display_labels(frame)
    else:
        frame["label"] = []
    frame = frame.set_index("run_id", drop=False)
    labels, task = _labels_and_task(store, rows, configs, metrics)
    ds_id = dataset_id or (rows[0]["dataset_id"] if rows else "")
    return Comparison(ds_id, split_hash, task, labels, frame, metrics, configs, notes)


def _labels_and_task(store: Store, rows: Sequence[dict[str, Any]], configs: dict[str, dict[str, Any]],
                     metrics: dict[str, dict[str, Any]]) -> tuple[list[str], str]:
    for c in configs.values():
        ds = c.get("dataset") or {}
        if ds.get("labels"):
            return [str(x) for x in ds["labels"]], ds.get("task", "single_label")
    for m in metrics.values():
        if m.get("labels"):
            return [str(x) for x in m["labels"]], "multi_label" if m.get("multi_label") else "single_label"
    if rows:
        ds = store.dataset(rows[0]["dataset_id"])
        if ds:
            return list(ds["labels"]), ds["task"]
    return [], "single_label"


# ------------------------------------------------------------------------- significance

def indicator(values: Sequence, labels: Sequence[str], multi_label: bool) -> np.ndarray:
    """n × L 0/1 matrix from label strings (single-label) or lists of them; unknown labels → all zeros."""
    index = {str(lab): j for j, lab in enumerate(labels)}
    out = np.zeros((len(values), len(labels)), dtype=np.int64)
    for r, v in enumerate(values):
        items = list(v) if multi_label and v is not None and not isinstance(v, str) else [v]
        for lab in items:
            j = index.get(str(lab))
            if j is not None:
                out[r, j] = 1
    return out


def paired_predictions(comp: Comparison, run_a: str, run_b: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gold, A and B as n × L indicator matrices aligned on test-example id."""
    for rid in (run_a, run_b):
        if rid not in comp.runs.index:
            raise ValueError(f"run {rid!r} is not in this comparison")
    a, b = comp.predictions(run_a), comp.predictions(run_b)
    if set(a["id"]) != set(b["id"]):
        raise MixedSplitsError(f"runs {run_a} and {run_b} were scored on different test examples "
                               f"({len(a)} vs {len(b)} rows); a paired test needs the same examples")
    b = b.set_index("id").loc[a["id"]].reset_index()
    ml = comp.multi_label
    return (indicator(a["gold"], comp.labels, ml), indicator(a["pred"], comp.labels, ml),
            indicator(b["pred"], comp.labels, ml))


def _binom_two_sided(k: int, n: int) -> float:
    """Exact two-sided binomial test of k successes in n trials at p = 0.5 (the McNemar null).

    The distribution is symmetric, so the two-sided p-value is twice the smaller tail. Written
    out (math.comb) instead of scipy.stats, whose import costs the dashboard seconds.
    """
    k = min(k, n - k)
    tail = sum(math.comb(n, i) for i in range(k + 1)) / 2 ** n
    return min(1.0, 2 * tail)


def _chi2_sf_1df(x: float) -> float:
    """Survival function of chi-square with one degree of freedom: P(X ≥ x) = erfc(√(x/2))."""
    return math.erfc(math.sqrt(max(0.0, x) / 2))


def mcnemar(correct_a: np.ndarray, correct_b: np.ndarray) -> dict[str, Any]:
    """McNemar's test on paired right/wrong outcomes; exact binomial when discordant pairs are few."""
    ca, cb = np.asarray(correct_a, dtype=bool), np.asarray(correct_b, dtype=bool)
    if ca.shape != cb.shape:
        raise ValueError(f"paired outcomes must have the same length, got {ca.shape} and {cb.shape}")
    only_a = int((ca & ~cb).sum())
    only_b = int((~ca & cb).sum())
    n_disc = only_a + only_b
    if n_disc == 0:
        p, method, statistic = 1.0, "exact binomial (no discordant pairs)", 0.0
    elif n_disc < EXACT_BELOW:
        p = _binom_two_sided(min(only_a, only_b), n_disc)
        method, statistic = "exact binomial", float(min(only_a, only_b))
    else:
        statistic = (abs(only_a - only_b) - 1) ** 2 / n_disc
        p = _chi2_sf_1df(statistic)
        method = "chi-square with continuity correction"
    return {"test": "McNemar", "method": method, "only_a_correct": only_a, "only_b_correct": only_b,
            "both_correct": int((ca & cb).sum()), "both_wrong": int((~ca & ~cb).sum()),
            "statistic": statistic, "p_value": min(1.0, p)}


def _macro_f1_from_counts(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray) -> np.ndarray:
    denom = 2 * tp + fp + fn
    return np.divide(2 * tp, denom, out=np.zeros_like(tp, dtype=np.float64), where=denom > 0).mean(axis=-1)


def paired_bootstrap(gold: np.ndarray, pred_a: np.ndarray, pred_b: np.ndarray, metric: str = "accuracy",
                     n_bootstrap: int = N_BOOTSTRAP, seed: int = 0, level: float = 0.95) -> dict[str, Any]:
    """Paired bootstrap of metric(B) − metric(A) over test examples (n × L indicator matrices).

    Both runs are scored on the same resample. The p-value is two-sided: the share of
    resampled differences, centred on the observed one (the null of no difference), that are
    at least as far from zero as the observed difference.
    """
    if metric not in ("accuracy", "macro_f1"):
        raise ValueError(f"metric must be 'accuracy' or 'macro_f1', got {metric!r}")
    gold, pred_a, pred_b = (np.asarray(x, dtype=np.float64) for x in (gold, pred_a, pred_b))
    n = gold.shape[0]
    if n < 2:
        raise ValueError("a paired bootstrap needs at least 2 test examples")
    rng = np.random.default_rng(seed)

    def per_row(pred: np.ndarray) -> tuple[np.ndarray, ...]:
        correct = (pred == gold).all(axis=1).astype(np.float64)
        return correct, gold * pred, (1 - gold) * pred, gold * (1 - pred)

    ra, rb = per_row(pred_a), per_row(pred_b)

    def score(w: np.ndarray, r: tuple[np.ndarray, ...]) -> np.ndarray:
        if metric == "accuracy":
            return w @ r[0] / n
        return _macro_f1_from_counts(w @ r[1], w @ r[2], w @ r[3])

    ones = np.ones((1, n))
    observed = float(score(ones, rb)[0] - score(ones, ra)[0])
    chunk = max(1, min(n_bootstrap, 4_000_000 // n))
    diffs = []
    for start in range(0, n_bootstrap, chunk):
        k = min(chunk, n_bootstrap - start)
        idx = rng.integers(0, n, size=(k, n))
        w = np.bincount((idx + np.arange(k)[:, None] * n).ravel(), minlength=k * n).reshape(k, n).astype(np.float64)
        diffs.append(score(w, rb) - score(w, ra))
    d = np.concatenate(diffs)
    tail = (1 - level) / 2 * 100
    lo, hi = np.percentile(d, [tail, 100 - tail])
    # +1 smoothing: a p-value from B resamples is never exactly 0.
    extreme = int(np.sum(np.abs(d - observed) >= abs(observed) - 1e-12))
    p = (extreme + 1) / (len(d) + 1) if observed != 0 else 1.0
    return {"test": "paired bootstrap", "metric": metric, "difference": observed, "ci": [float(lo), float(hi)],
            "n_bootstrap": int(len(d)), "p_value": float(min(1.0, p))}


def format_p(p: float) -> str:
    if p < 0.001:
        return "p < 0.001"
    if p < 0.01:
        return f"p = {p:.3f}"
    return f"p = {p:.2f}"


def p_value_in_words(p: float, alpha: float = ALPHA) -> str:
    """A p-value as a sentence a non-statistician reads correctly."""
    if p is None or (isinstance(p, float) and math.isnan(p)):
        return "no p-value: the test could not be run"
    level = f"{alpha * 100:g}%"
    if p < alpha:
        return f"{format_p(p)}: the difference is unlikely to be chance at the {level} level"
    return (f"{format_p(p)}: the difference could well be chance (not significant at the {level} level); "
            "more test examples would be needed to tell these runs apart")


def significance(comp: Comparison, run_a: str, run_b: str, n_bootstrap: int = N_BOOTSTRAP,
                 seed: int = 0) -> dict[str, Any]:
    """McNemar + paired bootstrap (accuracy and macro-F1) of B against A, each with its p-value in words."""
    gold, pa, pb = paired_predictions(comp, run_a, run_b)
    ca, cb = (pa == gold).all(axis=1), (pb == gold).all(axis=1)
    mc = mcnemar(ca, cb)
    out = {"run_a": run_a, "run_b": run_b, "label_a": comp.label_of(run_a), "label_b": comp.label_of(run_b),
           "n": int(len(gold)), "mcnemar": mc,
           "bootstrap_accuracy": paired_bootstrap(gold, pa, pb, "accuracy", n_bootstrap, seed),
           "bootstrap_macro_f1": paired_bootstrap(gold, pa, pb, "macro_f1", n_bootstrap, seed)}
    for key in ("mcnemar", "bootstrap_accuracy", "bootstrap_macro_f1"):
        out[key]["words"] = p_value_in_words(out[key]["p_value"])
    return out


# ---------------------------------------------------------------------------- Pareto

def pareto_front(quality: Sequence[float], cost: Sequence[float]) -> np.ndarray:
    """Boolean mask of the points no other point beats: higher quality and lower cost.

    A point is dominated when another has quality ≥ and cost ≤ with at least one strict.
    Points with a missing quality or cost are never on the front.
    """
    q = np.asarray(quality, dtype=np.float64)
    c = np.asarray(cost, dtype=np.float64)
    if q.shape != c.shape:
        raise ValueError(f"quality and cost must have the same length, got {q.shape} and {c.shape}")
    ok = np.isfinite(q) & np.isfinite(c)
    front = ok.copy()
    for i in np.flatnonzero(ok):
        better_or_equal = ok & (q >= q[i]) & (c <= c[i])
        strictly = (q > q[i]) | (c < c[i])
        if np.any(better_or_equal & strictly):
            front[i] = False
    return front
