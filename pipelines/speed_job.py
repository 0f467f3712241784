"""The ``speed`` job kind: measure a finished run's speed again, on a quieter machine.

A run measures its speed once, at the end of its job, under whatever load the machine had
then (:mod:`pipelines.speed`). When that figure was contended, ``python -m pipelines runs
measure-speed RUN…`` (or the Compare page's button) queues one ``speed`` job per run: it loads
the run's predictor, measures with the run's own plan (the same texts, counts and batch size
as the first measurement, so the figures are comparable) and appends the result, load
included, to the store's kv (``speed``/<run id>). The run folder is never touched: its files
are written once.

One at a time: the local worker runs one job at a time anyway, and a workspace lock
(``models/.speed.lock``) keeps two speed jobs from measuring at once under any executor on
this machine; two measurements side by side would each measure the other.
"""

from __future__ import annotations

import dataclasses
import fcntl
import logging
from pathlib import Path
from typing import Any

from .configs import JobConfig, Range, _field
from .runkind import RunKind

log = logging.getLogger(__name__)


@dataclasses.dataclass
class SpeedConfig(JobConfig):
    """Measure one finished run's latency and throughput again (no new run is made)."""


    run_id: str = _field("", "the finished run whose predictor is measured")
    samples: int | None = _field(None, "texts for the throughput figure (default: as the run measured)",
                                 Range(1, 100_000))

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.run_id:
            raise ValueError("a speed job needs run_id")


def plan(metrics: dict[str, Any], samples: int | None = None) -> dict[str, int]:
    """The run's own measuring plan (texts at batch 1, texts in bulk, batch size), else the defaults."""
    first = metrics.get("speed") or {}
    n = int(samples or first.get("throughput_n") or 128)
    return {"n_latency": int(min(n, first.get("latency_n") or 20)), "n_throughput": n,
            "batch_size": int(first.get("batch_size") or 32)}


def lock_path() -> Path:
    from . import paths

    return paths.models_dir() / ".speed.lock"


def run_speed_job(config: dict[str, Any], ctx: Any) -> None:
    """Load the run's predictor, measure under the workspace lock, record in the kv."""
    from . import speed
    from .evaluate import measure_speed
    from .predictor import load_run_predictor
    from .prepared import load as load_prepared
    from .runfolder import RunFolder
    from .store import Store

    cfg = SpeedConfig.from_dict(config)
    store = Store()
    row = store.run(cfg.run_id)
    if row is None:
        raise ValueError(f"no run {cfg.run_id!r}")
    folder = RunFolder(row["path"])
    how = plan(folder.read_metrics(), cfg.samples)
    ctx.progress(0.05, f"loading the predictor of {cfg.run_id}")
    predictor = load_run_predictor(folder.path)
    texts = load_prepared(row["dataset_id"]).test["text"].tolist()
    path = lock_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as lock:
        ctx.progress(0.3, "waiting for other speed measurements" if _busy(lock) else "measuring speed")
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            ctx.progress(0.35, "measuring speed")
            figures = measure_speed(predictor, texts, **how)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    figures["device"] = str(getattr(predictor, "device", "cpu"))
    figures["job_id"] = getattr(ctx, "job_id", None)
    speed.record(store, cfg.run_id, figures)
    state = "contended" if figures.get("contended") else "uncontended"
    ctx.progress(1.0, f"{figures['latency_ms']:.1f} ms/text, {figures['throughput']:.1f} texts/s ({state}, "
                      f"other load {figures.get('others_load')} on {figures.get('cores')} cores)")
    log.info("speed of %s: %s", cfg.run_id, figures)


def _busy(lock: Any) -> bool:
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True
    fcntl.flock(lock, fcntl.LOCK_UN)
    return False


def expected_seconds(config: dict[str, Any]) -> float:
    """Loading a model plus a measurement: under a minute for the encoders, more for an LLM; it
    queues behind the cheap baselines and ahead of training."""
    return 60.0


def queue(store: Any, run_ids: list[str]) -> list[int]:
    """One speed job per run (a run that already has one queued or running is skipped)."""
    from .jobs import submit

    pending = {j["config"].get("run_id") for j in store.jobs(status=("queued", "running"), limit=10_000)
               if j["kind"] == "speed"}
    ids = []
    for rid in run_ids:
        if store.run(rid) is None:
            raise ValueError(f"no run {rid!r}")
        if rid not in pending:
            ids.append(submit(store, "speed", {"run_id": rid}))
            pending.add(rid)
    return ids


KIND = RunKind(name="speed", display="Re-measure speed", config=SpeedConfig, run=run_speed_job,
               load_predictor=None, cost=expected_seconds)
