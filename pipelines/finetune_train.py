"""Training helpers for finetune.py: encoded splits, the job callback, losses, thresholds.

Kept apart from the job function so each piece reads top to bottom; everything here imports
torch/transformers at module level, so only job code (never the dashboard) imports it.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from sklearn.metrics import f1_score
from transformers import TrainerCallback, TrainingArguments

from . import train_defaults

log = logging.getLogger(__name__)

MAX_MAX_LENGTH = 512


class EncodedSplit(torch.utils.data.Dataset):
    """Tokenised texts (unpadded: DataCollatorWithPadding pads each batch to its longest row)."""

    def __init__(self, tokenizer: Any, texts: Sequence[str], labels: np.ndarray, max_length: int):
        self.enc = tokenizer(list(texts), truncation=True, max_length=max_length)
        self.labels = labels
        self.keys = [k for k in self.enc.keys() if k in ("input_ids", "attention_mask", "token_type_ids")]

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> dict[str, Any]:
        item = {k: self.enc[k][i] for k in self.keys}
        item["labels"] = self.labels[i]
        return item


def model_length_limit(tokenizer: Any) -> int:
    """The model's own token limit (its tokenizer's ``model_max_length``), at most 512."""
    return min(MAX_MAX_LENGTH, int(getattr(tokenizer, "model_max_length", MAX_MAX_LENGTH) or MAX_MAX_LENGTH))


def resolve_defaults(cfg: Any, train_df: Any, labels: list[str], multi: bool, tokenizer: Any,
                     model_dir: str) -> dict[str, Any]:
    """The data-derived settings (:func:`train_defaults.derive`) for this run's actual train texts,
    measured with the model's own tokenizer (only when max_length or group_by_length is left to it)."""
    from .data import length_summary, token_lengths  # the one summary of a length array (p50, p95, max)

    tokens = share = None
    if cfg.max_length is None or cfg.group_by_length is None:
        lengths = token_lengths(train_df["text"].tolist(), model_dir)
        tokens = length_summary(lengths)
        classes = train_df["labels"].map(lambda v: "|".join(sorted(v))) if multi else train_df["label"]  # label sets
        share = train_defaults.length_class_share(lengths, classes.to_numpy())
    return train_defaults.derive(len(train_df), len(labels), multi, tokens, cfg.batch_size, min_steps=cfg.min_steps,
                                 on_cpu=not torch.cuda.is_available(), model_max_length=model_length_limit(tokenizer),
                                 epochs=cfg.epochs, max_length=cfg.max_length, eval_every=cfg.eval_every,
                                 group_by_length=cfg.group_by_length, length_share=share)


def label_arrays(ds: Any, df: Any) -> np.ndarray:
    """int class ids (single-label) or float 0/1 rows (multi-label: BCE wants floats)."""
    return ds.label_matrix(df).astype(np.float32) if ds.multi_label else ds.label_ids(df)


def validation_metrics(multi_label: bool, n_labels: int) -> Any:
    """Trainer compute_metrics: macro-F1 (early-stopping criterion) and accuracy on validation.

    Multi-label: each checkpoint is scored with per-label thresholds tuned on this validation
    set, the rule the finished model is saved with. At a fixed 0.5 a model that ranks well but
    is not yet confident scores 0 for rare labels: on movie_genres (titles, 7 genres) every
    check read 0.0 and early stopping ended training after one of its three epochs.
    """

    def fn(eval_pred: Any) -> dict[str, float]:
        logits, gold = eval_pred.predictions, eval_pred.label_ids
        logits = logits[0] if isinstance(logits, tuple) else logits
        if multi_label:
            gold = gold.astype(int)
            proba = 1.0 / (1.0 + np.exp(-logits.astype(np.float64)))
            pred = (proba >= tune_thresholds(proba, gold)[None, :]).astype(int)
            acc = float((pred == gold).all(axis=1).mean())
        else:
            pred = logits.argmax(axis=1)
            acc = float((pred == gold).mean())
        f1 = f1_score(gold, pred, labels=list(range(n_labels)), average="macro", zero_division=0)
        return {"macro_f1": float(f1), "accuracy": acc}

    return fn


def class_weight_loss(ds: Any, y_train: np.ndarray) -> Any:
    """Loss weighted by inverse class frequency (Trainer's compute_loss_func).

    Single-label: weighted cross-entropy with weights n / (L · count), the sklearn
    "balanced" rule. Multi-label: BCE with pos_weight = negatives / positives per label
    (capped at 100 so a nearly absent label cannot blow up the loss).
    """
    if ds.multi_label:
        pos = y_train.sum(axis=0)
        pos_weight = torch.tensor(np.clip((len(y_train) - pos) / np.maximum(pos, 1), 1.0, 100.0), dtype=torch.float32)

        def bce(outputs: Any, labels: torch.Tensor, num_items_in_batch: Any = None) -> torch.Tensor:
            logits = outputs["logits"]
            return torch.nn.functional.binary_cross_entropy_with_logits(
                logits, labels.to(logits.dtype), pos_weight=pos_weight.to(logits.device))

        return bce
    counts = np.bincount(y_train, minlength=len(ds.labels)).astype(np.float64)
    weight = torch.tensor(len(y_train) / (len(counts) * np.maximum(counts, 1)), dtype=torch.float32)

    def ce(outputs: Any, labels: torch.Tensor, num_items_in_batch: Any = None) -> torch.Tensor:
        logits = outputs["logits"]
        return torch.nn.functional.cross_entropy(logits, labels, weight=weight.to(logits.device))

    return ce


