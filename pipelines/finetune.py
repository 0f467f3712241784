"""Fine-tune an encoder (full or LoRA) on a prepared dataset: the ``finetune`` job kind.

``run_finetune_job(config, ctx)`` turns a :class:`~pipelines.configs.FinetuneConfig` into a
run folder (``model/``, ``metrics.json``, ``predictions.parquet``, ``emissions.csv``,
``config.json``) and a row in the store. The recipe, in the order it runs:

1. seed everything; subsample train (``max_train_samples``) and validation
   (``max_eval_samples``: early stopping evaluates several times per epoch, so a full
   validation split could cost as much as training itself);
2. the settings the user left unset follow the data (:mod:`pipelines.train_defaults`: epochs
   enough for ``min_steps`` optimisation steps, evaluation cadence, ``max_length`` from the
   train texts' p95 token length); the rule's inputs and outputs go into ``config.json``;
   dynamic padding;
3. HF ``Trainer``: AdamW, linear warm-up/decay, evaluation ~4× per epoch, early stopping on
   validation macro-F1, best checkpoint restored (one on disk at a time, deleted after);
4. multi-label: per-label thresholds tuned on validation;
5. the saved model is reloaded from ``model/`` (:func:`load_predictor`), exported to ONNX and
   checked against torch (:mod:`pipelines.onnx_job`), and *that* predictor scores the test
   split, so the saved predictions are exactly what a reload reproduces.

Training runs under ``emissions.track(phase="train")`` and test scoring (with the ONNX export,
its check and the int8 measurement) under ``track(phase="eval")``; the speed figures are
measured afterwards, untracked.
"""

from __future__ import annotations

import gc
import logging
import re
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from . import assets, runs, train_defaults
from .configs import FinetuneConfig
from .finish import SpeedPlan, dir_size_mb, finish_run
from .predictor import EncoderBase, Predictor
from .runfolder import RunFolder
from .runkind import RunKind

log = logging.getLogger(__name__)

# Defaults, measured on the demo (Rotten Tomatoes, MiniLM-L6 unless named; accuracy on the
# 1,275-text test split, 95% CI about ±2.2 points, seed 42 unless several are given):
# - Peak learning rate (AdamW, linear warm-up over 10% of the steps, then linear decay).
#   Full: 5e-5, the usual BERT-family value, suits base-size encoders; MiniLM-L6 (6 small
#   layers) learns faster with 1e-4 (2k texts, 1 epoch: 5e-5 → 0.758, 1e-4 → 0.771, 2e-4 → 0.763).
#   LoRA needs a much larger rate because only the low-rank update and the fresh head move:
#   r=8 on query/value, 2k texts, 1 epoch: 5e-4 → 0.58 (barely above majority), 1e-3 → 0.74,
#   2e-3 → 0.76–0.77 (= full fine-tune), 5e-3 diverges; 2e-3 is the largest safe value, with
#   warm-up and gradient clipping (max norm 1) keeping the first steps stable.
# - Data and epochs (FinetuneConfig: up to 10,000 train texts, 1 epoch). Accuracy follows the
#   number of distinct texts more than passes over them, at equal cost: MiniLM full 2k × 2
#   epochs 0.763 / 0.766 / 0.795 (3 seeds), 4k × 1 0.795 / 0.788 (2 seeds), 4k × 2 0.798,
#   whole split (9,564) × 1 0.806, and 0.810 with length-grouped batches (which also train
#   1.5× faster); MiniLM LoRA whole × 1 0.790; MPNet LoRA 2k × 2 0.873, whole × 1 0.883.
#   So the demo trains one pass over the whole split rather than several over a sample.
# - Data-derived defaults (pipelines/train_defaults.py, which says why; bench/RESULTS.md "defaults"):
#   unset epochs reach 500 optimisation steps (1 epoch on ≥ 8,000 texts, ≤ 10), max_length = p95
#   ≤ 256 on CPU, length grouping off where length predicts the class. The user-like 3-class file
#   (2,250 texts), 500-step minimum: grouping on 0.407 macro-F1 (one class), off 0.859; TF-IDF 0.761.
# - Head: the bundled encoders are sentence-transformers checkpoints (trained for mean
#   pooling, with an untrained pooler). A mean-pooling head gave 0.785 / 0.773 / 0.781 (2k × 2,
#   3 seeds) against the standard [CLS] head's 0.763 / 0.766 / 0.795: within noise, so the
#   standard AutoModelForSequenceClassification heads stay (they reload with plain transformers).
DEFAULT_LR = {"full": 5e-5, "lora": 2e-3}
SMALL_MODEL_FULL_LR = 1e-4
SMALL_MODEL_PARAMS = 40_000_000  # MiniLM-L6 has 22.7M, MPNet-base 109M
MODEL_SIDECAR = "workbench.json"  # labels, thresholds, max_length, base model: what the loader needs


