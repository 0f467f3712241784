"""int8 with an fp32 guard: the default serving backend for encoder runs that measured it.

Why: plain dynamic int8 is ~2.4x faster than ONNX fp32 on the measured CPUs but moved 1.5-2%
of Rotten Tomatoes decisions for a lightly fine-tuned MiniLM (its scores shift by up to ~0.2),
and neither graph fusion (slower than ORT's own online fusion here) nor keeping layers in
fp32 fixed that: the error is spread over every layer. What does fix it is that a decision
can only flip when the int8 scores sit close to it. So every text is scored in int8, and
the texts whose int8 decision gap is within the run's *error band* are re-scored in fp32:

- the band is the largest per-text score difference (max over classes of |p_int8 - p_fp32|)
  seen on the validation split, measured by the job (:func:`calibrate`), never the test split;
- single-label: a flip needs top1 - top2 <= 2 x error, so texts with a gap <= 2 x band are
  re-scored; multi-label: a label within the band of its threshold re-scores the text.

Texts whose int8 error stays within the band keep the fp32 decision exactly; the job
measures the guarded backend's own test metrics, agreement with fp32 and the share of texts
re-scored (``inference.int8.guarded``), and ``auto`` serves it only when that agreement is at
least :data:`MIN_AGREEMENT` (else ONNX fp32). Scores of confident texts are int8 scores.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .onnx_backend import OnnxEncoderPredictor

BACKEND = "onnx-int8-guarded"
MIN_AGREEMENT = 0.995  # same decisions as fp32 on the run's test split, or auto serves fp32


def _thresholds(thresholds: np.ndarray | None, n_labels: int) -> np.ndarray:
    return np.full(n_labels, 0.5) if thresholds is None else np.asarray(thresholds, dtype=np.float64)


def near_decision(proba: np.ndarray, band: float, multi_label: bool, thresholds: np.ndarray | None) -> np.ndarray:
    """Rows whose decision could differ in fp32 when no score moved by more than ``band``."""
    proba = np.asarray(proba, dtype=np.float64)
    if not len(proba):
        return np.zeros(0, dtype=bool)
    if multi_label:
        return (np.abs(proba - _thresholds(thresholds, proba.shape[1])) <= band).any(axis=1)
    top2 = np.sort(proba, axis=1)[:, -2:]
    return (top2[:, 1] - top2[:, 0]) <= 2.0 * band


def calibrate(fp32: np.ndarray, int8: np.ndarray) -> float:
    """The error band: the largest per-text score difference between int8 and fp32 (validation texts)."""
    if not len(fp32):
        raise ValueError("calibrating the int8 guard needs at least one validation text")
    return float(np.max(np.abs(np.asarray(fp32) - np.asarray(int8))))


class GuardedPredictor(OnnxEncoderPredictor):
    """int8 for every text, fp32 for the texts near a decision (see the module docstring)."""

    def __init__(self, int8_path: str | Path, fp32: OnnxEncoderPredictor, band: float):
        super().__init__(int8_path, fp32.tokenizer, fp32.labels, fp32.multi_label, fp32.thresholds,
                         fp32.max_length, fp32.batch_size, fp32.n_threads)
        self.backend = BACKEND
        self.fp32, self.band = fp32, float(band)
        self.scored = self.rescored = 0  # texts seen / re-scored in fp32 (the job records the share)

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        texts = [str(t) for t in texts]
        proba = super().predict_proba(texts)
        idx = np.flatnonzero(near_decision(proba, self.band, self.multi_label, self.thresholds))
        self.scored += len(texts)
        self.rescored += int(len(idx))
        if len(idx):
            self.fp32.n_threads = self.n_threads
            proba[idx] = self.fp32.predict_proba([texts[i] for i in idx])
        return proba


def load(fp32_path: Path, int8_path: Path, guard: dict[str, Any], args: tuple) -> GuardedPredictor:
    """The guarded predictor from a run's export and its manifest ``guard`` entry."""
    return GuardedPredictor(int8_path, OnnxEncoderPredictor(fp32_path, *args), guard["band"])


def serves(guard: dict[str, Any] | None) -> bool:
    """Whether ``auto`` may serve the guarded backend: measured on the run's test split, agreement high enough."""
    return bool(guard) and guard.get("agreement_with_fp32", 0.0) >= MIN_AGREEMENT
