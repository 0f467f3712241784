"""Learning curves: how many labelled texts does a model need? A sweep over the training-set size.

A curve is a sweep (:mod:`pipelines.sweeps`) over ``max_train_samples`` with
``nested_subsample=True``, so each point trains on a prefix of one seeded, stratified order
of the train split (:mod:`pipelines.subsample`: the 100 texts contain the 50) and is scored on
the same test split as every other run. The sweep's meta says ``"curve": True`` and its
retention is ``keep="none"``: a point's metrics and predictions stay, its weights go once
every point is final, since nobody deploys the 50-label model.

Cheap kinds by default (``tfidf``, seconds per point); ``probe`` reuses its cached
embeddings (each point costs a regression); ``finetune`` on request.

Numpy/pandas only: the charts read :func:`curve_points` and :func:`llm_references` (from the comparison alone).
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:
    from .store import Store

log = logging.getLogger(__name__)

KINDS = ("tfidf", "probe", "finetune")
DEFAULT_SIZES = "50,100,250,500,1000,all"
FIELD = "max_train_samples"


def parse_sizes(text: str, n_train: int | None = None) -> list[int | None]:
    """``"50,100,all"`` → ``[50, 100, None]`` (None = the whole train split), sorted, duplicates dropped.

    Sizes at or above the train split (``n_train``) are the same texts as "all": they are
    folded into it rather than trained twice.
    """
    sizes: set[int] = set()
    every = False
    for part in (p.strip().lower() for p in text.split(",")):
        if not part:
            continue
        if part == "all":
            every = True
            continue
        try:
            n = int(part)
        except ValueError:
            raise ValueError(f"--sizes {text!r}: {part!r} is neither a whole number nor 'all'") from None
        if n < 2:
            raise ValueError(f"--sizes {text!r}: a training set needs at least 2 texts, got {n}")
        if n_train is not None and n >= n_train:
            every = True
            continue
        sizes.add(n)
    out: list[int | None] = sorted(sizes)
    if every:
        out.append(None)
    if not out:
        raise ValueError(f"--sizes {text!r}: give at least one size, e.g. {DEFAULT_SIZES}")
    return out


def _size_words(point: dict[str, Any]) -> str:
    n = point.get(FIELD)
    return "all labels" if not n else f"{n} labels"


def queue_curve(store: Store, kind: str, base: dict[str, Any], sizes: Sequence[int | None]) -> tuple[str, list[int]]:
    """Queue one point per size as a ``keep="none"`` curve sweep on nested subsets of the train split."""
    from . import sweeps  # the registry of kinds: not needed by the charts that read curves

    if kind not in KINDS:
        raise ValueError(f"a learning curve runs one of {', '.join(KINDS)}, got {kind!r}")
    base = {**base, "nested_subsample": True}
    base.pop(FIELD, None)
    words = [kind, base.get("model"), base.get("method")]
    name = base.get("run_name") or " ".join(dict.fromkeys(str(w) for w in words if w))  # "tfidf", "finetune minilm lora"
    return sweeps.queue_sweep(store, kind, base, {FIELD: list(sizes)}, keep="none", name=f"{name} curve",
                              meta={"curve": True}, point_label=_size_words)


_POINT_SUFFIX = re.compile(r"\s*·\s*(all|\d+) labels.*$")


def _train_size(metrics: dict[str, Any]) -> float:
    n = (metrics.get("train") or {}).get("train_samples")
    return float(n) if isinstance(n, (int, float)) and n > 0 else math.nan


def curve_points(comp: Any, quality: str = "macro_f1") -> pd.DataFrame:
    """One row per learning-curve point of a comparison: line (the curve's name), kind, run_id, label,
    n_train (labelled texts it was trained on), value, lo, hi (the quality column and its CI).

    A point is a run trained on a nested subset (``nested_subsample`` in its config), so this
    reads the comparison alone (no store): the charts stay pure. Two curves of one name share a
    line; the newest point wins at a size both measured.
    """
    cols = ["line", "kind", "run_id", "label", "n_train", "value", "lo", "hi", "created_at"]
    out = []
    for rid in comp.run_ids:
        cfg = (comp.configs.get(rid) or {}).get("config") or {}
        if not cfg.get("nested_subsample"):
            continue
        r = comp.runs.loc[rid]
        name = _POINT_SUFFIX.sub("", str(r["name"] or "")) or f"{r['kind']} {r['model']}"
        out.append({"line": name, "kind": r["kind"], "run_id": rid, "label": comp.label_of(rid),
                    "n_train": _train_size(comp.metrics.get(rid) or {}), "value": float(r[quality]),
                    "lo": float(r.get(f"{quality}_lo", math.nan)), "hi": float(r.get(f"{quality}_hi", math.nan)),
                    "created_at": r["created_at"]})
    frame = pd.DataFrame(out, columns=cols).sort_values("created_at")
    frame = frame.dropna(subset=["n_train"]).drop_duplicates(["line", "n_train"], keep="last")
    return frame.drop(columns="created_at").sort_values(["line", "n_train"]).reset_index(drop=True)


def llm_references(comp: Any, quality: str = "macro_f1") -> pd.DataFrame:
    """The LLM runs of a comparison (kind ``prompt``), newest per model and mode, as horizontal references:
    label ("SmolLM2 few-shot"), mode, run_id, value, lo, hi."""
    cols = ["label", "mode", "run_id", "value", "lo", "hi"]
    runs = comp.runs
    if runs.empty or "kind" not in runs:
        return pd.DataFrame(columns=cols)
    prompts = runs[runs["kind"] == "prompt"].sort_values("created_at", ascending=False)
    out, seen = [], set()
    for rid, r in prompts.iterrows():
        cfg = (comp.configs.get(rid) or {}).get("config") or {}
        mode = cfg.get("mode", "zero")
        key = (r["model"], mode)
        if key in seen or (comp.metrics.get(rid) or {}).get("test_subset"):
            continue  # a run on part of the test split is not a reference for the whole of it
        seen.add(key)
        out.append({"label": f"{comp.label_of(rid)} ({mode}-shot)", "mode": mode, "run_id": rid,
                    "value": float(r[quality]), "lo": float(r.get(f"{quality}_lo", math.nan)),
                    "hi": float(r.get(f"{quality}_hi", math.nan))})
    return pd.DataFrame(out, columns=cols)
