"""SetFit for the few-labels regime: n labelled examples per class (the ``setfit`` kind).

The setfit library (1.2.0, on sentence-transformers 6.2.0) fine-tunes a sentence encoder
contrastively on pairs drawn from a handful of labelled texts, then fits a logistic
regression on its embeddings. It is the fair "I only have 8 labels per class" baseline: the
other kinds train on the whole training split, this one on ``n_per_class`` texts from it
(seeded, every class kept; multi-label: up to n texts carrying each label).

Cost kept small by default (1 epoch over ``num_iterations`` = 5 pairs per text, batch 16:
16 texts → 160 pairs → 10 steps); measured on 2 shared cores, MiniLM, rotten_tomatoes,
8 per class: ~1.5 min of training.

Saved: the fine-tuned body as a sentence-transformers folder (safetensors) and the head via
skops with an explicit type list — not setfit's own ``save_pretrained``, whose head is a
joblib pickle. The library's checkpoints go to a folder inside the work folder, deleted
afterwards. Test scoring embeds the whole test split in one call, so a reload that scores
the same texts in one call reproduces the saved probabilities exactly.
"""

from __future__ import annotations

import logging
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from . import assets
from .configs import Range, RunConfig, _field, _redefault
from .embeddings import checkpoint_params
from .finish import SpeedPlan, dir_size_mb, finish_run
from .linear_head import (
    head_params,
    head_proba,
    load_saved,
    save_sklearn,
    write_sidecar,
)
from .predictor import Predictor
from .runfolder import RunFolder
from .runkind import RunKind

log = logging.getLogger(__name__)

BODY_DIR = "body"
HEAD_FILE = "head.skops"


@dataclass
class SetFitKindConfig(RunConfig):
    """SetFit (contrastive encoder fine-tune + logistic regression) on n examples per class."""


    model: str = _redefault(RunConfig, "model", "minilm", "sentence encoder: catalog name (minilm, mpnet), local "
                            "folder or Hub id")
    batch_size: int = _redefault(RunConfig, "batch_size", 16, "text pairs per contrastive training step")
    n_per_class: int = _field(8, "labelled training texts per class (multi-label: per label), seeded draw",
                              Range(1, 100_000))
    num_iterations: int = _field(5, "contrastive pairs generated per training text", Range(1, 1000))
    epochs: int = _field(1, "epochs of contrastive training over the pairs", Range(1, 100))
    body_learning_rate: float = _field(2e-5, "learning rate of the encoder", Range(0, 1, lo_open=True))
    max_length: int | None = _field(None, "token limit; default: the encoder's max_seq_length", Range(8, 4096))
    max_eval_samples: int = _field(500, "multi-label: validation texts used to tune the per-label thresholds",
                                   Range(1, 100_000_000))


def few_shot(ds: Any, n: int, seed: int) -> Any:
    """n training texts per class (all of a class if it has fewer); multi-label: up to n per label."""
    df = ds.train
    if not ds.multi_label:
        parts = [g.sample(n=min(n, len(g)), random_state=seed) for _, g in df.groupby("label", sort=True)]
        return _shuffle(parts, seed)
    rng = np.random.default_rng(seed)
    chosen: set[int] = set()
    for label in ds.labels:
        rows = [i for i, labs in zip(df.index, df["labels"]) if label in labs and i not in chosen]
        have = sum(1 for i in chosen if label in df.at[i, "labels"])
        take = max(0, min(n - have, len(rows)))
        if take:
            chosen.update(int(i) for i in rng.choice(rows, size=take, replace=False))
    return _shuffle([df.loc[sorted(chosen)]], seed)


def _shuffle(parts: list[Any], seed: int) -> Any:
    import pandas as pd

    return pd.concat(parts).sample(frac=1.0, random_state=seed).reset_index(drop=True)


class SetFitPredictor(Predictor):
    """A SetFitModel (fine-tuned body + our skops-loaded head) behind the shared interface."""

    def __init__(self, model: Any, labels: list[str], multi_label: bool, thresholds: np.ndarray | None,
                 batch_size: int = 32):
        self.model = model
        self.labels = list(labels)
        self.multi_label = multi_label
        self.thresholds = thresholds
        self.batch_size = batch_size

    @property
    def device(self) -> str:
        return str(self.model.device)

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        if len(texts) == 0:
            return np.zeros((0, len(self.labels)))
        emb = self.model.encode([str(t) for t in texts], batch_size=self.batch_size, show_progress_bar=False)
        return head_proba(self.model.model_head, np.asarray(emb), len(self.labels), self.multi_label)


def load_predictor(run_dir: str | Path) -> SetFitPredictor:
    from sentence_transformers import SentenceTransformer
    from setfit import SetFitModel

    head, meta = load_saved(run_dir, HEAD_FILE)
    body = SentenceTransformer(str(RunFolder(run_dir).model / BODY_DIR), local_files_only=True)
    if meta.get("max_length"):
        body.max_seq_length = int(meta["max_length"])
    model = SetFitModel(model_body=body, model_head=head, normalize_embeddings=bool(meta["normalize_embeddings"]),
                        multi_target_strategy="one-vs-rest" if meta["multi_label"] else None)
    return SetFitPredictor(model, meta["labels"], meta["multi_label"], meta["thresholds"])