def default_learning_rate(method: str, n_params: int) -> float:
    if method == "full" and n_params < SMALL_MODEL_PARAMS:
        return SMALL_MODEL_FULL_LR
    return DEFAULT_LR[method]


def _subsample(df: Any, n: int | None, seed: int, ds: Any) -> Any:
    """Seeded subsample, stratified for single-label so small runs keep every class."""
    if not n or n >= len(df):
        return df.reset_index(drop=True)
    if not ds.multi_label and df["label"].nunique() > 1:
        from sklearn.model_selection import train_test_split

        counts = df["label"].value_counts()
        if counts.min() >= 2 and n >= len(counts):
            part, _ = train_test_split(df, train_size=n, stratify=df["label"], random_state=seed)
            return part.reset_index(drop=True)
    return df.sample(n=n, random_state=seed).reset_index(drop=True)


def _clean_work_dir(work_dir: Path) -> None:
    """A retried job reuses its work folder: drop the previous attempt's outputs (not its log)."""
    for name in ("model", "checkpoints"):
        shutil.rmtree(work_dir / name, ignore_errors=True)
    folder = RunFolder(work_dir)
    for path in (folder.metrics, folder.predictions, folder.config):
        path.unlink(missing_ok=True)


def run_finetune_job(config: dict[str, Any], ctx: Any) -> str:
    """Fine-tune, evaluate on the test split, and register the run; returns the run id."""
    import transformers
    from transformers import (
        AutoModelForSequenceClassification,
        AutoTokenizer,
        DataCollatorWithPadding,
        EarlyStoppingCallback,
        Trainer,
    )

    from . import finetune_lora, onnx_backend, onnx_job
    from .data import ensure_prepared
    from .finetune_train import (
        EncodedSplit,
        JobCallback,
        class_weight_loss,
        label_arrays,
        resolve_defaults,
        train_speed,
        training_args,
        tune_thresholds,
        validation_metrics,
    )
    from .subsample import nested_subset

    cfg = FinetuneConfig.from_dict(config)
    work = Path(ctx.work_dir)
    _clean_work_dir(work)
    ctx.progress(0.0, "loading data and model")
    ds = ensure_prepared(cfg.dataset)
    transformers.set_seed(cfg.seed)
    model_dir = assets.resolve_model(cfg.model)
    multi = ds.multi_label
    labels = ds.labels
    problem_type = "multi_label_classification" if multi else "single_label_classification"

    train_df = (nested_subset(ds.train, cfg.max_train_samples, cfg.seed, multi) if cfg.nested_subsample
                else _subsample(ds.train, cfg.max_train_samples, cfg.seed, ds))
    val_df = _subsample(ds.validation, cfg.max_eval_samples, cfg.seed, ds)
    if len(val_df) == 0:
        raise ValueError(f"dataset {ds.id!r} has an empty validation split; early stopping needs one")
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    rule = resolve_defaults(cfg, train_df, labels, multi, tokenizer, model_dir)
    max_length, epochs = rule["outputs"]["max_length"], rule["outputs"]["epochs"]
    y_train, y_val = label_arrays(ds, train_df), label_arrays(ds, val_df)
    train_set = EncodedSplit(tokenizer, train_df["text"].tolist(), y_train, max_length)
    val_set = EncodedSplit(tokenizer, val_df["text"].tolist(), y_val, max_length)

    model, loading = AutoModelForSequenceClassification.from_pretrained(
        model_dir, num_labels=len(labels), problem_type=problem_type, output_loading_info=True,
        id2label=dict(enumerate(labels)), label2id={lab: i for i, lab in enumerate(labels)})
    base_params = sum(p.numel() for p in model.parameters())
    targets = uninitialised = None
    if cfg.method == "lora":
        targets = finetune_lora.target_modules(model.config.model_type, cfg.lora_target_modules)
        uninitialised = finetune_lora.uninitialised_modules(model, loading["missing_keys"])
        if uninitialised:
            log.info("%s has no weights for %s: training and saving them with the adapter", cfg.model, uninitialised)
        model = finetune_lora.wrap(model, cfg.lora_r, cfg.lora_alpha, cfg.lora_dropout, targets, uninitialised)
    trainable, total = finetune_lora.count_params(model)
    lr = cfg.learning_rate or default_learning_rate(cfg.method, base_params)
    steps_per_epoch, max_steps, eval_every = (rule["outputs"][k] for k in ("steps_per_epoch", "max_steps",
                                                                           "eval_every"))
    ckpt_dir = work / "checkpoints"
    group = rule["outputs"]["group_by_length"]
    args = training_args(cfg, ckpt_dir, max_steps, eval_every, lr, group)
    job_cb = JobCallback(ctx, 0.05, 0.85)
    trainer = Trainer(
        model=model, args=args, train_dataset=train_set, eval_dataset=val_set,
        data_collator=DataCollatorWithPadding(tokenizer), processing_class=tokenizer,
        compute_metrics=validation_metrics(multi, len(labels)),
        compute_loss_func=class_weight_loss(ds, y_train) if cfg.class_weights else None,
        callbacks=[EarlyStoppingCallback(early_stopping_patience=cfg.early_stopping_patience),
                   job_cb])
    device = str(trainer.args.device)
    log.info("fine-tuning %s (%s) on %s: %d train / %d validation texts, max_length %d, lr %g, %g epoch(s), "
             "%d steps on %s", cfg.model, cfg.method, ds.id, len(train_set), len(val_set), max_length, lr, epochs,
             max_steps, device)
    ctx.progress(0.05, f"training {cfg.model} ({cfg.method}) on {device}")
    try:
        with ctx.track("train", cfg.country_iso_code, cfg.cpu_power_watts):
            out = trainer.train()
            thresholds = None
            if multi:  # per-label cut-offs chosen on validation with the restored best model
                # Gold rows come from the same prediction pass: with length-grouped batches the
                # Trainer also reorders evaluation, so y_val's order would not match.
                val_pred = trainer.predict(val_set)
                thresholds = tune_thresholds(1 / (1 + np.exp(-val_pred.predictions)), val_pred.label_ids)
        state = trainer.state
        train_block = {
            **train_speed(state, steps_per_epoch, len(train_set), cfg.batch_size, job_cb, out.metrics),
            "epochs_run": state.epoch, "steps": state.global_step, "max_steps": max_steps,
            "best_step": _best_step(state), "best_val_macro_f1": state.best_metric,
            "stopped_early": state.global_step < max_steps, "max_length": max_length, "learning_rate": lr,
            "epochs": epochs, "train_samples": len(train_set), "eval_samples": len(val_set),
            "batch_size": cfg.batch_size, "eval_every": eval_every, "group_by_length": group, "device": device, "lora_target_modules": targets,
            "lora_also_trained": uninitialised,
        }
        model_out = work / "model"
        _save_model(trainer.model, tokenizer, model_out, cfg, labels, multi, thresholds, max_length, model_dir)
    finally:
        shutil.rmtree(ckpt_dir, ignore_errors=True)
    del trainer, model
    gc.collect()

    # Score what a reload gives (so the saved predictions reproduce), in the checked fast backend.
    predictor, proba, inference = onnx_job.score_test(ctx, cfg, ds, work, load_predictor, speed_n=cfg.speed_samples)
    model_info = {"total_params": total, "trainable_params": trainable, "base_params": base_params,
                  "size_mb": dir_size_mb(model_out), "name": cfg.model, "path": model_dir, "method": cfg.method}
    if cfg.method == "lora":
        model_info["base_size_mb"] = dir_size_mb(model_dir) if Path(model_dir).is_dir() else None
    run_id = finish_run(
        ctx, ds, predictor, config=cfg, model=cfg.model, method=cfg.method,
        name=cfg.run_name or f"{Path(cfg.model).name} {cfg.method}", model_info=model_info, proba=proba,
        blocks={"train": train_block, "inference": inference, "backend": inference["backend"]},
        speed=SpeedPlan(n=cfg.speed_samples, n_latency=min(20, cfg.speed_samples)),
        config_extra={"resolved": {"model_path": model_dir, "learning_rate": lr, "epochs": epochs,
                                   "max_length": max_length, "lora_target_modules": targets,
                                   "train_defaults": rule}})
    onnx_backend.land(onnx_backend.staging_dir(ctx.job_id), run_id, runs.run_dir(run_id))  # follows the run id
    return run_id


