"""Job configuration dataclasses: one per job kind, saved verbatim into each run folder.

A knob exists in exactly one place: its dataclass field. The field's metadata carries the
help text, the choices and the valid range (``Range``); everything else reads the fields
through :func:`config_fields` — the CLI flags (``add_dataclass_args``), their inverse
(``to_cli_args``: a config back to the flags that reproduce it, which the dashboard runs),
and the dashboard's form widgets. Each dataclass checks itself in ``__post_init__``, as
transformers' and setfit's argument classes do, so a bad value is refused when the config
is built — by a flag, a form or ``from_dict`` of a stored job — before a job row exists,
with the valid range in the one-line message.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import numbers
import types
import typing
from dataclasses import dataclass, field
from typing import Any, TypeVar

from . import prompt_defaults

T = TypeVar("T", bound="JobConfig")


@dataclass(frozen=True)
class Range:
    """The valid values of a numeric field; ``special`` values outside it mean something (0 = all)."""

    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False  # lo itself is excluded ("> 0" rather than "≥ 0")
    hi_open: bool = False
    special: tuple[float, ...] = ()
    special_means: str = ""

    def contains(self, value: float) -> bool:
        if value in self.special:
            return True
        if not math.isfinite(value):
            return False
        if self.lo is not None and (value < self.lo or (self.lo_open and value == self.lo)):
            return False
        return not (self.hi is not None and (value > self.hi or (self.hi_open and value == self.hi)))

    def describe(self) -> str:
        parts = []
        if self.lo is not None:
            parts.append(f"{'>' if self.lo_open else '≥'} {_number(self.lo)}")
        if self.hi is not None:
            parts.append(f"{'<' if self.hi_open else '≤'} {_number(self.hi)}")
        text = " and ".join(parts) or "a finite number"
        if self.special:
            text += f" (or {', '.join(_number(s) for s in self.special)} = {self.special_means})"
        return text


def _number(value: float) -> str:
    """1,000,000 rather than 1e+06 in a message; 0.5 stays 0.5."""
    return f"{int(value):,}" if float(value).is_integer() else f"{value:g}"


@dataclass(frozen=True)
class FieldInfo:
    """One config field as every reader needs it: flag, type, default, help, choices, range."""

    name: str
    type: Any  # the inner type: ``int`` for ``int | None``, ``list[str]`` for ``list[str] | None``
    optional: bool  # None is allowed (it means "derived default" or "all")
    default: Any
    required: bool
    help: str
    choices: tuple[str, ...] | None
    range: Range | None

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def is_list(self) -> bool:
        return typing.get_origin(self.type) in (list, tuple)

    @property
    def item_type(self) -> Any:
        return (typing.get_args(self.type) or (str,))[0] if self.is_list else self.type

    @property
    def label(self) -> str:
        return self.name.replace("_", " ")


def _unwrap(tp: Any) -> tuple[Any, bool]:
    """(inner type, optional?) for ``X | None``."""
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        return (args[0] if args else str), True
    return tp, False


def config_fields(cls: type, skip: tuple[str, ...] = ()) -> list[FieldInfo]:
    """The fields of a config dataclass, in declaration order (base fields first)."""
    hints = typing.get_type_hints(cls)
    out = []
    for f in dataclasses.fields(cls):
        if f.name in skip:
            continue
        tp, optional = _unwrap(hints[f.name])
        has_factory = f.default_factory is not dataclasses.MISSING  # type: ignore[misc]
        default = f.default_factory() if has_factory else (None if f.default is dataclasses.MISSING else f.default)  # type: ignore[misc]
        choices = f.metadata.get("choices")
        out.append(FieldInfo(f.name, tp, optional, default, f.default is dataclasses.MISSING and not has_factory,
                             f.metadata.get("help", ""), tuple(choices) if choices else None, f.metadata.get("range")))
    return out


def add_dataclass_args(parser: argparse.ArgumentParser, cls: type, skip: tuple[str, ...] = ()) -> None:
    """Add one ``--flag`` per dataclass field, with its help text, default and valid range.

    ``skip`` names fields the caller adds itself (e.g. as a positional argument).
    """
    for f in config_fields(cls, skip):
        if f.type is bool:
            parser.add_argument(f.flag, dest=f.name, action=argparse.BooleanOptionalAction, default=f.default,
                                help=f.help)
        elif f.is_list:
            parser.add_argument(f.flag, dest=f.name, nargs="+", type=f.item_type, default=f.default,
                                required=f.required, help=f.help)
        else:
            notes = ([f"default: {f.default}"] if f.default is not None else []) + (
                [f"valid: {f.range.describe()}"] if f.range else [])
            parser.add_argument(f.flag, dest=f.name, type=f.type, default=f.default, required=f.required,
                                choices=f.choices, help=f.help + (f" ({'; '.join(notes)})" if notes else ""))


def config_from_args(cls: type[T], ns: argparse.Namespace) -> T:
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: v for k, v in vars(ns).items() if k in names})


def to_cli_args(config: Any, skip: tuple[str, ...] = ()) -> list[str]:
    """The flags that rebuild ``config`` through ``add_dataclass_args`` (only values that differ
    from the defaults). The inverse of the flag rules, so the dashboard can run the CLI with
    exactly the config it built. A None where the default is not None has no flag and is left out.
    """
    args: list[str] = []
    for f in config_fields(type(config), skip):
        value = getattr(config, f.name)
        if value == f.default or value is None:
            continue
        if isinstance(value, bool):
            args.append(f.flag if value else "--no-" + f.flag[2:])
        elif isinstance(value, (list, tuple)):
            args += [f.flag, *[str(v) for v in value]]
        else:
            args.append(f"{f.flag}={value}")  # "=" keeps a value such as "-" or "-5" from reading as a flag
    return args


def _bad(name: str, what: str, value: Any) -> ValueError:
    return ValueError(f"{name} must be {what}, got {value!r}")


class JobConfig:
    """Mixin: JSON round trip and self-validation for a config dataclass."""

    def __post_init__(self) -> None:
        """Refuse a value outside its field's choices or range (numbers must be finite)."""
        for f in config_fields(type(self)):
            value = getattr(self, f.name)
            if value is None:
                if not f.optional:
                    raise _bad(f.name, "set", value)
                continue
            if f.choices and value not in f.choices:
                raise _bad(f.name, " or ".join(repr(c) for c in f.choices), value)
            if f.type in (int, float):
                if isinstance(value, bool) or not isinstance(value, numbers.Real):
                    raise _bad(f.name, "a number" + (f" {f.range.describe()}" if f.range else ""), value)
                if f.type is int:
                    if not (math.isfinite(value) and float(value).is_integer()):
                        raise _bad(f.name, "a whole number" + (f" {f.range.describe()}" if f.range else ""), value)
                    value = int(value)
                    setattr(self, f.name, value)
                if f.range and not f.range.contains(value):
                    raise _bad(f.name, f.range.describe(), value)
                if not f.range and not math.isfinite(value):
                    raise _bad(f.name, "a finite number", value)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)  # type: ignore[call-overload]

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    @classmethod
    def from_dict(cls: type[T], data: dict[str, Any]) -> T:
        names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        unknown = set(data) - names
        if unknown:
            raise ValueError(f"unknown {cls.__name__} field(s): {', '.join(sorted(unknown))}")
        return cls(**data)

    @classmethod
    def from_json(cls: type[T], text: str) -> T:
        return cls.from_dict(json.loads(text))


