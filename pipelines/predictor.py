"""The one predictor interface shared by fine-tuned encoders and LLM baselines.

Metrics, the error explorer and the playground only ever call ``predict_proba`` and read
``labels``, so every model kind is treated the same way. Single-label rows sum to 1;
multi-label columns are independent per-label probabilities cut at ``thresholds``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .runfolder import RunFolder


class Predictor(ABC):
    labels: list[str]
    multi_label: bool = False
    thresholds: np.ndarray | None = None  # multi-label only, one per label

    @abstractmethod
    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """n × len(labels) probabilities."""

    def decide(self, proba: np.ndarray) -> list:
        """Probabilities → label (single-label) or list of labels (multi-label)."""
        return decide(proba, self.labels, self.multi_label, self.thresholds)

    def predict(self, texts: Sequence[str]) -> list:
        return self.decide(self.predict_proba(texts))


class EncoderBase(Predictor):
    """What every fine-tuned encoder predictor holds, whichever engine runs it (torch, ONNX Runtime)."""

    def __init__(self, tokenizer: Any, labels: Sequence[str], multi_label: bool, thresholds: np.ndarray | None,
                 max_length: int, batch_size: int = 32):
        self.tokenizer = tokenizer
        self.labels = list(labels)
        self.multi_label = multi_label
        self.thresholds = thresholds
        self.max_length = max_length
        self.batch_size = batch_size


def decide(proba: np.ndarray, labels: Sequence[str], multi_label: bool,
           thresholds: np.ndarray | None = None) -> list:
    proba = np.asarray(proba)
    if not multi_label:
        return [labels[i] for i in proba.argmax(axis=1)]
    th = np.full(len(labels), 0.5) if thresholds is None else np.asarray(thresholds)
    return [[labels[j] for j in np.flatnonzero(row >= th)] for row in proba]


def load_run_predictor(run_dir: str | Path) -> Predictor:
    """Load the predictor of any run folder (dispatch on its config.json kind, see pipelines.kinds)."""
    from . import kinds  # the kind modules import this one

    kind = kinds.get(RunFolder(run_dir).kind())
    if kind.load_predictor is None:
        raise ValueError(f"runs of kind {kind.name!r} have no predictor")
    return kind.load_predictor(Path(run_dir))
