"""Linear probe: a frozen encoder's sentence embeddings + logistic regression (the ``probe`` kind).

The question a probe answers: how much of a fine-tune's quality does the pretrained encoder
already carry? It trains no encoder weight, so it costs one forward pass per text (cached
per model and split, :mod:`pipelines.embeddings`) plus seconds of regression, and a second
probe on the same data costs only the regression.

The saved model is the regression (skops, explicit type list) and ``workbench.json`` naming
the encoder (catalog name and resolved folder), its pooling and token limit; the encoder is
referenced, not copied, like a LoRA run's base model. Reloading re-embeds new texts with the
same encoder, pooling and batch size.

Test scoring reuses the cached test embeddings; the reloaded predictor gives the same
numbers on the same texts in the same batches, and float32 noise (~3e-7 on the embeddings,
measured) when batches differ.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import assets, linear_head
from .configs import Range, RunConfig, _field, _redefault
from .embeddings import (
    POOLINGS,
    Encoder,
    Pooling,
    cache_dir,
    checkpoint_params,
    declared_pooling,
    split_embeddings,
)
from .finish import SpeedPlan, dir_size_mb, finish_run
from .predictor import Predictor
from .runfolder import RunFolder
from .runkind import RunKind
from .subsample import nested_positions

log = logging.getLogger(__name__)

HEAD_FILE = "head.skops"
# Unit-norm embeddings in 384–768 dimensions: on rt_small C=8 (the old grid's top) won, so
# the grid reaches 32; four fits on cached embeddings cost about a second.
C_GRID = (0.5, 2.0, 8.0, 32.0)


@dataclass
class ProbeConfig(RunConfig):
    """Frozen encoder → sentence embeddings → logistic regression, on one prepared dataset."""


    model: str = _redefault(RunConfig, "model", "minilm", "encoder: catalog name (minilm, mpnet), local folder or "
                            "Hub id; its weights are not trained")
    batch_size: int = _redefault(RunConfig, "batch_size", 32, "texts per encoder forward pass")
    pooling: str = _field("auto", "auto: what the checkpoint declares (1_Pooling/config.json; mean if none)",
                          choices=["auto", *POOLINGS])
    max_length: int | None = _field(None, "token limit; default: the checkpoint's max_seq_length (else 512)",
                                    Range(8, 4096))
    C: float | None = _field(None, "inverse regularisation strength; default: the best of 0.5, 2, 8, 32 on validation "
                             "macro-F1", Range(0, 1e6, lo_open=True))
    class_weights: bool = _field(False, "weight classes by inverse frequency (sklearn 'balanced')")
    max_train_samples: int | None = _field(None, "fit the regression on at most this many train texts (a nested, "
                                           "seeded, stratified subset: pipelines/subsample.py; None = all); the "
                                           "whole split is embedded once and cached", Range(2, 100_000_000))


def encoder_pooling(model_dir: str, pooling: str, max_length: int | None) -> Pooling:
    declared = declared_pooling(model_dir)
    return Pooling(declared.mode if pooling == "auto" else pooling, declared.normalize,
                   max_length or declared.max_length)


class ProbePredictor(Predictor):
    """Encoder (loaded on first prediction) + the saved regression."""

    def __init__(self, encoder: Encoder, head: Any, labels: list[str], multi_label: bool,
                 thresholds: np.ndarray | None):
        self.encoder = encoder
        self.head = head
        self.labels = list(labels)
        self.multi_label = multi_label
        self.thresholds = thresholds

    @property
    def device(self) -> str:
        return self.encoder.device

    def proba_from_embeddings(self, X: np.ndarray) -> np.ndarray:
        return linear_head.head_proba(self.head, X, len(self.labels), self.multi_label)

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        if len(texts) == 0:
            return np.zeros((0, len(self.labels)))
        return self.proba_from_embeddings(self.encoder.encode(texts))


def _encoder_dir(meta: dict[str, Any]) -> str:
    """Catalog name first (the cache may have moved since), the saved folder second."""
    try:
        path = assets.resolve_model(meta["encoder"])
        if Path(path).exists():
            return path
    except FileNotFoundError:
        pass
    return meta["encoder_path"]


def load_predictor(run_dir: str | Path) -> ProbePredictor:
    head, meta = linear_head.load_saved(run_dir, HEAD_FILE)
    encoder = Encoder(_encoder_dir(meta), Pooling(meta["pooling"], meta["normalize"], meta["max_length"]),
                      batch_size=meta["batch_size"])
    return ProbePredictor(encoder, head, meta["labels"], meta["multi_label"], meta["thresholds"])


def run_probe(config: dict[str, Any], ctx: Any) -> str:
    """Embed (or reuse cached embeddings), fit the regression, save it, score the cached test embeddings."""
    from .data import ensure_prepared

    cfg = ProbeConfig.from_dict(config)
    work = RunFolder(ctx.work_dir)
    ctx.progress(0.0, "loading data")
    ds = ensure_prepared(cfg.dataset)
    model_dir = assets.resolve_model(cfg.model)
    pooling = encoder_pooling(model_dir, cfg.pooling, cfg.max_length)
    encoder = Encoder(model_dir, pooling, batch_size=cfg.batch_size)
    cache = cache_dir(cfg.model, model_dir, ds.split_hash)
    cached: dict[str, bool] = {}
    embed_s: dict[str, float] = {}

    def embed(split: str, lo: float, hi: float) -> np.ndarray:
        t0 = time.perf_counter()
        ctx.progress(lo, f"embedding the {split} split with {cfg.model}")
        arr, cached[split] = split_embeddings(encoder, cache, split, ds.split(split)["text"].tolist(),
                                              lambda f: ctx.progress(lo + (hi - lo) * f, f"embedding {split}"))
        embed_s[split] = time.perf_counter() - t0
        return arr

    with ctx.track("train", cfg.country_iso_code, cfg.cpu_power_watts):
        t0 = time.perf_counter()
        X_train, X_val = embed("train", 0.02, 0.55), embed("validation", 0.55, 0.65)
        # a subset is always nested (a new field: no earlier sample to keep); the cache holds the whole split
        rows = nested_positions(ds.train, cfg.max_train_samples, cfg.seed, ds.multi_label)
        train_df, X_train = ds.train.iloc[rows].reset_index(drop=True), X_train[rows]
        t1 = time.perf_counter()
        fit = linear_head.fit_head(
            X_train, linear_head.targets(ds, train_df), X_val, linear_head.targets(ds, ds.validation),
            n_labels=len(ds.labels), multi_label=ds.multi_label, C=cfg.C, grid=C_GRID, class_weights=cfg.class_weights,
            seed=cfg.seed, progress=lambda f, m: ctx.progress(0.65 + 0.1 * f, m))
        regression_s = time.perf_counter() - t1
        train_s = time.perf_counter() - t0
    work.model.mkdir(parents=True, exist_ok=True)
    linear_head.save_sklearn(fit.clf, work.model / HEAD_FILE)
    linear_head.write_sidecar(
        work.model, kind="probe", labels=ds.labels, multi_label=ds.multi_label, thresholds=fit.thresholds, C=fit.C,
        encoder=cfg.model, encoder_path=model_dir, pooling=pooling.mode, normalize=pooling.normalize,
        max_length=pooling.max_length, batch_size=cfg.batch_size, dim=int(X_train.shape[1]))
    predictor = load_predictor(work.path)
    with ctx.track("eval", cfg.country_iso_code, cfg.cpu_power_watts):
        proba = predictor.proba_from_embeddings(embed("test", 0.75, 0.9))
    n_head, encoder_params = linear_head.head_params(fit.clf), checkpoint_params(model_dir)
    train_block = {"C": fit.C, "C_grid_val_macro_f1": fit.grid, "best_val_macro_f1": fit.val_macro_f1,
                   "embedding_dim": int(X_train.shape[1]), "pooling": pooling.mode, "normalize": pooling.normalize,
                   "max_length": pooling.max_length, "embeddings_cached": cached, "embed_s": embed_s,
                   "regression_s": regression_s, "train_runtime_s": train_s, "train_samples": len(train_df),
                   "eval_samples": len(ds.validation), "batch_size": cfg.batch_size, "device": encoder.device,
                   "train_samples_per_s": len(train_df) / train_s if train_s else None}
    model_info = {"total_params": (encoder_params or 0) + n_head, "trainable_params": n_head,
                  "base_params": encoder_params, "size_mb": dir_size_mb(work.model), "name": cfg.model,
                  "path": model_dir, "method": "probe",
                  "base_size_mb": dir_size_mb(model_dir) if Path(model_dir).is_dir() else None}
    return finish_run(ctx, ds, predictor, config=cfg, model=cfg.model, method="probe",
                      name=cfg.run_name or f"{Path(cfg.model).name} probe", model_info=model_info,
                      blocks={"train": train_block}, proba=proba,
                      speed=SpeedPlan(n=cfg.speed_samples, n_latency=min(20, cfg.speed_samples)),
                      config_extra={"resolved": {"model_path": model_dir, "pooling": pooling.mode,
                                                 "normalize": pooling.normalize, "max_length": pooling.max_length,
                                                 "C": fit.C}})


# Embedding throughput measured here on 2 cores shared with other jobs (load 5–8): MiniLM
# 19–34 texts/s on rotten_tomatoes snippets (9,564 train texts: 8.5 min); MPNet counted 5×
# slower (4.8× the parameters), as is an unknown encoder. Assumes ~12k texts and a cold cache.
_TEXTS_PER_S = {"minilm": 30.0, "mpnet": 6.0}


def expected_seconds(config: dict[str, Any]) -> float:
    return 10.0 + 12_000 / _TEXTS_PER_S.get(str(config.get("model")), 6.0)


KIND = RunKind(name="probe", display="Linear probe (frozen encoder + logistic regression)", config=ProbeConfig,
               run=run_probe, load_predictor=load_predictor, cost=expected_seconds)
