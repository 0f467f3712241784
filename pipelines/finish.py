"""The one finish step every run kind ends with: predictions → metrics → speed → energy → row.

Whatever produced the model (a Trainer, a prompt, a scikit-learn fit), the run is scored
the same way on the same test split, its energy phases are combined the same way, and its
folder gets the same files, so Compare, Errors, the Playground and Export treat every kind
alike. Kinds pass what is theirs as ``blocks`` (``train``, ``prompt``, …) and ``model_info``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from . import collapse, emissions, runs
from .evaluate import evaluate, measure_speed
from .predictor import Predictor
from .prepared import PreparedDataset
from .runfolder import RunFolder


@dataclasses.dataclass
class SpeedPlan:
    """How to measure speed after scoring: ``n`` texts in all (0 = skip), latency on ``n_latency``."""

    n: int = 128
    n_latency: int = 20
    batch_size: int = 32


def finish_run(ctx: Any, ds: PreparedDataset, predictor: Predictor, *, config: Any, model: str,
               method: str | None, name: str, model_info: dict[str, Any], blocks: dict[str, Any] | None = None,
               test: Any = None, proba: np.ndarray | None = None, invalid: Sequence[bool] | None = None,
               extra_columns: dict[str, Sequence] | None = None, speed: SpeedPlan | None = None,
               eval_batch_size: int = 64, config_extra: dict[str, Any] | None = None,
               progress_from: float = 0.85) -> str:
    """Score the test split (unless ``proba`` is given), write metrics and config, land the run.

    ``test``: a subset of the test split (the run's metrics then record ``test_subset`` so
    it is never ranked beside full-split runs without saying so). Scoring done here is
    tracked as the ``eval`` energy phase; every phase the job tracked is combined.
    """
    folder = RunFolder(ctx.work_dir)
    scored = ds if test is None else dataclasses.replace(ds, test=test)
    if proba is None:
        def scoring(f: float) -> None:
            ctx.progress(progress_from + (0.95 - progress_from) * f, "scoring the test split")

        ctx.progress(progress_from, "scoring the test split")
        with ctx.track("eval", config.country_iso_code, config.cpu_power_watts):
            metrics = evaluate(predictor, scored, folder.path, batch_size=eval_batch_size, progress=scoring)
    else:
        metrics = evaluate(predictor, scored, folder.path, proba=proba, extra_columns=extra_columns,
                           invalid=invalid)
    # what it predicted beside the gold shares: a collapsed run is flagged on every surface (collapse.py)
    metrics["prediction_distribution"] = collapse.of_predictions(runs.load_predictions(folder.path), ds.labels,
                                                                 ds.multi_label)
    metrics["speed"] = None
    if speed and speed.n:
        ctx.progress(0.95, "measuring speed")
        metrics["speed"] = measure_speed(predictor, scored.test["text"].tolist(), n_latency=speed.n_latency,
                                         n_throughput=speed.n, batch_size=speed.batch_size)
        metrics["speed"]["device"] = str(getattr(predictor, "device", "cpu"))
    if len(scored.test) != len(ds.test):
        metrics["test_subset"] = {"n": len(scored.test), "of": len(ds.test)}
    metrics["model"] = model_info
    metrics.update(blocks or {})
    metrics["emissions"] = emissions.combine(ctx.phases())
    runs.write_config(folder.path, ctx.kind, config.to_dict(), ds.info, extra=config_extra)
    folder.write_metrics(metrics)
    ctx.progress(1.0, f"done: accuracy {metrics['accuracy']:.3f}, macro-F1 {metrics['macro_f1']:.3f}")
    return ctx.finalize_run(dataset=ds.info, model=model, method=method, metrics=metrics, name=name)


def dir_size_mb(folder: str | Path) -> float:
    return sum(p.stat().st_size for p in Path(folder).rglob("*") if p.is_file()) / 1e6
