"""The logistic-regression head shared by the reference kinds (tfidf, probe, setfit), and its safe file format.

Fitting: one ``LogisticRegression`` (multinomial) for single-label data, one per label
(``OneVsRestClassifier``) for multi-label data. The regularisation ``C`` is picked from a
small grid on validation macro-F1 — the criterion the encoders early-stop on — because the
best C moves with the feature space (sparse n-grams want more, unit-norm embeddings less)
and three fits cost seconds. Multi-label cut-offs are tuned per label on validation with the
same :func:`~pipelines.finetune_train.tune_thresholds` rule the fine-tuned encoders use.

Saving: scikit-learn objects go through skops, never pickle, so opening a run someone sent
cannot execute code. :func:`load_sklearn` first reads the file's schema (plain JSON) and
refuses any type outside :data:`ALLOWED_TYPES`, a list computed once with
``skops.io.get_untrusted_types`` and the schema of every object these kinds save, then lets
skops load with exactly that list (never ``trusted=True``).
"""

from __future__ import annotations

import json
import logging
import os
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

C_GRID = (0.5, 2.0, 8.0)
MAX_ITER = 2000

# Every type the saved heads and TF-IDF pipelines contain: the schema walk of 23 real runs
# (tfidf, probe, setfit on rotten_tomatoes, bbc_news, movie_genres). Of these, skops
# itself distrusts only ``_ConstantPredictor`` (get_untrusted_types), which one-vs-rest
# uses for a label that is always or never present in training. Anything else is refused.
ALLOWED_TYPES: tuple[str, ...] = (
    "builtins.dict", "builtins.list", "builtins.str", "builtins.tuple",
    "numpy.ndarray", "numpy.float32",
    "sklearn.feature_extraction.text.TfidfVectorizer", "sklearn.feature_extraction.text.TfidfTransformer",
    "sklearn.pipeline.FeatureUnion", "sklearn.pipeline.Pipeline",
    "sklearn.linear_model._logistic.LogisticRegression", "sklearn.multiclass.OneVsRestClassifier",
    "sklearn.multiclass._ConstantPredictor", "sklearn.preprocessing._label.LabelBinarizer",
)


class UntrustedFile(ValueError):
    """A skops file holding a type outside ALLOWED_TYPES: refused before anything is built from it."""


def file_types(path: str | Path) -> set[str]:
    """Every ``module.Class`` named in a skops file's schema (read as JSON; nothing is constructed)."""
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "__module__" in node and "__class__" in node:
                found.add(f"{node['__module__']}.{node['__class__']}")
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    with zipfile.ZipFile(path) as zf:
        walk(json.loads(zf.read("schema.json")))
    return found


def save_sklearn(obj: Any, path: str | Path) -> Path:
    """skops-dump ``obj`` atomically; refuse to write what :func:`load_sklearn` would refuse."""
    import skops.io as sio

    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    sio.dump(obj, tmp)
    extra = file_types(tmp) - set(ALLOWED_TYPES)
    if extra:
        tmp.unlink()
        raise UntrustedFile(f"refusing to save {type(obj).__name__}: it holds types outside the allowed list: "
                            f"{', '.join(sorted(extra))}")
    os.replace(tmp, path)
    return path


def load_sklearn(path: str | Path) -> Any:
    """Load a skops file whose types are all in ALLOWED_TYPES (else :class:`UntrustedFile`)."""
    import skops.io as sio

    extra = file_types(path) - set(ALLOWED_TYPES)
    if extra:
        raise UntrustedFile(f"{path} holds types the workbench does not load: {', '.join(sorted(extra))}")
    return sio.load(path, trusted=list(ALLOWED_TYPES))


@dataclass
class HeadFit:
    """The chosen head and how it was chosen (written to metrics.json's ``train`` block)."""

    clf: Any
    C: float
    thresholds: np.ndarray | None
    val_macro_f1: float
    grid: dict[str, float] = field(default_factory=dict)  # str(C) -> validation macro-F1


def targets(ds: Any, df: Any) -> np.ndarray:
    """Class ids (single-label) or the 0/1 label matrix (multi-label)."""
    return ds.label_matrix(df) if ds.multi_label else ds.label_ids(df)