def _best_step(state: Any) -> int | None:
    ckpt = state.best_model_checkpoint
    m = re.search(r"checkpoint-(\d+)", ckpt or "")
    return int(m.group(1)) if m else None


def _save_model(model: Any, tokenizer: Any, folder: Path, cfg: FinetuneConfig, labels: list[str], multi: bool,
                thresholds: np.ndarray | None, max_length: int, model_dir: str) -> None:
    """full → safetensors + config + tokenizer; LoRA → adapter (+ head via modules_to_save) + tokenizer."""
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    runs.write_json(folder / MODEL_SIDECAR, {
        "labels": labels, "multi_label": multi, "method": cfg.method, "max_length": max_length,
        "thresholds": None if thresholds is None else [float(t) for t in thresholds],
        "base_model": cfg.model, "base_model_path": model_dir,
        "problem_type": "multi_label_classification" if multi else "single_label_classification",
    })


class EncoderPredictor(EncoderBase):
    """A fine-tuned encoder in torch behind the shared predictor interface (token-sorted batches).

    The reference backend: the ONNX one (:mod:`pipelines.onnx_backend`) is checked against it.
    """

    backend = "torch"
    sort_window = 1024  # evaluation hands this many texts per call, so sorting spans the whole window

    def __init__(self, model: Any, tokenizer: Any, labels: list[str], multi_label: bool,
                 thresholds: np.ndarray | None, max_length: int, batch_size: int = 32):
        import torch

        super().__init__(tokenizer, labels, multi_label, thresholds, max_length, batch_size)
        self.device = "cuda" if torch.cuda.is_available() else "cpu"
        self.model = model.to(self.device).eval()

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        import torch

        from . import threads
        from .onnx_backend import token_batches

        texts = [str(t) for t in texts]
        out = np.zeros((len(texts), len(self.labels)), dtype=np.float64)
        if not texts:
            return out
        share = threads.job_share()
        with torch.inference_mode():
            for idx, enc in token_batches(self.tokenizer, texts, self.max_length, self.batch_size, "pt"):
                if share is not None:  # the predictor service may have become active since the last batch
                    threads.set_torch_threads(share.threads())
                logits = self.model(**enc.to(self.device)).logits.float()
                p = torch.sigmoid(logits) if self.multi_label else torch.softmax(logits, dim=-1)
                out[idx] = p.cpu().numpy()
        return out