def _field(default: Any, help: str, range: Range | None = None, **meta: Any) -> Any:
    """A dataclass field with its help text and valid range in the metadata."""
    return field(default=default, metadata={"help": help, **({"range": range} if range else {}), **meta})


def _redefault(base: type, name: str, default: Any, help: str | None = None) -> Any:
    """``name`` as ``base`` declares it, with another default (and help): the range stays declared once."""
    meta = dict(base.__dataclass_fields__[name].metadata)  # type: ignore[attr-defined]
    if help:
        meta["help"] = help
    return field(default=default, metadata=meta)


SEEDS = Range(0, 2**32 - 1)  # numpy's seed range
BATCH = Range(1, 4096)
SAMPLES = Range(2, 100_000_000, special=(0,), special_means="all")


@dataclass
class RunConfig(JobConfig):
    """The fields every run kind has: what it runs on, its seed, its name and how it is measured."""

    dataset: str = _field("rotten_tomatoes", "prepared dataset id")
    model: str = _field("minilm", "catalog name, local folder or Hub id")
    batch_size: int = _field(16, "texts per batch", BATCH)
    speed_samples: int = _field(128, "test texts used to measure latency and throughput (0 = skip)", Range(0, 100_000))
    seed: int = _field(42, "random seed", SEEDS)
    country_iso_code: str = _field("FRA", "ISO-3 country for the CO2 intensity of electricity")
    cpu_power_watts: float | None = _field(None, "force CodeCarbon's CPU power (TDP, W) when it cannot measure it",
                                           Range(0, 2000, lo_open=True))
    run_name: str | None = _field(None, "display name of the run")
    nested_subsample: bool = _field(False, "draw a train subset as a prefix of one seeded, class-stratified order, so "
                                    "smaller subsets lie inside larger ones (learning curves; pipelines/subsample.py)")

    def __post_init__(self) -> None:
        super().__post_init__()
        from . import emissions  # light (no torch); the dashboard builds configs too

        emissions.check_settings(self.country_iso_code, self.cpu_power_watts)


