"""Score any predictor on a prepared dataset's test split, the same way for every run kind.

``evaluate`` writes ``predictions.parquet`` (ids, text, gold, pred, one ``p::<label>`` column
per class, ``correct``) and returns :func:`pipelines.metrics.compute_metrics` of it, so the
dashboard's error explorer and the leaderboard read the very numbers the metrics came from.
``measure_speed`` gives the two speed figures every run reports: ms/text at batch 1 (what a user
of the playground feels) and texts/s at batch 32 (what bulk scoring costs), with the backend
that produced them and the threads it ran on (:mod:`pipelines.threads`), since both move them.
"""

from __future__ import annotations

import logging
import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from . import runs, threads
from .metrics import compute_metrics
from .predictor import Predictor, decide
from .prepared import PreparedDataset
from .speed import LoadProbe

log = logging.getLogger(__name__)


def predict_batched(predictor: Predictor, texts: Sequence[str], batch_size: int = 64,
                    progress: Callable[[float], None] | None = None) -> np.ndarray:
    """predict_proba in chunks (bounded memory; a progress callback may raise Cancelled).

    A predictor that sorts its texts by length (``sort_window``, the encoders) gets chunks that
    large: sorting 1,024 texts at once instead of 64 leaves almost no padding in a batch.
    """
    texts = list(texts)
    chunk = max(batch_size, int(getattr(predictor, "sort_window", 0) or 0))
    out = []
    for start in range(0, len(texts), chunk):
        out.append(np.asarray(predictor.predict_proba(texts[start:start + chunk]), dtype=np.float64))
        if progress is not None:
            progress(min(1.0, (start + chunk) / max(1, len(texts))))
    if not out:
        return np.zeros((0, len(predictor.labels)))
    return np.concatenate(out, axis=0)


def evaluate(predictor: Predictor, ds: PreparedDataset, folder: str | Path, proba: np.ndarray | None = None,
             extra_columns: dict[str, Sequence] | None = None, invalid: Sequence[bool] | None = None,
             batch_size: int = 64, progress: Callable[[float], None] | None = None) -> dict[str, Any]:
    """Predict the test split (unless ``proba`` is given), save predictions.parquet, return metrics.

    ``invalid`` (LLM baselines): rows whose answer maps to no label; they are saved with an
    empty prediction and counted wrong by the metrics.
    """
    labels = [str(x) for x in ds.labels]
    if list(predictor.labels) != labels:
        raise ValueError(f"predictor labels {list(predictor.labels)} differ from dataset {ds.id!r} labels {labels}; "
                         "a run is only comparable on its own dataset's label order")
    test = ds.test
    texts = test["text"].tolist()
    if proba is None:
        proba = predict_batched(predictor, texts, batch_size=batch_size, progress=progress)
    proba = np.asarray(proba, dtype=np.float64)
    if proba.shape != (len(test), len(labels)):
        raise ValueError(f"proba has shape {proba.shape}, expected {(len(test), len(labels))} (test rows × labels)")
    inv = np.zeros(len(test), dtype=bool) if invalid is None else np.asarray(invalid, dtype=bool)
    safe = np.where(np.isfinite(proba), proba, 0.0)
    pred = decide(safe, labels, ds.multi_label, predictor.thresholds)
    empty: Any = [] if ds.multi_label else None
    pred = [empty if bad else p for p, bad in zip(pred, inv)]
    gold = ds.gold(test)
    correct = [(sorted(g) == sorted(p)) if ds.multi_label else (g == p) for g, p in zip(gold, pred)]
    extra = {"correct": correct, **({"invalid": inv.tolist()} if invalid is not None else {}), **(extra_columns or {})}
    runs.save_predictions(Path(folder), test["id"].tolist(), texts, gold, pred, proba, labels, extra=extra)
    return compute_metrics(gold, proba, labels, ds.multi_label, thresholds=predictor.thresholds,
                           invalid=None if invalid is None else inv)


def measure_speed(predictor: Predictor, texts: Sequence[str], n_latency: int = 20, n_throughput: int = 128,
                  batch_size: int = 32) -> dict[str, Any]:
    """Latency (median ms/text at batch 1, after a warm-up) and throughput (texts/s at batch 32).

    With the machine's load during the measurement (:class:`pipelines.speed.LoadProbe`: the load
    average, the cores, other processes' share, ``contended`` when other work held more than
    three quarters of the cores), since a figure from a busy machine is not the model's speed.
    """
    texts = [t for t in texts if t][: max(n_latency, n_throughput)]
    if not texts:
        raise ValueError("measure_speed needs at least one non-empty text")
    probe = LoadProbe()
    predictor.predict_proba(texts[:1])  # warm-up: lazy init, first-call allocations
    lat = []
    for t in texts[:n_latency]:
        t0 = time.perf_counter()
        predictor.predict_proba([t])
        lat.append((time.perf_counter() - t0) * 1000)
    bulk = (texts * (n_throughput // len(texts) + 1))[:n_throughput]
    predictor.predict_proba(bulk[:batch_size])  # warm-up at the batch shape
    t0 = time.perf_counter()
    for start in range(0, len(bulk), batch_size):
        predictor.predict_proba(bulk[start:start + batch_size])
    elapsed = time.perf_counter() - t0
    return {"latency_ms": float(statistics.median(lat)), "throughput": float(len(bulk) / elapsed),
            "latency_n": len(lat), "throughput_n": len(bulk), "batch_size": batch_size, **probe.finish(),
            "backend": getattr(predictor, "backend", None), **threads.report()}
