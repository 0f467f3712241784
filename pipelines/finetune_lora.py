"""LoRA helpers for fine-tuning: which modules to adapt per architecture, wrap, reload.

The adapter folder written by ``PeftModel.save_pretrained`` holds the LoRA matrices *and*
the classification head (listed in ``modules_to_save``: a freshly initialised head must be
trained and saved, or a reload would get a new random head). It reloads with plain peft:
``PeftModel.from_pretrained(AutoModelForSequenceClassification.from_pretrained(base, num_labels=L), folder)``.
"""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger(__name__)

# model_type -> attention projections to adapt. Query + value is the LoRA paper's choice and
# peft's default for BERT-like models; with the learning rate in finetune.DEFAULT_LR it
# matches a full fine-tune of MiniLM on the demo (see finetune.py) at a fraction of the
# trainable parameters. Architectures missing here fall back to peft's own table.
LORA_TARGETS: dict[str, list[str]] = {
    "bert": ["query", "value"],
    "roberta": ["query", "value"],
    "xlm-roberta": ["query", "value"],
    "camembert": ["query", "value"],
    "electra": ["query", "value"],
    "albert": ["query", "value"],
    "mpnet": ["q", "v"],
    "distilbert": ["q_lin", "v_lin"],
    "deberta": ["in_proj"],
    "deberta-v2": ["query_proj", "value_proj"],
    "modernbert": ["Wqkv"],
}

# Heads of AutoModelForSequenceClassification across architectures (trained from scratch,
# so they are fully trained and saved with the adapter).
HEAD_NAMES = ("pre_classifier", "classifier", "score", "head")


def target_modules(model_type: str, override: list[str] | None = None) -> list[str]:
    if override:
        return list(override)
    if model_type in LORA_TARGETS:
        return LORA_TARGETS[model_type]
    from peft.utils.constants import TRANSFORMERS_MODELS_TO_LORA_TARGET_MODULES_MAPPING as PEFT_TARGETS

    if model_type in PEFT_TARGETS:
        return list(PEFT_TARGETS[model_type])
    raise ValueError(f"no default LoRA target modules for model type {model_type!r}; "
                     "pass --lora-target-modules (names of its attention projection layers, e.g. query value)")


def head_modules(model: Any) -> list[str]:
    """Top-level head modules of a sequence-classification model."""
    names = [n for n, _ in model.named_children() if n in HEAD_NAMES]
    if not names:
        raise ValueError(f"cannot find the classification head of {type(model).__name__}: "
                         f"expected one of {HEAD_NAMES} among {[n for n, _ in model.named_children()]}")
    return names


def uninitialised_modules(model: Any, missing_keys: Any) -> list[str]:
    """Modules outside the head whose weights the checkpoint lacked, so that loading initialised
    them at random (a ``BertModel`` saved without its pooler, a ``*ForMaskedLM`` checkpoint).

    A frozen random module would differ at every load, so a reloaded adapter could not
    reproduce its run; these modules are trained and saved with the adapter instead.
    """
    heads = set(head_modules(model))
    out = []
    for key in sorted(missing_keys or ()):
        module = key.rsplit(".", 1)[0]  # "bert.pooler.dense.weight" -> "bert.pooler.dense"
        if module.split(".", 1)[0] not in heads and module not in out:
            out.append(module)
    return out


def wrap(model: Any, r: int, alpha: int, dropout: float, targets: list[str],
         also_train: list[str] | None = None) -> Any:
    """Freeze the encoder, add LoRA adapters on ``targets`` and keep the head trainable
    (plus ``also_train``: see :func:`uninitialised_modules`)."""
    from peft import LoraConfig, TaskType, get_peft_model

    if r <= 0:
        raise ValueError(f"lora_r must be a positive rank, got {r}")
    names = {n.rsplit(".", 1)[-1] for n, _ in model.named_modules()}
    missing = [t for t in targets if t not in names]
    if missing:
        raise ValueError(f"LoRA target module(s) {missing} not found in {model.config.model_type} model; "
                         f"some of its layer names: {sorted(names)[:30]}")
    cfg = LoraConfig(task_type=TaskType.SEQ_CLS, r=r, lora_alpha=alpha, lora_dropout=dropout,
                     target_modules=targets, modules_to_save=head_modules(model) + list(also_train or ()))
    peft_model = get_peft_model(model, cfg)
    trainable, total = count_params(peft_model)
    log.info("LoRA r=%d alpha=%d on %s: %d trainable of %d parameters (%.2f%%)",
             r, alpha, targets, trainable, total, 100 * trainable / max(total, 1))
    return peft_model


def count_params(model: Any) -> tuple[int, int]:
    """(trainable, total) parameter counts; a LoRA model's total includes its adapters.

    A peft model counts itself (``get_nb_trainable_parameters``, which also knows how
    quantised and ZeRO-3 parameters count); a plain model is every parameter tensor, the
    trainable ones those with ``requires_grad``.
    """
    if hasattr(model, "get_nb_trainable_parameters"):
        trainable, total = model.get_nb_trainable_parameters()
        return int(trainable), int(total)
    params = list(model.parameters())
    return sum(p.numel() for p in params if p.requires_grad), sum(p.numel() for p in params)


def load(base_dir: str, adapter_dir: str, num_labels: int, problem_type: str, merge: bool = True) -> Any:
    """Base model + saved adapter (+ head); merged into plain weights for faster inference."""
    from peft import PeftModel
    from transformers import AutoModelForSequenceClassification

    base = AutoModelForSequenceClassification.from_pretrained(base_dir, num_labels=num_labels,
                                                              problem_type=problem_type)
    model = PeftModel.from_pretrained(base, adapter_dir)
    return model.merge_and_unload() if merge else model