@dataclass
class FinetuneConfig(RunConfig):
    """Fine-tune one encoder on one prepared dataset (full or LoRA)."""


    model: str = _redefault(RunConfig, "model", "minilm", "catalog name (minilm, mpnet), local folder or Hub id")
    batch_size: int = _redefault(RunConfig, "batch_size", 16, "train batch size per device")
    speed_samples: int = _redefault(RunConfig, "speed_samples", 128, "test texts used to measure latency (up to 20, "
                                    "batch 1) and throughput (batch 32); 0 = skip")
    method: str = _field("full", "full fine-tune or LoRA adapter", choices=["full", "lora"])
    epochs: float | None = _field(None, "maximum training epochs (early stopping may end sooner); unset: enough "
                                  "for min_steps steps (pipelines/train_defaults.py)",
                                  Range(0, 1000, lo_open=True))
    min_steps: int = _field(500, "optimisation steps the derived epochs reach at least (used only when epochs is "
                            "not set)", Range(1, 100_000_000))
    learning_rate: float | None = _field(None, "peak learning rate; default full 1e-4 (< 40M parameters) or 5e-5, "
                                         "LoRA 2e-3", Range(0, 1, lo_open=True))
    eval_batch_size: int = _field(64, "evaluation batch size", BATCH)
    group_by_length: bool | None = _field(None, "batch texts of similar token length together (less padding: ~1.5x "
                                          "faster on short, uneven texts); unset: on unless text length predicts "
                                          "the class (then the batches would come in one-class runs)",
                                          choices=[True, False])
    max_length: int | None = _field(None, "token limit; default: 95th percentile of train lengths (≤ 256 on CPU, "
                                    "≤ 512 on GPU)",
                                    Range(8, 4096))
    max_train_samples: int | None = _field(10000, "use at most this many train texts (seeded, stratified subsample; "
                                           "0 or None = all). The default keeps a CPU epoch to minutes and covers "
                                           "the demo's whole train split", SAMPLES)
    max_eval_samples: int | None = _field(500, "subsample validation for early stopping (0 or None = all); it is "
                                          "scored ~4 times per epoch, so the full split can cost as much as "
                                          "training", SAMPLES)
    warmup_ratio: float = _field(0.1, "linear warm-up share of the steps", Range(0, 1, hi_open=True))
    weight_decay: float = _field(0.01, "AdamW weight decay", Range(0, 1))
    eval_every: int | None = _field(None, "evaluate every N steps (default: ~4 times per epoch, at most ~10 times "
                                    "over min_steps)",
                                    Range(1, 100_000_000))
    early_stopping_patience: int = _field(3, "evaluations without macro-F1 gain before stopping", Range(1, 1000))
    class_weights: bool = _field(False, "weight the loss by inverse class frequency")
    lora_r: int = _field(8, "LoRA rank", Range(1, 1024))
    lora_alpha: int = _field(16, "LoRA alpha (scale = alpha / r)", Range(1, 4096))
    lora_dropout: float = _field(0.1, "LoRA dropout", Range(0, 1, hi_open=True))
    lora_target_modules: list[str] | None = _field(None, "modules to adapt; default resolved per architecture")


@dataclass
class PromptConfig(RunConfig):
    """Zero- or few-shot LLM baseline on one prepared dataset's test split (pipelines/prompting.py)."""


    model: str | None = _redefault(RunConfig, "model", None, "catalog name (smollm2, gemma3-270m), local folder or "
                                   f"Hub id of a causal LM; default: derived, {prompt_defaults.SUMMARY} (measured: "
                                   "pipelines/prompt_defaults.py)")
    batch_size: int = _redefault(RunConfig, "batch_size", 16, "texts per forward pass")
    speed_samples: int = _redefault(RunConfig, "speed_samples", 32)
    seed: int = _redefault(RunConfig, "seed", 42, "seed of the few-shot draw and of generate-mode retries")
    mode: str = _field("zero", "zero-shot or few-shot (k examples per class from the train split)",
                       choices=["zero", "few"])
    k: int = _field(2, "few-shot examples per class (multi-label: per label, k with it and k without)", Range(1, 64))
    scoring: str = _field("label", "label: log-likelihood of each label word (never invalid); generate: free answer "
                          "parsed against the labels", choices=["label", "generate"])
    template: str | None = _field(None, "prompt template name in pipelines/prompts/, a YAML path or YAML text; "
                                  "default: review where the dataset describes itself as reviews with sentiment "
                                  "labels, else dataset (worded from its description; single-label) / yesno "
                                  "(multi-label)")
    calibrate: bool | None = _field(None, "contextual calibration: divide label probabilities by those of the "
                                    "calibration inputs and renormalise (label scoring); default: derived, on for "
                                    "every label-scoring run (measured: pipelines/prompt_defaults.py)",
                                    choices=[True, False])
    calibration: str = _field("domain", "calibration inputs: domain: random train-split words (measured better), or "
                              "the template's content-free strings (N/A, empty, [MASK])",
                              choices=["domain", "content_free"])
    max_test_samples: int | None = _field(None, "score only N test texts, a seeded class-stratified sample (None = "
                                          "the whole test split)",
                                          Range(1, 100_000_000))
    max_text_tokens: int = _field(128, "cut each text and few-shot example to this many tokens", Range(1, 32768))
    max_new_tokens: int = _field(8, "generate mode: tokens generated per answer", Range(1, 1024))
    max_retries: int = _field(2, "generate mode: sampled retries (new seed each) before an answer is recorded "
                              "invalid", Range(0, 20))
    chunk_size: int = _field(32, "texts per saved chunk: a cancel or crash loses at most one chunk",
                             Range(1, 1_000_000))
    device: str = _field("auto", "auto (GPU when available), cpu or cuda")
