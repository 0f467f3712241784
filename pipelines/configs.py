"""Job configuration dataclasses: one per job kind, saved verbatim into each run folder.

Each field carries ``metadata={"help": ...}``; the CLI builds its flags from them
(``add_dataclass_args``) so a knob exists in exactly one place.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import typing
from dataclasses import dataclass, field
from typing import Any, TypeVar

T = TypeVar("T", bound="JobConfig")


class JobConfig:
    """Mixin: JSON round trip and CLI flags for a config dataclass."""

    kind: typing.ClassVar[str] = ""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls: type[T], data: dict[str, Any]) -> T:
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = set(data) - names
        if unknown:
            raise ValueError(f"unknown {cls.__name__} field(s): {', '.join(sorted(unknown))}")
        return cls(**data)

    @classmethod
    def from_json(cls: type[T], text: str) -> T:
        return cls.from_dict(json.loads(text))


def _field_type(cls: type, f: dataclasses.Field) -> Any:
    hints = typing.get_type_hints(cls)
    return hints[f.name]


def add_dataclass_args(parser: argparse.ArgumentParser, cls: type, skip: tuple[str, ...] = ()) -> None:
    """Add one ``--flag`` per dataclass field, with its help text and default.

    ``skip`` names fields the caller adds itself (e.g. as a positional argument).
    """
    for f in dataclasses.fields(cls):
        if f.name in skip:
            continue
        tp = _field_type(cls, f)
        flag = "--" + f.name.replace("_", "-")
        default = f.default if f.default is not dataclasses.MISSING else None
        if f.default_factory is not dataclasses.MISSING:  # type: ignore[misc]
            default = f.default_factory()  # type: ignore[misc]
        help_text = f.metadata.get("help", "")
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING  # type: ignore[misc]
        origin = typing.get_origin(tp)
        args = typing.get_args(tp)
        if origin is typing.Union or str(origin) == "<class 'types.UnionType'>":
            inner = [a for a in args if a is not type(None)]
            tp = inner[0] if inner else str
            origin = typing.get_origin(tp)
            args = typing.get_args(tp)
        choices = f.metadata.get("choices")
        if tp is bool:
            parser.add_argument(flag, dest=f.name, action=argparse.BooleanOptionalAction,
                                default=default, help=help_text)
        elif origin in (list, tuple):
            parser.add_argument(flag, dest=f.name, nargs="+", type=args[0] if args else str,
                                default=default, required=required, help=help_text)
        else:
            parser.add_argument(flag, dest=f.name, type=tp, default=default, required=required,
                                choices=choices, help=help_text + (f" (default: {default})" if default is not None else ""))


def config_from_args(cls: type[T], ns: argparse.Namespace) -> T:
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: v for k, v in vars(ns).items() if k in names})


@dataclass
class FinetuneConfig(JobConfig):
    """Fine-tune one encoder on one prepared dataset (full or LoRA)."""

    kind: typing.ClassVar[str] = "finetune"

    dataset: str = field(default="rotten_tomatoes", metadata={"help": "prepared dataset id"})
    model: str = field(default="minilm", metadata={"help": "catalog name (minilm, mpnet), local folder or Hub id"})
    method: str = field(default="full", metadata={"help": "full fine-tune or LoRA adapter", "choices": ["full", "lora"]})
    epochs: float = field(default=1.0, metadata={"help": "maximum training epochs (early stopping may end sooner)"})
    learning_rate: float | None = field(default=None, metadata={"help": "peak learning rate; default full 1e-4 (< 40M parameters) or 5e-5, LoRA 2e-3"})
    batch_size: int = field(default=16, metadata={"help": "train batch size per device"})
    eval_batch_size: int = field(default=64, metadata={"help": "evaluation batch size"})
    group_by_length: bool = field(default=True, metadata={"help": "batch texts of similar token length together (less padding: ~1.5x faster on short, uneven texts)"})
    max_length: int | None = field(default=None, metadata={"help": "token limit; default: 95th percentile of train lengths (≤ 512)"})
    max_train_samples: int | None = field(default=10000, metadata={"help": "use at most this many train texts (seeded, stratified subsample; 0 or None = all). The default keeps a CPU epoch to minutes and covers the demo's whole train split"})
    max_eval_samples: int | None = field(default=500, metadata={"help": "subsample validation for early stopping (0 or None = all); it is scored ~4 times per epoch, so the full split can cost as much as training"})
    warmup_ratio: float = field(default=0.1, metadata={"help": "linear warm-up share of the steps"})
    weight_decay: float = field(default=0.01, metadata={"help": "AdamW weight decay"})
    eval_every: int | None = field(default=None, metadata={"help": "evaluate every N steps (default: ~4 times per epoch)"})
    early_stopping_patience: int = field(default=3, metadata={"help": "evaluations without macro-F1 gain before stopping"})
    class_weights: bool = field(default=False, metadata={"help": "weight the loss by inverse class frequency"})
    lora_r: int = field(default=8, metadata={"help": "LoRA rank"})
    lora_alpha: int = field(default=16, metadata={"help": "LoRA alpha (scale = alpha / r)"})
    lora_dropout: float = field(default=0.1, metadata={"help": "LoRA dropout"})
    lora_target_modules: list[str] | None = field(default=None, metadata={"help": "modules to adapt; default resolved per architecture"})
    seed: int = field(default=42, metadata={"help": "random seed"})
    speed_samples: int = field(default=128, metadata={"help": "test texts used to measure latency (up to 20, batch 1) and throughput (batch 32); 0 = skip"})
    country_iso_code: str = field(default="FRA", metadata={"help": "ISO-3 country for the CO2 intensity of electricity"})
    cpu_power_watts: float | None = field(default=None, metadata={"help": "force CodeCarbon's CPU power (TDP, W) when it cannot measure it"})
    run_name: str | None = field(default=None, metadata={"help": "display name of the run"})


@dataclass
class PromptConfig(JobConfig):
    """Zero- or few-shot LLM baseline on one prepared dataset's test split (pipelines/prompting.py)."""

    kind: typing.ClassVar[str] = "prompt"

    dataset: str = field(default="rotten_tomatoes", metadata={"help": "prepared dataset id"})
    model: str = field(default="smollm2", metadata={"help": "catalog name (smollm2, gemma3-270m), local folder or Hub id of a causal LM"})
    mode: str = field(default="zero", metadata={"help": "zero-shot or few-shot (k examples per class from the train split)", "choices": ["zero", "few"]})
    k: int = field(default=2, metadata={"help": "few-shot examples per class (multi-label: per label, k with it and k without)"})
    scoring: str = field(default="label", metadata={"help": "label: log-likelihood of each label word (never invalid); generate: free answer parsed against the labels", "choices": ["label", "generate"]})
    template: str | None = field(default=None, metadata={"help": "prompt template name in pipelines/prompts/ or a YAML path; default review for sentiment labels, else classify (single-label) / yesno (multi-label)"})
    calibrate: bool = field(default=False, metadata={"help": "contextual calibration: divide label probabilities by those of content-free inputs and renormalise (label scoring)"})
    calibration: str = field(default="content_free", metadata={"help": "calibration inputs: the template's content-free strings (N/A, empty, [MASK]) or domain: random train-split words", "choices": ["content_free", "domain"]})
    max_test_samples: int | None = field(default=None, metadata={"help": "score only the first N test texts (None = the whole test split)"})
    max_text_tokens: int = field(default=128, metadata={"help": "cut each text and few-shot example to this many tokens"})
    max_new_tokens: int = field(default=8, metadata={"help": "generate mode: tokens generated per answer"})
    max_retries: int = field(default=2, metadata={"help": "generate mode: sampled retries (new seed each) before an answer is recorded invalid"})
    batch_size: int = field(default=16, metadata={"help": "texts per forward pass"})
    chunk_size: int = field(default=32, metadata={"help": "texts per saved chunk: a cancel or crash loses at most one chunk"})
    speed_samples: int = field(default=32, metadata={"help": "texts used to measure latency and throughput (0 = skip)"})
    device: str = field(default="auto", metadata={"help": "auto (GPU when available), cpu or cuda"})
    seed: int = field(default=42, metadata={"help": "seed of the few-shot draw and of generate-mode retries"})
    country_iso_code: str = field(default="FRA", metadata={"help": "ISO-3 country for the CO2 intensity of electricity"})
    cpu_power_watts: float | None = field(default=None, metadata={"help": "force CodeCarbon's CPU power (TDP, W) when it cannot measure it"})
    run_name: str | None = field(default=None, metadata={"help": "display name of the run"})