def load_predictor(run_dir: str | Path, backend: str | None = None, onnx_folder: Path | None = None) -> Predictor:
    """Reload a fine-tuned run (full: plain transformers; LoRA: base + peft adapter, merged).

    ``backend`` (else ``WORKBENCH_BACKEND``, else ``auto``): ``auto`` serves the run's verified
    ONNX export from the model cache when there is one: int8 with an fp32 guard when the run
    measured it at >= 99.5% agreement with fp32, else fp32 (same scores within 1e-5), torch
    otherwise (:func:`pipelines.onnx_backend.open_predictor`); ``onnx`` / ``onnx-int8`` /
    ``onnx-int8-guarded`` require that export (int8 only when the run made one, with its own
    metrics recorded); ``torch`` always loads torch. ``onnx_folder``: where the
    export lives when not at ``onnx/<run folder name>`` (a job before its run has an id).
    """
    from transformers import AutoTokenizer

    from . import onnx_backend

    folder = Path(run_dir) / "model"
    meta_path = folder / MODEL_SIDECAR
    if not meta_path.exists():
        raise FileNotFoundError(f"{folder} has no {MODEL_SIDECAR}: not a fine-tuned run folder (or it is incomplete)")
    meta = runs.read_json(meta_path)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    th = None if meta.get("thresholds") is None else np.asarray(meta["thresholds"], dtype=np.float64)
    args = (tokenizer, meta["labels"], meta["multi_label"], th, meta["max_length"])
    choice = onnx_backend.chosen_backend(backend)
    if choice != "torch":
        fast = onnx_backend.open_predictor(run_dir, choice, args, onnx_folder)
        if fast is not None:
            return fast
        if choice != "auto":
            raise FileNotFoundError(f"run {Path(run_dir).name} has no {choice} export in {onnx_backend.onnx_root()}; "
                                    "use backend auto or torch")
    return EncoderPredictor(load_torch_model(folder, meta), *args)


def load_torch_model(folder: Path, meta: dict[str, Any]) -> Any:
    """The run's classifier as one plain torch model (a LoRA adapter merged into its base)."""
    from transformers import AutoModelForSequenceClassification

    from . import finetune_lora

    if meta["method"] == "lora":
        return finetune_lora.load(_base_model_dir(meta), str(folder), len(meta["labels"]), meta["problem_type"],
                                  merge=True)
    return AutoModelForSequenceClassification.from_pretrained(folder)


