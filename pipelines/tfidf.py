"""The TF-IDF reference: word + character n-gram TF-IDF and a logistic regression (the ``tfidf`` kind).

Every comparison needs a floor that costs nothing: if a transformer does not clearly beat
this, its extra energy and latency buy nothing. It trains in seconds on 2 CPU cores, so the
demo and ``compare`` always include it and the queue runs it first.

Features (a ``FeatureUnion`` of two ``TfidfVectorizer``, sublinear tf, L2-normalised each):

- words, 1–2-grams: bigrams catch short negations and phrases ("not good", "no plot") that
  unigrams lose;
- characters, 2–5-grams within word boundaries (``char_wb``): robust to misspellings,
  inflections, hashtags and tokenisation of user data nobody cleaned, and they carry
  sub-word cues in short texts.

Measured (test accuracy / macro-F1, C picked on validation from 2, 8, 32; 2 shared cores):

================  ===================  ===================
features          rotten_tomatoes      bbc_news
================  ===================  ===================
words 1–2         0.772 / 0.764        0.962 / 0.963
+ char_wb 2–5     0.787 / 0.779        0.967 / 0.968
same, min_df=1    0.784 / 0.776        0.958 / 0.959
================  ===================  ===================

``min_df=2`` drops n-grams seen in one training text only: 2.4× fewer features, no loss.
C=0.5 was never chosen (0.749 macro-F1 on rotten_tomatoes): sparse, sublinear TF-IDF wants
weak regularisation, so the grid is 2, 8, 32. Three lbfgs fits, measured as whole jobs on 2
cores shared with other work (load 5–12): rotten_tomatoes 10 s of training (21 s wall);
bbc_news's long articles (179k features) 104 s (155 s wall) — the char n-grams of long texts
are the cost there; ``--char-ngram-max 0`` or ``--max-features`` cut it.

The fitted ``Pipeline`` (vectorizers + head) is saved with skops and loaded only with an
explicit type list (:mod:`pipelines.linear_head`), never pickle.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import linear_head
from .configs import Range, RunConfig, _field, _redefault
from .finish import SpeedPlan, dir_size_mb, finish_run
from .predictor import Predictor
from .runfolder import RunFolder
from .runkind import RunKind

log = logging.getLogger(__name__)

PIPELINE_FILE = "tfidf_lr.skops"
C_GRID = (2.0, 8.0, 32.0)
MODEL_NAME = "tfidf"


@dataclass
class TfidfConfig(RunConfig):
    """Word + char n-gram TF-IDF + logistic regression on one prepared dataset."""


    model: str = _field(MODEL_NAME, "always 'tfidf' (the name shown in tables)", choices=[MODEL_NAME])
    batch_size: int = _redefault(RunConfig, "batch_size", 256, "texts per scoring batch")
    C: float | None = _field(None, "inverse regularisation strength; default: the best of 2, 8, 32 on validation "
                             "macro-F1", Range(0, 1e6, lo_open=True))
    word_ngram_max: int = _field(2, "longest word n-gram (1 = unigrams only)", Range(1, 4))
    char_ngram_max: int = _field(5, "longest character n-gram, from 2 (0 = no character features)",
                                 Range(2, 8, special=(0,), special_means="words only"))
    min_df: int = _field(2, "drop n-grams found in fewer training texts", Range(1, 1000))
    max_features: int | None = _field(None, "keep at most this many n-grams per vectorizer, most frequent first "
                                      "(None = all)", Range(1000, 100_000_000))
    class_weights: bool = _field(False, "weight classes by inverse frequency (sklearn 'balanced')")
    max_train_samples: int | None = _field(None, "use at most this many train texts (seeded, stratified; "
                                           "None = all)", Range(2, 100_000_000))


def build_features(cfg: TfidfConfig) -> Any:
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.pipeline import FeatureUnion

    common = dict(sublinear_tf=True, min_df=cfg.min_df, max_features=cfg.max_features, dtype=np.float32)
    parts = [("word", TfidfVectorizer(ngram_range=(1, cfg.word_ngram_max), **common))]
    if cfg.char_ngram_max:
        parts.append(("char", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, cfg.char_ngram_max), **common)))
    return FeatureUnion(parts)


class TfidfPredictor(Predictor):
    """The saved pipeline behind the shared predictor interface."""

    def __init__(self, pipeline: Any, labels: list[str], multi_label: bool, thresholds: np.ndarray | None):
        self.pipeline = pipeline
        self.labels = list(labels)
        self.multi_label = multi_label
        self.thresholds = thresholds

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        if len(texts) == 0:
            return np.zeros((0, len(self.labels)))
        return linear_head.head_proba(self.pipeline, [str(t) for t in texts], len(self.labels), self.multi_label)


def load_predictor(run_dir: str | Path) -> TfidfPredictor:
    pipeline, meta = linear_head.load_saved(run_dir, PIPELINE_FILE)
    return TfidfPredictor(pipeline, meta["labels"], meta["multi_label"], meta["thresholds"])


def run_tfidf(config: dict[str, Any], ctx: Any) -> str:
    """Fit the vectorizers on train, pick C on validation, save, and score what a reload gives."""
    from sklearn.pipeline import Pipeline

    from .data import ensure_prepared
    from .finetune import _subsample
    from .subsample import nested_subset

    cfg = TfidfConfig.from_dict(config)
    work = RunFolder(ctx.work_dir)
    ctx.progress(0.0, "loading data")
    ds = ensure_prepared(cfg.dataset)
    train_df = (nested_subset(ds.train, cfg.max_train_samples, cfg.seed, ds.multi_label) if cfg.nested_subsample
                else _subsample(ds.train, cfg.max_train_samples, cfg.seed, ds))
    val_df = ds.validation
    with ctx.track("train", cfg.country_iso_code, cfg.cpu_power_watts):
        t0 = time.perf_counter()
        ctx.progress(0.05, f"vectorizing {len(train_df)} training texts")
        features = build_features(cfg)
        X_train = features.fit_transform(train_df["text"].astype(str).tolist())
        X_val = features.transform(val_df["text"].astype(str).tolist())
        vectorize_s = time.perf_counter() - t0
        fit = linear_head.fit_head(
            X_train, linear_head.targets(ds, train_df), X_val, linear_head.targets(ds, val_df),
            n_labels=len(ds.labels), multi_label=ds.multi_label, C=cfg.C, grid=C_GRID, class_weights=cfg.class_weights,
            seed=cfg.seed, progress=lambda f, m: ctx.progress(0.1 + 0.6 * f, m))
        train_s = time.perf_counter() - t0
    log.info("tfidf on %s: %d features, C=%g (validation macro-F1 %.4f), %.1f s", ds.id, X_train.shape[1], fit.C,
             fit.val_macro_f1, train_s)
    work.model.mkdir(parents=True, exist_ok=True)
    linear_head.save_sklearn(Pipeline([("features", features), ("clf", fit.clf)]), work.model / PIPELINE_FILE)
    linear_head.write_sidecar(work.model, kind="tfidf", labels=ds.labels, multi_label=ds.multi_label,
                              thresholds=fit.thresholds, C=fit.C, features=int(X_train.shape[1]))
    predictor = load_predictor(work.path)  # score what a reload gives, so saved predictions reproduce
    n_params = linear_head.head_params(fit.clf)
    train_block = {"C": fit.C, "C_grid_val_macro_f1": fit.grid, "best_val_macro_f1": fit.val_macro_f1,
                   "n_features": int(X_train.shape[1]), "train_samples": len(train_df), "eval_samples": len(val_df),
                   "vectorize_s": vectorize_s, "train_runtime_s": train_s,
                   "train_samples_per_s": len(train_df) / train_s if train_s else None}
    return finish_run(ctx, ds, predictor, config=cfg, model=MODEL_NAME, method=None,
                      name=cfg.run_name or "TF-IDF reference", blocks={"train": train_block},
                      model_info={"total_params": n_params, "trainable_params": n_params,
                                  "size_mb": dir_size_mb(work.model), "name": MODEL_NAME},
                      eval_batch_size=cfg.batch_size, progress_from=0.75,
                      speed=SpeedPlan(n=cfg.speed_samples, n_latency=min(20, cfg.speed_samples)),
                      config_extra={"resolved": {"C": fit.C, "n_features": int(X_train.shape[1])}})


def presets(dataset: str, profile: str) -> list[dict[str, Any]]:
    """The reference in every demo: one config for both profiles (it costs seconds either way),
    so switching profile never trains it twice."""
    return [TfidfConfig(dataset=dataset, run_name="TF-IDF reference").to_dict()]


def expected_seconds(config: dict[str, Any]) -> float:
    """Seconds per 10k short texts (measured: rotten_tomatoes, 3 C values, 21 s wall on 2 busy cores); only
needs to rank it before every other kind."""
    n = config.get("max_train_samples") or 10_000
    return 2.0 + n / 1000.0


KIND = RunKind(name="tfidf", display="TF-IDF + logistic regression (reference)", config=TfidfConfig, run=run_tfidf,
               load_predictor=load_predictor, presets=presets, cost=expected_seconds)
