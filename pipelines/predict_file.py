"""Use the winner: predictions of one run for every text of an unlabelled file, as a CSV.

The file is read by the same readers and checks as a dataset upload (:func:`data_io.read_table`:
encoding detection, binary files refused, size cap), so a file the Data page accepts is a
file this accepts. The output keeps the file's own columns and adds ``prediction`` (the
label; multi-label: labels joined by ``|``; empty where an LLM's answer was invalid) and one
``p::<label>`` column per class, the same probability columns as a run's predictions.parquet.

Small files are predicted where they are asked for (the CLI; the dashboard through the
predictor service). A large file runs as a ``predict`` job (the kind below: it produces no
run, so ``load_predictor`` is None), whose output CSV lands at a new path under the workspace
(``data/predictions/``) and never replaces an existing file.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import paths
from .configs import JobConfig, Range, _field
from .runkind import RunKind

log = logging.getLogger(__name__)

JOB_THRESHOLD = 2_000  # more texts than this: the dashboard queues a job instead of waiting
PRED_COLUMN = "prediction"
PROB_PREFIX = "p::"


def read_texts(path: str | Path, text_column: str | None = None, encoding: str | None = "auto",
               delimiter: str | None = None, max_file_mb: float = 200.0) -> tuple[pd.DataFrame, str]:
    """(the file as read, the name of its text column): ``text_column``, else ``text``, else the one
    column holding strings. Empty cells become empty texts (a prediction is still made)."""
    from .data_io import read_table

    raw, _ = read_table(path, encoding=encoding, delimiter=delimiter, max_file_mb=max_file_mb)
    name = Path(path).name
    if raw.empty:
        raise ValueError(f"{name} has no rows to predict")
    cols = [str(c) for c in raw.columns]
    raw.columns = cols
    if text_column:
        if text_column not in cols:
            raise ValueError(f"{name} has no column {text_column!r}; its columns: {', '.join(cols)}")
        return raw, text_column
    if "text" in cols:
        return raw, "text"
    def wordy(v: Any) -> bool:  # a text, not a number or id read as a string
        return isinstance(v, str) and bool(v.strip()) and not re.fullmatch(r"[\s\d.,:+\-/eE]*", v)

    stringy = [c for c in cols if raw[c].map(wordy).mean() > 0.5]
    if len(stringy) == 1:
        return raw, stringy[0]
    raise ValueError(f"{name}: which column holds the texts? pass --text-column (columns: {', '.join(cols)})")


def texts_of(frame: pd.DataFrame, column: str) -> list[str]:
    return ["" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v) for v in frame[column]]


def with_predictions(frame: pd.DataFrame, proba: np.ndarray, labels: Sequence[str], multi_label: bool,
                     thresholds: np.ndarray | None = None) -> pd.DataFrame:
    """The file's columns + ``prediction`` + one ``p::<label>`` column per class."""
    from .predictor import decide

    proba = np.asarray(proba, dtype=np.float64)
    if proba.shape != (len(frame), len(labels)):
        raise ValueError(f"{proba.shape} probabilities for {len(frame)} texts × {len(labels)} labels")
    ok = np.isfinite(proba).all(axis=1)
    picked = decide(np.where(np.isfinite(proba), proba, 0.0), list(labels), multi_label, thresholds)
    out = frame.copy()
    out[PRED_COLUMN] = ["|".join(p) if multi_label else p for p in picked]
    out.loc[~ok, PRED_COLUMN] = ""
    for j, lab in enumerate(labels):
        out[PROB_PREFIX + str(lab)] = proba[:, j]
    return out


def kept(texts: Sequence[str]) -> np.ndarray:
    """Which texts get a prediction: an empty cell gets none (an empty ``prediction``, no probabilities)
    rather than a guess from no words."""
    return np.array([bool(t.strip()) for t in texts], dtype=bool)


def from_service(frame: pd.DataFrame, result: dict[str, Any], keep: np.ndarray) -> pd.DataFrame:
    """``with_predictions`` from the predictor service's answer (``serve.py``) for the ``keep`` rows;
    the service already decided the labels with the run's own thresholds."""
    labels = [str(x) for x in result["labels"]]
    proba = np.full((len(frame), len(labels)), np.nan)
    proba[keep] = np.asarray(result["proba"], dtype=np.float64).reshape(int(keep.sum()), len(labels))
    out = with_predictions(frame, proba, labels, bool(result.get("multi_label")))
    picked = ["|".join(p) if isinstance(p, list) else str(p) for p in result["pred"]]
    column = np.array([""] * len(frame), dtype=object)
    column[keep] = picked
    out[PRED_COLUMN] = column
    out.loc[~np.isfinite(proba).all(axis=1), PRED_COLUMN] = ""
    return out


