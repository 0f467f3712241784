"""The verdict: which model to use on this dataset, in sentences a non-technical reader gets right.

Built only from figures the workbench already computed — the comparison frame, the paired
tests of :mod:`pipelines.stats`, the collapse check of :mod:`pipelines.collapse` and the
seed groups of :mod:`pipelines.sweeps` — so it never says more than the charts show, and
every sentence names the chart it comes from (an anchor of the Compare page).

It reads every caveat it knows and never calls a run best without saying it: a run scored on
part of the test split, a run whose predictions collapsed onto one class, a run trained with
one seed (seed noise is often as large as the gaps between models), and the case the
workbench exists to catch — the TF-IDF reference being as good, at a tiny fraction of the
energy — and speed measured while other work loaded the machine (``contended`` in
:mod:`pipelines.speed`), which makes a latency ratio unreliable.

:func:`plan` decides which runs matter and which paired tests are needed; :func:`build`
turns a plan, the test results and the caveats into a :class:`Verdict` (pure);
:func:`verdict_for` does both with the real tests. Numpy/pandas only (the dashboard imports it).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import numpy as np
import pandas as pd

from . import columns
from .reference import KIND as REFERENCE_KIND
from .reference import counts_as_reference
from .sweeps import seed_matters

REFERENCE_LABEL = "TF-IDF reference"
LLM_KINDS = ("prompt",)  # zero-/few-shot LLM runs: each one is weighed against the reference in words (issue 10)
ALPHA = 0.05
_SEED_SUFFIX = re.compile(r"\s*·\s*seed=\d+.*$")


# ------------------------------------------------------------------ the reference

def reference_run(comp: Any) -> str | None:
    """The dataset's TF-IDF reference: the newest ``tfidf`` run trained on the whole train split and
    scored on the whole test split. Curve points on fewer labels never are; a curve's "all" point
    is only when no plain run exists."""
    runs = comp.runs
    if runs.empty or "kind" not in runs:
        return None
    best = None
    for rid in runs.index[runs["kind"] == REFERENCE_KIND]:
        cfg = (comp.configs.get(rid) or {}).get("config") or {}
        if not counts_as_reference(REFERENCE_KIND, cfg, comp.metrics.get(rid) or {}):
            continue
        key = (not cfg.get("nested_subsample"), float(runs.at[rid, "created_at"] or 0), rid)
        best = max(best, key) if best else key
    return best[-1] if best else None


def reference_line(comp: Any, quality: str = "macro_f1") -> dict[str, Any] | None:
    """What the quality charts draw as the reference line: label, run_id, value, lo, hi, per-class F1."""
    rid = reference_run(comp)
    if rid is None or not np.isfinite(float(comp.runs.at[rid, quality])):
        return None
    r = comp.runs.loc[rid]
    per_class = {str(c): m.get("f1") for c, m in ((comp.metrics.get(rid) or {}).get("per_class") or {}).items()}
    return {"label": REFERENCE_LABEL, "run_id": rid, "value": float(r[quality]),
            "lo": float(r.get(f"{quality}_lo", math.nan)), "hi": float(r.get(f"{quality}_hi", math.nan)),
            "per_class": per_class}


# ------------------------------------------------------------------ entries: a run, or a seed group

@dataclass
class Entry:
    """One contender: a single run, or a seed group read as its mean with the spread."""

    label: str
    ids: list[str]
    value: float  # the quality (mean over seeds for a group)
    half_ci: float  # half the 95% CI of a single run (NaN for a group)
    sd: float = math.nan
    lo: float = math.nan  # group: min over seeds
    hi: float = math.nan  # group: max over seeds
    kind: str = ""
    seeded: bool = True  # does a second seed change the result? (not a TF-IDF fit, not zero-shot label scoring)

    @property
    def group(self) -> bool:
        return len(self.ids) > 1

    @property
    def rep(self) -> str:
        """The run that stands for the entry in a head-to-head test (a group's run nearest its mean)."""
        return self.ids[0]


def _entries(comp: Any, groups: Mapping[str, Sequence[str]], quality: str, reference: str | None) -> list[Entry]:
    runs = comp.runs
    out: list[Entry] = []
    for ids in groups.values():
        ids = [r for r in ids if r in runs.index and np.isfinite(float(runs.at[r, quality]))]
        if len(ids) < 2:
            continue
        vals = np.array([float(runs.at[r, quality]) for r in ids])
        ids = [ids[i] for i in np.argsort(np.abs(vals - vals.mean()), kind="stable")]  # nearest the mean first
        out.append(Entry(_SEED_SUFFIX.sub("", comp.label_of(ids[0])), ids, float(vals.mean()), math.nan,
                         float(vals.std(ddof=1)), float(vals.min()), float(vals.max()), str(runs.at[ids[0], "kind"])))
    for rid in runs.index:
        value = float(runs.at[rid, quality])
        cfg = (comp.configs.get(rid) or {}).get("config") or {}
        partial_curve = cfg.get("nested_subsample") and rid != reference  # a learning-curve point
        if any(rid in e.ids for e in out) or partial_curve or not np.isfinite(value):
            continue
        lo, hi = float(runs.at[rid, f"{quality}_lo"]), float(runs.at[rid, f"{quality}_hi"])
        kind = str(runs.at[rid, "kind"])
        out.append(Entry(comp.label_of(rid), [rid], value, (hi - lo) / 2, kind=kind, seeded=seed_matters(kind, cfg)))
    return sorted(out, key=lambda e: -e.value)


def seed_spread(comp: Any, groups: Mapping[str, Sequence[str]], quality: str = columns.PRIMARY) -> pd.DataFrame:
    """One row per seed group: its name, how many seeds, the mean, sd, min and max of the quality."""
    col = columns.REGISTRY.get(quality)
    name = col.name if col else quality
    rows = [{"Run": e.label, "Seeds": len(e.ids), f"{name} mean": e.value, "sd": e.sd, "min": e.lo, "max": e.hi}
            for e in _entries(comp, groups, quality, None) if e.group]
    return pd.DataFrame(rows, columns=["Run", "Seeds", f"{name} mean", "sd", "min", "max"])


# ------------------------------------------------------------------ plan, then words

@dataclass
class Plan:
    """Who is best, who is runner-up, which run is the reference, and the paired tests needed (a, b)."""

    quality: str
    entries: list[Entry]
    reference: str | None
    pairs: list[tuple[str, str]] = field(default_factory=list)

    @property
    def best(self) -> Entry | None:
        return self.entries[0] if self.entries else None

    @property
    def runner_up(self) -> Entry | None:
        return self.entries[1] if len(self.entries) > 1 else None

    @property
    def best_is_reference(self) -> bool:
        return bool(self.best and self.reference in self.best.ids)


def plan(comp: Any, groups: Mapping[str, Sequence[str]] | None = None, quality: str = columns.PRIMARY) -> Plan:
    ref = reference_run(comp)
    p = Plan(quality, _entries(comp, groups or {}, quality, ref), ref)
    best, runner = p.best, p.runner_up
    if best is None:
        return p
    if ref and not p.best_is_reference:
        p.pairs += [(ref, rid) for rid in best.ids]  # every seed against the reference
    if runner and not (ref and ref in runner.ids and not p.best_is_reference):
        p.pairs.append((runner.rep, best.rep))
    p.pairs += [(ref, e.rep) for e in _llms_above_reference(comp, p)]
    return p


def _other_llms(p: Plan) -> list[Entry]:
    """LLM entries other than the best (the best one's comparison with the reference is said already)."""
    return [e for e in p.entries[1:] if e.kind in LLM_KINDS and p.reference not in e.ids]


def _llms_above_reference(comp: Any, p: Plan) -> list[Entry]:
    """Other LLM entries whose point estimate beats the reference: only those need a paired test."""
    if not p.reference:
        return []
    ref = float(comp.runs.at[p.reference, p.quality])
    return [e for e in _other_llms(p) if e.value > ref and (p.reference, e.rep) not in p.pairs]


@dataclass(frozen=True)
class Claim:
    """One sentence of the verdict and the Compare-page chart it comes from (``pair``: the head-to-head)."""

    text: str
    anchor: str
    pair: tuple[str, str] | None = None

    def href(self, page: str = "", dataset: str | None = None) -> str:
        query = {k: v for k, v in (("dataset", dataset), ("a", self.pair and self.pair[0]),
                                   ("b", self.pair and self.pair[1])) if v}
        return f"{page}{'?' + urlencode(query) if query else ''}#{self.anchor}"


@dataclass
class Verdict:
    dataset_id: str
    claims: list[Claim]
    caveats: list[Claim]
    best: list[str] = field(default_factory=list)  # run ids of the best entry
    reference: str | None = None

    def text(self) -> str:
        """Plain text (CLI, tests): the claims, then the caveats."""
        return " ".join(c.text for c in self.claims + self.caveats)

    def markdown(self, page: str = "", dataset: str | None = None) -> str:
        """Bullets, each sentence followed by a link to its chart (``page``: "compare" from another page)."""
        return "\n".join(f"- {c.text} [chart ↗]({c.href(page, dataset)})" for c in self.claims + self.caveats)


def _f(v: float) -> str:
    return f"{v:.3f}"


def _ratio(v: float) -> str:
    return f"{v:,.0f}×" if v >= 10 else f"{v:.1f}×" if v >= 1 else f"{v:.2f}×"


def _figure(e: Entry, name: str) -> str:
    if e.group:
        return (f"{name} {_f(e.value)} ± {_f(e.sd)}, mean ± sd over {len(e.ids)} seeds, "
                f"from {_f(e.lo)} to {_f(e.hi)}")
    return f"{name} {_f(e.value)} ± {_f(e.half_ci)}" if np.isfinite(e.half_ci) else f"{name} {_f(e.value)}"


def _significant(res: Mapping[str, Any] | None, key: str) -> bool | None:
    """True when B beats A at ALPHA; None when the test is missing."""
    if not res:
        return None
    test = res.get(key) or {}
    return bool(test.get("p_value", 1.0) < ALPHA and test.get("difference", 0.0) > 0)


def _mean_cost(comp: Any, ids: Sequence[str], col: str) -> float:
    vals = [float(comp.runs.at[r, col]) for r in ids]
    vals = [v for v in vals if np.isfinite(v)]
    return float(np.mean(vals)) if vals else math.nan


def _ratio_to(comp: Any, ids: Sequence[str], other: str, col: str) -> float:
    """Mean cost of ``ids`` over the cost of run ``other`` (NaN when either is missing or zero)."""
    base = float(comp.runs.at[other, col])
    mine = _mean_cost(comp, ids, col)
    return mine / base if np.isfinite(base) and base > 0 and np.isfinite(mine) and mine > 0 else math.nan


def _under_load(comp: Any, ids: Sequence[str]) -> bool:
    """Was any of these runs' speed measured while other work loaded the machine (:mod:`pipelines.speed`)?"""
    for rid in ids:
        flag = comp.runs.at[rid, "speed_contended"] if "speed_contended" in comp.runs else None
        if flag is None or (isinstance(flag, float) and math.isnan(flag)):
            flag = ((comp.metrics.get(rid) or {}).get("speed") or {}).get("contended")
        if flag is True or flag == 1:
            return True
    return False


def _run_caveats(comp: Any, rid: str, collapsed: Mapping[str, str]) -> list[str]:
    out = []
    sub = (comp.metrics.get(rid) or {}).get("test_subset")
    if sub:
        out.append(f"it was scored on only {sub['n']} of the {sub['of']} test texts (a test subset)")
    if rid in collapsed:
        out.append(f"its predictions collapsed ({collapsed[rid].removeprefix('Collapsed predictions: ').rstrip('.')})")
    return out


def build(comp: Any, p: Plan, results: Mapping[tuple[str, str], Mapping[str, Any]],
          collapsed: Mapping[str, str] | None = None) -> Verdict:
    """The verdict from a plan, the paired tests of its pairs (``stats.significance`` results) and the
    collapsed runs (run id → warning)."""
    collapsed = collapsed or {}
    v = Verdict(comp.dataset_id, [], [], reference=p.reference)
    best = p.best
    if best is None:
        v.claims.append(Claim("No run has a quality figure yet: nothing to recommend.", "quality"))
        return v
    v.best = list(best.ids)
    col = columns.REGISTRY.get(p.quality)
    qname = col.name if col else p.quality
    key = "bootstrap_macro_f1" if p.quality == "macro_f1" else "bootstrap_accuracy"
    ref_value = float(comp.runs.at[p.reference, p.quality]) if p.reference else math.nan
    faults = sorted({c for rid in best.ids for c in _run_caveats(comp, rid, collapsed)})
    draw = "one few-shot draw" if best.kind in LLM_KINDS else "one seed"
    seeds = "" if best.group or not best.seeded else f" ({draw}: repeat it with --seeds 3 to see how much the score " \
                                                      "moves)"
    if faults:
        v.claims.append(Claim(f"{best.label} scores highest ({_figure(best, qname)}), but {'; '.join(faults)}: "
                              "do not choose it on this number" + seeds + ".", "quality"))
    else:
        v.claims.append(Claim(f"{best.label} is best ({_figure(best, qname)}){seeds}.", "quality"))

    if p.reference and not p.best_is_reference:
        tests = [_significant(results.get((p.reference, rid)), key) for rid in best.ids]
        wins, done = sum(bool(t) for t in tests), sum(t is not None for t in tests)
        ref_words = f"the {REFERENCE_LABEL} ({_f(ref_value)})"
        pair = (p.reference, best.rep)
        if done and wins == done:
            every = f" in all {done} seeds" if done > 1 else ""
            v.claims.append(Claim(f"It is significantly better than {ref_words}{every} (paired bootstrap on "
                                  f"{qname}, 95%).", "significance", pair))
        elif wins:
            v.claims.append(Claim(f"It is significantly better than {ref_words} in {wins} of {done} seeds only: "
                                  "the gain depends on the seed.", "significance", pair))
        elif done:
            v.claims.append(Claim(f"It is not significantly better than {ref_words}: the {REFERENCE_LABEL} is as "
                                  f"good or better, so {best.label} is not worth its extra cost here.",
                                  "significance", pair))
        energy = _ratio_to(comp, best.ids, p.reference, "energy_kwh")
        latency = _ratio_to(comp, best.ids, p.reference, "latency_ms")
        if np.isfinite(energy):
            v.claims.append(Claim(f"It uses {_ratio(energy)} the reference's energy to train and evaluate.", "energy"))
        if np.isfinite(latency):
            loaded = _under_load(comp, [*best.ids, p.reference])
            v.claims.append(Claim(f"It takes {_ratio(latency)} the reference's time per text" + (
                " (speed measured under load: re-measure on a quiet machine before trusting this ratio)"
                if loaded else "") + ".", "cost"))
    elif p.best_is_reference:
        v.claims.append(Claim(f"The {REFERENCE_LABEL} is as good or better than every other run: the transformer "
                              "is not worth its cost here.", "quality"))
    elif not p.reference:
        v.caveats.append(Claim(f"There is no {REFERENCE_LABEL} on this dataset: run `python -m pipelines baseline "
                               "tfidf` to see whether a model is worth its cost.", "quality"))

    runner = p.runner_up
    runner_is_reference = bool(runner and p.reference in runner.ids and not p.best_is_reference)
    if runner and (runner.rep, best.rep) in p.pairs and not runner_is_reference:  # said once, about the reference
        res = results.get((runner.rep, best.rep))
        sig = _significant(res, key)
        rv = f"{runner.label} ({_f(runner.value)})"
        if sig:
            text = f"It is also significantly better than the runner-up, {rv}."
        elif sig is False:
            text = f"It is not significantly better than the runner-up, {rv}: the difference could be chance."
        else:
            text = None
        if text:
            v.claims.append(Claim(text, "significance", (runner.rep, best.rep)))
        if p.best_is_reference and runner.ids:
            energy = _ratio_to(comp, runner.ids, best.rep, "energy_kwh")
            if np.isfinite(energy):
                v.claims.append(Claim(f"The runner-up uses {_ratio(energy)} the reference's energy.", "energy"))

    if p.reference:
        v.claims += _llm_claims(p, results, key, ref_value)

    others = [rid for rid in comp.run_ids if rid not in best.ids]
    for rid in others:
        for c in _run_caveats(comp, rid, collapsed):
            v.caveats.append(Claim(f"{comp.label_of(rid)}: {c}.", "quality"))
    return v


def _llm_claims(p: Plan, results: Mapping[tuple[str, str], Mapping[str, Any]], key: str,
                ref_value: float) -> list[Claim]:
    """One plain sentence for every other LLM run that is not better than the reference: below it, or
    above it by a difference the paired test calls chance (issue 10: "Compare says so in words")."""
    out = []
    ref_words = f"the {REFERENCE_LABEL} ({_f(ref_value)})"
    for e in _other_llms(p):
        if e.value <= ref_value:
            out.append(Claim(f"{e.label} ({_f(e.value)}) is not better than {ref_words}.", "quality"))
        elif _significant(results.get((p.reference, e.rep)), key) is False:
            out.append(Claim(f"{e.label} ({_f(e.value)}) is not significantly better than {ref_words}: the "
                             "difference could be chance.", "significance", (p.reference, e.rep)))
    return out


def verdict_for(comp: Any, groups: Mapping[str, Sequence[str]] | None = None, quality: str = columns.PRIMARY,
                significance: Callable[..., dict[str, Any]] | None = None,
                collapsed: Mapping[str, str] | None = None) -> Verdict:
    """Plan, run the paired tests it needs (:func:`pipelines.stats.significance`) and build the verdict."""
    from . import collapse, stats

    p = plan(comp, groups, quality)
    test = significance or stats.significance
    results = {}
    for a, b in p.pairs:
        try:
            results[(a, b)] = test(comp, a, b)
        except (ValueError, OSError) as exc:  # different test examples, predictions missing: no claim
            results[(a, b)] = {"error": str(exc)}
    if collapsed is None:
        collapsed = {c["run_id"]: c["warning"] for c in collapse.collapsed_runs(comp)}
    return build(comp, p, {k: r for k, r in results.items() if "error" not in r}, collapsed)