def _base_model_dir(meta: dict[str, Any]) -> str:
    """The LoRA base model: catalog name first (the cache may have moved), saved path second."""
    try:
        path = assets.resolve_model(meta["base_model"])
        if Path(path).exists() or "/" in path:
            return path
    except FileNotFoundError:
        pass
    return meta["base_model_path"]


# The demo's encoders per profile: (model, method, run name, explicit sizes). Every size is set
# explicitly (epochs too), so the data-derived defaults (pipelines/train_defaults.py: epochs
# for a minimum step count) never stretch the demo. "default" is sized for the 10-minute target
# on 2 idle cores (measured 7.8 min warm, 8.4 min cold cache; projected ~11: the fixed costs leave
# little room), from the rates measured here (_SAMPLES_PER_S, _OVERHEAD_S below;
# bench/e2e.py measures the whole; bench/RESULTS.md): MiniLM full and LoRA on the same 2,000
# sampled texts (~1 min each; 2k × 1 epoch scored 0.771 full, 0.76-0.77 LoRA, vs 0.806 on the
# whole split), MPNet LoRA on 1,500 texts cut to 40 tokens (RT's p95 is 48; ~5 min, most of it
# the fixed cost of scoring and exporting a 110M model). Validation is subsampled to 200 texts
# (it is scored ~4 times). "full" is one epoch over the whole train split (RT: 9,564 texts).
_DEMO_ENCODERS: dict[str, list[tuple[str, str, str, dict[str, Any]]]] = {
    "default": [
        ("minilm", "full", "MiniLM full (2k texts)", dict(max_train_samples=2000, max_eval_samples=200)),
        ("minilm", "lora", "MiniLM LoRA (2k texts)", dict(max_train_samples=2000, max_eval_samples=200)),
        ("mpnet", "lora", "MPNet LoRA (1.5k texts, 40 tokens)",
         dict(max_train_samples=1500, max_eval_samples=200, max_length=40)),
    ],
    "full": [
        ("minilm", "full", "MiniLM full", dict(max_train_samples=10000)),
        ("minilm", "lora", "MiniLM LoRA", dict(max_train_samples=10000)),
        ("mpnet", "lora", "MPNet LoRA", dict(max_train_samples=10000)),
    ],
    "tiny": [
        ("minilm", "full", "MiniLM full", dict(max_train_samples=64, max_eval_samples=64, max_length=32)),
        ("minilm", "lora", "MiniLM LoRA", dict(max_train_samples=64, max_eval_samples=64, max_length=32)),
    ],
}


def demo_configs(dataset: str, profile: str) -> list[dict[str, Any]]:
    """The demo's encoders: MiniLM full and LoRA, and MPNet LoRA (not in the tiny profile)."""
    return [FinetuneConfig(dataset=dataset, model=model, method=method, run_name=name, epochs=1.0,
                           **sizes).to_dict()
            for model, method, name, sizes in _DEMO_ENCODERS.get(profile, _DEMO_ENCODERS["default"])]


# Relative training cost, measured here (bench/finetune.py, train samples/s on 2 idle cores):
# MiniLM full 61, MiniLM LoRA 105, MPNet LoRA 17; an unknown model counts as MPNet-sized. Around
# training go loading, validation, scoring the test split, the ONNX export, its check and the
# int8 measurement, and the speed figures: the whole-split demo measured MiniLM LoRA 2.1 min and
# full 3.1 min end to end (~35 s beyond training), MPNet LoRA 13.5 min (~240 s beyond training).
_SAMPLES_PER_S = {("minilm", "full"): 61.0, ("minilm", "lora"): 105.0, ("mpnet", "full"): 10.0,
                  ("mpnet", "lora"): 17.0}
_OVERHEAD_S = {"minilm": 35.0, "mpnet": 240.0}


def expected_seconds(config: dict[str, Any]) -> float:
    """Rough training time on 2 CPU cores, to run cheap jobs first (not an ETA promise)."""
    rate = _SAMPLES_PER_S.get((str(config.get("model")), str(config.get("method"))), 12.0)
    samples = config.get("max_train_samples") or 10_000
    epochs = config.get("epochs") or train_defaults.derived_epochs(
        samples, int(config.get("batch_size") or 16), int(config.get("min_steps") or train_defaults.MIN_STEPS))
    return _OVERHEAD_S.get(str(config.get("model")), 240.0) + samples * float(epochs) / rate


KIND = RunKind(name="finetune", display="Fine-tune (full or LoRA)", config=FinetuneConfig, run=run_finetune_job,
               load_predictor=load_predictor, presets=demo_configs, cost=expected_seconds)