def run_setfit(config: dict[str, Any], ctx: Any) -> str:
    """Draw n per class, train with setfit, save body + head, score the test split."""
    from datasets import Dataset
    from setfit import SetFitModel, Trainer, TrainingArguments

    from .data import ensure_prepared
    from .finetune import _subsample
    from .finetune_train import JobCallback, tune_thresholds

    cfg = SetFitKindConfig.from_dict(config)
    work = RunFolder(ctx.work_dir)
    scratch = work.path / "setfit-checkpoints"
    ctx.progress(0.0, "loading data and encoder")
    ds = ensure_prepared(cfg.dataset)
    model_dir = assets.resolve_model(cfg.model)
    train_df = few_shot(ds, cfg.n_per_class, cfg.seed)
    multi = ds.multi_label
    y = ds.label_matrix(train_df).tolist() if multi else ds.label_ids(train_df).tolist()
    model = SetFitModel.from_pretrained(model_dir, local_files_only=True,
                                        multi_target_strategy="one-vs-rest" if multi else None)
    if cfg.max_length:  # the predictor truncates where training did
        model.model_body.max_seq_length = cfg.max_length
    args = TrainingArguments(output_dir=str(scratch), batch_size=cfg.batch_size, num_epochs=cfg.epochs,
                             num_iterations=cfg.num_iterations, body_learning_rate=cfg.body_learning_rate,
                             max_length=cfg.max_length, seed=cfg.seed, save_strategy="no", report_to="none",
                             logging_steps=5, show_progress_bar=False)
    callback = JobCallback(ctx, 0.05, 0.75)
    trainer = Trainer(model=model, args=args, callbacks=[callback],
                      train_dataset=Dataset.from_dict({"text": train_df["text"].astype(str).tolist(), "label": y}))
    log.info("setfit %s on %s: %d training texts (%d per class), %d pairs per text", cfg.model, ds.id,
             len(train_df), cfg.n_per_class, cfg.num_iterations)
    ctx.progress(0.05, f"setfit: contrastive training on {len(train_df)} texts")
    try:
        with ctx.track("train", cfg.country_iso_code, cfg.cpu_power_watts):
            t0 = time.perf_counter()
            trainer.train()
            thresholds, val_n = None, 0
            if multi:  # per-label cut-offs on (a sample of) validation, like the other kinds
                val_df = _subsample(ds.validation, cfg.max_eval_samples, cfg.seed, ds)
                val_n = len(val_df)
                predictor = SetFitPredictor(model, ds.labels, multi, None)
                thresholds = tune_thresholds(predictor.predict_proba(val_df["text"].tolist()),
                                             ds.label_matrix(val_df))
            train_s = time.perf_counter() - t0
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    work.model.mkdir(parents=True, exist_ok=True)
    model.model_body.save(str(work.model / BODY_DIR), safe_serialization=True, create_model_card=False)
    save_sklearn(model.model_head, work.model / HEAD_FILE)
    max_length = int(model.model_body.max_seq_length)
    write_sidecar(work.model, kind="setfit", labels=ds.labels, multi_label=multi, thresholds=thresholds,
                  base_model=cfg.model, base_model_path=model_dir, max_length=max_length,
                  normalize_embeddings=bool(model.normalize_embeddings))
    del trainer, model
    predictor = load_predictor(work.path)  # score what a reload gives
    with ctx.track("eval", cfg.country_iso_code, cfg.cpu_power_watts):
        ctx.progress(0.8, "scoring the test split")
        proba = predictor.predict_proba(ds.test["text"].tolist())
    n_head, n_body = head_params(predictor.model.model_head), checkpoint_params(work.model / BODY_DIR)
    train_block = {"train_samples": len(train_df), "n_per_class": cfg.n_per_class,
                   "num_iterations": cfg.num_iterations, "epochs": cfg.epochs, "batch_size": cfg.batch_size,
                   "body_learning_rate": cfg.body_learning_rate, "max_length": max_length, "eval_samples": val_n,
                   "train_runtime_s": train_s, "train_step_time_s": callback.step_seconds,
                   "train_samples_per_s": len(train_df) * cfg.epochs / train_s if train_s else None,
                   "device": predictor.device}
    model_info = {"total_params": (n_body or 0) + n_head, "trainable_params": (n_body or 0) + n_head,
                  "base_params": checkpoint_params(model_dir), "size_mb": dir_size_mb(work.model),
                  "name": cfg.model, "path": model_dir, "method": "setfit"}
    return finish_run(ctx, ds, predictor, config=cfg, model=cfg.model, method="setfit",
                      name=cfg.run_name or f"{Path(cfg.model).name} SetFit {cfg.n_per_class}/class",
                      model_info=model_info, blocks={"train": train_block}, proba=proba,
                      speed=SpeedPlan(n=cfg.speed_samples, n_latency=min(20, cfg.speed_samples)),
                      config_extra={"resolved": {"model_path": model_dir, "max_length": max_length,
                                                 "train_samples": len(train_df)}})


def expected_seconds(config: dict[str, Any]) -> float:
    """Pairs ≈ n × classes (2 assumed) × iterations × 2; ~2 pairs/s for MiniLM on 2 busy cores, MPNet 5× slower,
    plus embedding a test split of ~1,000 texts."""
    pairs = float(config.get("n_per_class") or 8) * 2 * float(config.get("num_iterations") or 5) * 2 * float(
        config.get("epochs") or 1)
    slow = 1.0 if str(config.get("model")) == "minilm" else 5.0
    return 20.0 + slow * (pairs / 2.0 + 1000 / 60.0)


KIND = RunKind(name="setfit", display="SetFit (few labels per class)", config=SetFitKindConfig, run=run_setfit,
               load_predictor=load_predictor, cost=expected_seconds)
