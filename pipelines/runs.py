"""The run folder: one layout for every run kind, so the dashboard needs nothing else.

``models/runs/<run_id>/``::

    config.json          job config + dataset id/split hash + package versions + git hash
    metrics.json         metrics.compute_metrics output + model size/speed + emissions
    predictions.parquet  test ids, text, gold, pred, one ``p::<label>`` column per class
    emissions.csv        CodeCarbon's own file (one row per tracked phase)
    model/               weights + tokenizer (or LoRA adapter + head)
    log.txt              the job's log

A job writes into its attempt's work folder (``runs/.partial/job-<id>-a<attempt>``) and the
folder is renamed into place only when the job succeeded, so a crash never leaves half a run
where the dashboard looks; the next attempt of the same job takes that folder over (see
:mod:`pipelines.jobs`). The layout itself is :class:`pipelines.runfolder.RunFolder`.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import time
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import paths
from .runfolder import PROB_PREFIX, RunFolder, read_json, write_json  # noqa: F401 - re-exported

TRACKED_PACKAGES = ("torch", "transformers", "peft", "datasets", "codecarbon", "scikit-learn", "huggingface-hub")


def attempt_dir(job_id: int, attempt: int = 1) -> Path:
    """The work folder of one attempt of one job: two jobs never share one, even with equal configs."""
    return paths.runs_dir() / ".partial" / f"job-{int(job_id)}-a{int(attempt)}"


def new_run_id(model: str, method: str | None) -> str:
    slug = re.sub(r"[^A-Za-z0-9]+", "-", f"{Path(model).name}-{method or ''}").strip("-").lower()[:40]
    return f"{time.strftime('%Y%m%d-%H%M%S')}-{slug}-{hashlib.sha1(str(time.time_ns()).encode()).hexdigest()[:4]}"


def run_dir(run_id: str) -> Path:
    return paths.runs_dir() / run_id


def package_versions() -> dict[str, str]:
    out = {}
    for name in TRACKED_PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return out


def git_hash() -> str | None:
    try:
        res = subprocess.run(["git", "rev-parse", "HEAD"], cwd=paths.REPO_ROOT, capture_output=True,
                             text=True, timeout=5)
        return res.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def write_config(folder: Path, kind: str, config: dict[str, Any], dataset: dict[str, Any],
                 extra: dict[str, Any] | None = None) -> None:
    write_json(RunFolder(folder).config, {
        "kind": kind,
        "config": config,
        "dataset": {"id": dataset["id"], "split_hash": dataset["split_hash"], "task": dataset["task"],
                    "labels": dataset["labels"]},
        "versions": package_versions(),
        "git": git_hash(),
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        **(extra or {}),
    })


def save_predictions(folder: Path, ids: Sequence, texts: Sequence[str], gold: Sequence, pred: Sequence,
                     proba: np.ndarray, labels: Sequence[str], extra: dict[str, Sequence] | None = None) -> Path:
    """Test-set predictions: single-label gold/pred are label strings, multi-label lists of them."""
    df = pd.DataFrame({"id": list(ids), "text": list(texts), "gold": list(gold), "pred": list(pred)})
    for j, lab in enumerate(labels):
        df[PROB_PREFIX + str(lab)] = np.asarray(proba)[:, j].astype("float64")
    for k, v in (extra or {}).items():
        df[k] = list(v)
    path = RunFolder(folder).predictions
    df.to_parquet(path, index=False)
    return path


def load_predictions(folder: Path) -> pd.DataFrame:
    return pd.read_parquet(RunFolder(folder).predictions)


def proba_from_predictions(df: pd.DataFrame, labels: Sequence[str]) -> np.ndarray:
    return df[[PROB_PREFIX + str(lab) for lab in labels]].to_numpy()


def finalize(work_dir: Path, run_id: str) -> Path:
    """Move a finished work folder into place as ``runs/<run_id>``."""
    target = run_dir(run_id)
    if target.exists():
        raise FileExistsError(f"run folder {target} already exists")
    shutil.move(str(work_dir), str(target))
    return target


def delete_run(store, run_id: str) -> None:
    """Remove a run from the store first (so lists never point at a missing folder), then its folder."""
    row = store.run(run_id)
    store.delete_run(run_id)
    folder = Path(row["path"]) if row else run_dir(run_id)
    if folder.exists():
        shutil.rmtree(folder)
    from .onnx_backend import onnx_dir  # the run's exports (made by the workbench) go with it

    if onnx_dir(run_id).is_dir():
        shutil.rmtree(onnx_dir(run_id))


def summary_from_metrics(metrics: dict[str, Any]) -> dict[str, Any]:
    """The few numbers lists and leaderboards need, copied into the store's runs row.

    One value per registered metric column (:mod:`pipelines.columns`), raw as metrics.json has it,
    plus the CIs; missing values are left out.
    """
    from .columns import summary

    return {k: v for k, v in summary(metrics).items() if v is not None}