def new_head(C: float, multi_label: bool, class_weights: bool, seed: int) -> Any:
    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier

    lr = LogisticRegression(C=C, max_iter=MAX_ITER, class_weight="balanced" if class_weights else None,
                            random_state=seed)
    return OneVsRestClassifier(lr) if multi_label else lr


def head_proba(clf: Any, X: Any, n_labels: int, multi_label: bool) -> np.ndarray:
    """n × n_labels probabilities; a class absent from training gets probability 0."""
    p = np.asarray(clf.predict_proba(X), dtype=np.float64)
    if multi_label or p.shape[1] == n_labels:
        return p
    out = np.zeros((p.shape[0], n_labels))
    out[:, np.asarray(clf.classes_, dtype=int)] = p
    return out


def head_params(clf: Any) -> int:
    """Weights + intercepts of a fitted head (one-vs-rest: summed over its per-label models)."""
    parts = clf.estimators_ if hasattr(clf, "estimators_") else [clf]
    return int(sum(np.size(e.coef_) + np.size(e.intercept_) for e in parts if hasattr(e, "coef_")))


def macro_f1(gold: np.ndarray, proba: np.ndarray, multi_label: bool, thresholds: np.ndarray | None) -> float:
    from sklearn.metrics import f1_score

    n = proba.shape[1]
    if multi_label:
        pred = (proba >= (0.5 if thresholds is None else thresholds)).astype(int)
        return float(f1_score(gold, pred, average="macro", zero_division=0))
    return float(f1_score(gold, proba.argmax(axis=1), labels=list(range(n)), average="macro", zero_division=0))


def fit_head(X_train: Any, y_train: np.ndarray, X_val: Any, y_val: np.ndarray, *, n_labels: int, multi_label: bool,
             C: float | None = None, grid: Sequence[float] = C_GRID, class_weights: bool = False, seed: int = 42,
             progress: Callable[[float, str], None] | None = None) -> HeadFit:
    """Fit one head per C (``C`` given: only that one), keep the best on validation macro-F1."""
    grid = (C,) if C is not None else tuple(grid)
    best: HeadFit | None = None
    scores: dict[str, float] = {}
    for i, c in enumerate(grid):
        if progress:
            progress(i / len(grid), f"logistic regression C={c:g} ({i + 1}/{len(grid)})")
        clf = new_head(c, multi_label, class_weights, seed).fit(X_train, y_train)
        thresholds = None
        if len(y_val) == 0:
            f1 = float("nan")
        else:
            p_val = head_proba(clf, X_val, n_labels, multi_label)
            if multi_label:  # imported here: finetune_train loads torch, which single-label TF-IDF never needs
                from .finetune_train import tune_thresholds

                thresholds = tune_thresholds(p_val, y_val)
            f1 = macro_f1(y_val, p_val, multi_label, thresholds)
        scores[f"{c:g}"] = f1
        log.info("C=%g: validation macro-F1 %.4f", c, f1)
        if best is None or f1 > best.val_macro_f1:
            best = HeadFit(clf, float(c), thresholds, f1)
    assert best is not None
    best.grid = scores
    return best


def write_sidecar(folder: Path, **meta: Any) -> None:
    (folder / SIDECAR).write_text(json.dumps(meta, indent=2, default=_jsonable))


def read_sidecar(folder: Path) -> dict[str, Any]:
    path = folder / SIDECAR
    if not path.exists():
        raise FileNotFoundError(f"{folder} has no {SIDECAR}: not a reference-baseline run folder (or incomplete)")
    return json.loads(path.read_text())


def load_saved(run_dir: str | Path, filename: str) -> tuple[Any, dict[str, Any]]:
    """A reference run's saved scikit-learn object and its sidecar (labels, multi_label, thresholds as an array)."""
    folder = Path(run_dir) / "model"
    meta = read_sidecar(folder)
    return load_sklearn(folder / filename), {**meta, "thresholds": thresholds_from(meta)}


def thresholds_from(meta: dict[str, Any]) -> np.ndarray | None:
    th = meta.get("thresholds")
    return None if th is None else np.asarray(th, dtype=np.float64)


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


SIDECAR = "workbench.json"  # labels, multi_label, thresholds, and what the kind's loader needs