def tune_thresholds(proba: np.ndarray, gold: np.ndarray, grid: np.ndarray | None = None) -> np.ndarray:
    """Per-label threshold maximising that label's F1 on validation (0.5 when undefined).

    A label with no positive in validation keeps 0.5: any threshold gives F1 0 there, and a
    tuned value would be noise. Ties keep the threshold closest to 0.5.
    """
    grid = np.round(np.arange(0.05, 0.96, 0.05), 2) if grid is None else grid
    order = grid[np.argsort(np.abs(grid - 0.5), kind="stable")]
    out = np.full(proba.shape[1], 0.5)
    for j in range(proba.shape[1]):
        y = gold[:, j].astype(int)
        if y.sum() == 0:
            continue
        pred = proba[:, j][None, :] >= order[:, None]  # thresholds × rows
        tp = (pred & (y == 1)).sum(axis=1)
        fp = (pred & (y == 0)).sum(axis=1)
        fn = ((~pred) & (y == 1)).sum(axis=1)
        f1 = np.where(2 * tp + fp + fn > 0, 2 * tp / np.maximum(2 * tp + fp + fn, 1), 0.0)
        out[j] = float(order[int(np.argmax(f1))])
    return out


def training_args(cfg: Any, output_dir: Any, max_steps: int, eval_every: int, lr: float,
                  group_by_length: bool) -> TrainingArguments:
    """Trainer settings of every fine-tune: AdamW, linear warm-up/decay, early stopping on
    validation macro-F1 with the best checkpoint restored. Checkpoints hold model weights
    only (no optimizer state: nothing resumes from them) and at most the best plus the latest
    exist at a time; the job deletes the folder afterwards.

    Length-grouped batches (``group_by_length``, as :mod:`pipelines.train_defaults` resolved it) cut padding: 1.5× faster training on the
    demo's short, uneven snippets. The Trainer then also reorders evaluation batches, so code
    that reads ``trainer.predict`` must take gold labels from its ``label_ids``."""
    return TrainingArguments(
        output_dir=str(output_dir), per_device_train_batch_size=cfg.batch_size,
        per_device_eval_batch_size=cfg.eval_batch_size, max_steps=max_steps, learning_rate=lr,
        weight_decay=cfg.weight_decay, warmup_steps=cfg.warmup_ratio, lr_scheduler_type="linear",
        optim="adamw_torch", max_grad_norm=1.0, eval_strategy="steps", eval_steps=eval_every,
        train_sampling_strategy="group_by_length" if group_by_length else "random",
        save_strategy="steps", save_steps=eval_every, save_total_limit=1, save_only_model=True,
        load_best_model_at_end=True, metric_for_best_model="macro_f1", greater_is_better=True,
        logging_steps=max(1, min(eval_every, 10)), report_to="none", seed=cfg.seed, data_seed=cfg.seed,
        dataloader_num_workers=0, dataloader_pin_memory=torch.cuda.is_available(), disable_tqdm=False)


def train_speed(state: Any, steps_per_epoch: int, n_train: int, batch_size: int, cb: JobCallback,
                trainer_metrics: dict[str, float]) -> dict[str, Any]:
    """Samples/s of the optimisation steps alone (in-loop validation and checkpoint saves are
    excluded), so full vs LoRA compares the cost of training, not of evaluating."""
    full_epochs, rest = divmod(state.global_step, steps_per_epoch)
    seen = full_epochs * n_train + min(rest * batch_size, n_train)
    return {
        "train_samples_per_s": seen / cb.step_seconds if cb.step_seconds else None,
        "train_step_time_s": cb.step_seconds,
        "train_runtime_s": trainer_metrics.get("train_runtime"),
        "trainer_samples_per_s": trainer_metrics.get("train_samples_per_second"),  # includes validation
    }


class JobCallback(TrainerCallback):
    """Forwards Trainer events to the job: progress (cancellable), loss and validation curves.

    ``ctx.progress`` raises ``Cancelled`` once the user asked to stop; it is deliberately
    not caught, so it unwinds out of ``Trainer.train`` and the job ends as cancelled.
    """

    def __init__(self, ctx: Any, start: float, end: float):
        self.ctx, self.start, self.end = ctx, start, end
        self.last_loss: float | None = None
        self.step_seconds = 0.0  # optimisation steps only: no evaluation, no checkpoint saving
        self._t0: float | None = None

    def on_step_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self._t0 = time.perf_counter()

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self._t0 is not None:
            self.step_seconds += time.perf_counter() - self._t0
            self._t0 = None
        frac = state.global_step / max(1, state.max_steps)
        loss = f" loss {self.last_loss:.4f}" if self.last_loss is not None else ""
        self.ctx.progress(self.start + (self.end - self.start) * frac,
                          f"training: step {state.global_step}/{state.max_steps} epoch {state.epoch or 0:.2f}{loss}")

    def on_log(self, args: Any, state: Any, control: Any, logs: dict[str, float] | None = None, **kwargs: Any) -> None:
        logs = logs or {}
        for key, name in (("loss", "loss"), ("eval_macro_f1", "eval_macro_f1"), ("eval_loss", "eval_loss"),
                          ("eval_accuracy", "eval_accuracy")):
            if key in logs and logs[key] is not None and math.isfinite(logs[key]):
                self.ctx.log_metric(state.global_step, name, float(logs[key]), state.epoch)
        if "loss" in logs:
            self.last_loss = float(logs["loss"])
        if "eval_macro_f1" in logs:
            self.ctx.progress(self.start + (self.end - self.start) * state.global_step / max(1, state.max_steps),
                              f"validation macro-F1 {logs['eval_macro_f1']:.3f} at step {state.global_step}")