def csv_bytes(frame: pd.DataFrame) -> bytes:
    """The download: UTF-8 with a byte-order mark, so spreadsheet programs read accents right."""
    return frame.to_csv(index=False).encode("utf-8-sig")


def default_output(run_id: str, source: str | Path) -> Path:
    """A new file under the workspace for this run's predictions of ``source`` (never an existing one)."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(source).stem)[:60] or "texts"
    folder = paths.data_dir() / "predictions"
    folder.mkdir(parents=True, exist_ok=True)
    base = f"{stem}-{re.sub(r'[^A-Za-z0-9._-]+', '_', run_id)[:60]}-{time.strftime('%Y%m%d-%H%M%S')}"
    path, i = folder / f"{base}.csv", 1
    while path.exists():
        i += 1
        path = folder / f"{base}-{i}.csv"
    return path


def write_new(frame: pd.DataFrame, out: str | Path) -> Path:
    """Write the CSV to ``out``, which must not exist yet (a user's file is never replaced)."""
    out = Path(out).expanduser()
    if out.exists():
        raise FileExistsError(f"{out} already exists; pick another --out (predictions never replace a file)")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    tmp.write_bytes(csv_bytes(frame))
    try:
        os.link(tmp, out)  # fails if out appeared meanwhile: no silent overwrite
    finally:
        tmp.unlink(missing_ok=True)
    return out


def predict_frame(run_dir: str | Path, frame: pd.DataFrame, column: str, batch_size: int = 64,
                  progress: Callable[[float], None] | None = None) -> pd.DataFrame:
    """Load the run's predictor here (torch) and add its predictions to ``frame``."""
    from .evaluate import predict_batched
    from .predictor import load_run_predictor

    predictor = load_run_predictor(run_dir)
    texts = texts_of(frame, column)
    keep = kept(texts)
    proba = np.full((len(texts), len(predictor.labels)), np.nan)
    proba[keep] = predict_batched(predictor, [t for t, k in zip(texts, keep) if k], batch_size=batch_size,
                                  progress=progress)
    return with_predictions(frame, proba, predictor.labels, predictor.multi_label, predictor.thresholds)


# ------------------------------------------------------------------------ the job kind
@dataclasses.dataclass
class PredictConfig(JobConfig):
    """Predict every text of an unlabelled file with one finished run; write a new CSV."""


    run_id: str = _field("", "the run whose predictor labels the texts")
    input: str = _field("", "the file of texts (.csv .tsv .jsonl .json .parquet), read like a Data page upload")
    output: str = _field("", "the CSV to write; must not exist yet (default: a new file under data/predictions/)")
    text_column: str | None = _field(None, "column holding the texts (default: text, or the only text column)")
    encoding: str | None = _field("auto", "file encoding (auto: detected)")
    delimiter: str | None = _field(None, "CSV delimiter (default: comma; tab for .tsv)")
    batch_size: int = _field(32, "texts per forward pass", Range(1, 4096))

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.run_id or not self.input:
            raise ValueError("a predict job needs run_id and input")


def run_predict_job(config: dict[str, Any], ctx: Any) -> None:
    """Job kind ``predict``: no run is made; the output path is in the job's config."""
    from .store import Store

    cfg = PredictConfig.from_dict(config)
    row = Store().run(cfg.run_id)
    if row is None:
        raise ValueError(f"no run {cfg.run_id!r}")
    ctx.progress(0.01, f"reading {Path(cfg.input).name}")
    frame, column = read_texts(cfg.input, cfg.text_column, cfg.encoding, cfg.delimiter)
    n = len(frame)
    ctx.progress(0.03, f"loading the predictor of {cfg.run_id}")
    out = predict_frame(row["path"], frame, column, cfg.batch_size,
                        progress=lambda f: ctx.progress(0.05 + 0.9 * f, f"{int(f * n)}/{n} texts"))
    path = write_new(out, cfg.output or default_output(cfg.run_id, cfg.input))
    ctx.progress(1.0, f"wrote {n} predictions to {path}")
    log.info("wrote %d predictions of run %s to %s", n, cfg.run_id, path)


KIND = RunKind(name="predict", display="Predict a file", config=PredictConfig, run=run_predict_job,
               load_predictor=None, cost=lambda c: 30.0)
