"""A run kind made only for the tests: predicts the training split's class shares for every text.

It shows that a kind is one module plus one registry line (``kinds.register(KIND)`` here, a
line in ``pipelines/kinds.py`` for a real kind) and gives the job-layer tests a real job —
real store, real CodeCarbon phases, real run folder, real reload — that costs a second.
``sleep_s`` stretches its "training" with progress reports, so tests can cancel or kill it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from pipelines import kinds
from pipelines.configs import RunConfig
from pipelines.finish import SpeedPlan, finish_run
from pipelines.predictor import Predictor
from pipelines.runfolder import RunFolder, read_json, write_json
from pipelines.runkind import RunKind


@dataclass
class MajorityConfig(RunConfig):
    model: str = field(default="majority", metadata={"help": "always 'majority'"})
    speed_samples: int = field(default=0, metadata={"help": "texts used to measure speed (0 = skip)"})
    sleep_s: float = field(default=0.0, metadata={"help": "seconds of pretend training, reported as progress"})
    predict_sleep_s: float = field(default=0.0, metadata={"help": "seconds each predict_proba call takes (a slow "
                                                                  "evaluation, to interrupt it)"})


class MajorityPredictor(Predictor):
    def __init__(self, labels: list[str], shares: list[float], sleep_s: float = 0.0):
        self.labels = labels
        self.shares = np.asarray(shares, dtype=np.float64)
        self.sleep_s = sleep_s

    def predict_proba(self, texts):
        time.sleep(self.sleep_s)
        return np.tile(self.shares, (len(texts), 1))


def load_majority(run_dir: Path) -> MajorityPredictor:
    saved = read_json(RunFolder(run_dir).model / "majority.json")
    return MajorityPredictor(saved["labels"], saved["shares"], saved.get("predict_sleep_s", 0.0))


def run_majority(config: dict[str, Any], ctx: Any) -> str:
    from pipelines.data import ensure_prepared

    cfg = MajorityConfig.from_dict(config)
    ds = ensure_prepared(cfg.dataset)
    with ctx.track("train", cfg.country_iso_code, cfg.cpu_power_watts):
        steps = max(1, int(cfg.sleep_s / 0.1))
        for i in range(steps):
            time.sleep(cfg.sleep_s / steps)
            ctx.progress(0.8 * (i + 1) / steps, f"step {i + 1}/{steps}")
        counts = ds.train["label"].value_counts()
        shares = [float(counts.get(lab, 0)) / len(ds.train) for lab in ds.labels]
    folder = RunFolder(ctx.work_dir)
    folder.model.mkdir(exist_ok=True)
    write_json(folder.model / "majority.json", {"labels": list(ds.labels), "shares": shares,
                                                "predict_sleep_s": cfg.predict_sleep_s})
    return finish_run(ctx, ds, load_majority(folder.path), config=cfg, model="majority", method=None,
                      name=cfg.run_name or "majority", model_info={"total_params": 0, "size_mb": 0.0},
                      speed=SpeedPlan(n=cfg.speed_samples, n_latency=min(5, cfg.speed_samples)))


KIND = kinds.register(RunKind(name="majority", display="Majority class (test kind)", config=MajorityConfig,
                              run=run_majority, load_predictor=load_majority, cost=lambda c: 1.0))


def majority_run(store, run_name: str, dataset: str = "rt_small") -> dict[str, Any]:
    """Run the kind once on ``dataset`` in ``store`` (about a second) and return the run's store row."""
    from pipelines.jobs import run_now

    job = run_now("majority", {"dataset": dataset, "speed_samples": 0, "run_name": run_name}, store)
    assert job["status"] == "done", job.get("error")
    return store.run(job["run_id"])
