"""How long a job will take on this machine, before it is queued, and the cap that keeps it short.

Why: fine-tuning MiniLM with the defaults on 5,000 reviews took 61 minutes on a busy 2-core
machine, and nothing said so before the job was queued. The kinds' ``cost`` functions rank the
queue and only know the catalog's rough rates; this module reads what finished runs *measured
here* (``metrics.json``: ``train.train_samples_per_s``, ``speed.throughput``,
``prompt.texts_per_s``, ``emissions.duration_s``) and scales it to the planned data.

The unit is the token: per-text cost grows with the text's token length (an encoder pads a
batch to its longest text up to ``max_length``; an LLM reads its prompt). A run's measured rate
times its data's mean token length is tokens per second; divided by the planned data's mean
length it gives texts per second there. Token lengths come from the prepared dataset's stats
(characters / 4, the usual English BPE ratio) or, where the Data page computed them, the
model's real token lengths kept in the store.

Matching runs: same kind, model and method (fine-tune method, prompt mode and scoring); else
same kind and model; else same kind (marked as a guess). Nothing measured: the kind's
:attr:`RunKind.cost`, said so.
"""

from __future__ import annotations

import json
import math
import statistics
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CHARS_PER_TOKEN = 4.0
PROMPT_OVERHEAD_TOKENS = 60  # instructions, label list and answer cue around each text (zero-shot)


@dataclass
class Estimate:
    seconds: float
    basis: str  # "measured", "measured (other model)" or "rough"
    detail: str  # one sentence: where the number comes from
    cap: dict[str, Any] = field(default_factory=dict)  # {field: value} that keeps it under the target, if any
    cap_detail: str = ""


@dataclass
class Sample:
    """One finished run's measured rates, in tokens per second, and its fixed overhead."""

    model: str
    method: str
    train_tok_s: float | None
    infer_tok_s: float | None
    overhead_s: float


# ------------------------------------------------------------------ token lengths
def mean_tokens(dataset: Mapping[str, Any] | None, split: str = "train", store: Any = None,
                model: str | None = None) -> float:
    """Mean token length of a split: the model's measured lengths if stored, else chars / 4."""
    if not dataset:
        return 64.0
    if store is not None and model:
        saved = store.get("token_lengths", f"{dataset.get('id')}:{dataset.get('split_hash')}:{split}:{model}")
        if saved and saved.get("lengths"):
            return float(statistics.fmean(saved["lengths"]))
    chars = ((dataset.get("stats") or {}).get("chars") or {}).get(split) or {}
    return max(1.0, float(chars.get("mean") or 256) / CHARS_PER_TOKEN)


def split_size(dataset: Mapping[str, Any] | None, split: str) -> int:
    sizes = (dataset or {}).get("sizes") or {}
    if split in sizes:
        return int(sizes[split])
    return int((dataset or {}).get(f"n_{split}") or 0)


def dataset_info(dataset_id: str) -> dict[str, Any] | None:
    """The prepared dataset's dataset.json (stats, sizes), or None when it is gone."""
    from . import prepared

    path = Path(prepared.dataset_dir(dataset_id)) / "dataset.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


# ------------------------------------------------------------------ measured samples
def _method(kind: str, cfg: Mapping[str, Any]) -> str:
    if kind == "prompt":
        return f"{cfg.get('mode', 'zero')}/{cfg.get('scoring', 'label')}"
    return str(cfg.get("method") or "")


def samples(store: Any, kind: str) -> list[Sample]:
    """Measured rates of every finished run of ``kind`` in the store (unreadable folders skipped)."""
    from .runfolder import RunFolder

    out, infos = [], {}
    for row in store.runs():
        if row.get("kind") != kind:
            continue
        folder = RunFolder(row["path"])
        try:
            m, c = folder.read_metrics(), folder.read_config()
        except (OSError, ValueError):
            continue
        cfg = c.get("config") or {}
        if not cfg.get("model") and row.get("model"):  # a derived default: the model the run resolved and used
            cfg = {**cfg, "model": row["model"]}
        ds_id = row["dataset_id"]
        if ds_id not in infos:
            infos[ds_id] = dataset_info(ds_id)
        out.append(_sample(kind, cfg, m, infos[ds_id]))
    return [s for s in out if s is not None]


def _sample(kind: str, cfg: Mapping[str, Any], m: Mapping[str, Any], info: Mapping[str, Any] | None) -> Sample | None:
    train, speed, prompt = m.get("train") or {}, m.get("speed") or {}, m.get("prompt") or {}
    duration = float((m.get("emissions") or {}).get("duration_s") or 0.0)
    n_test = int(m.get("n") or split_size(info, "test") or 0)
    train_tok = infer_tok = None
    work_s = 0.0
    if kind == "prompt":
        per_text = mean_tokens(info, "test") + PROMPT_OVERHEAD_TOKENS
        rate = prompt.get("texts_per_s") or speed.get("throughput")
        if rate:
            infer_tok = float(rate) * per_text
            work_s = n_test / float(rate)
    else:
        length = mean_tokens(info, "train")
        if train.get("max_length"):
            length = min(length, float(train["max_length"]))
        if train.get("train_samples_per_s"):
            train_tok = float(train["train_samples_per_s"]) * length
            work_s += float(train.get("train_samples") or 0) * float(train.get("epochs_run") or 1) / float(
                train["train_samples_per_s"])
        if speed.get("throughput"):
            infer_tok = float(speed["throughput"]) * length
            work_s += n_test / float(speed["throughput"])
    if train_tok is None and infer_tok is None:
        if not duration:
            return None
        # a kind without rates (tfidf, probe): the whole duration per token of train + test
        toks = (split_size(info, "train") + split_size(info, "test")) * mean_tokens(info, "train")
        return Sample(str(cfg.get("model") or ""), _method(kind, cfg), toks / duration if toks else None, None, 0.0)
    return Sample(str(cfg.get("model") or ""), _method(kind, cfg), train_tok, infer_tok,
                  max(0.0, duration - work_s) if duration else 20.0)


def _match(found: list[Sample], model: str, method: str) -> tuple[list[Sample], str]:
    for chosen, words in (([s for s in found if s.model == model and s.method == method], "measured"),
                          ([s for s in found if s.model == model], "measured"),
                          (found, "measured (other model)")):
        if chosen:
            return chosen, words
    return [], "rough"


def _median(values: list[float | None]) -> float | None:
    v = [x for x in values if x is not None and math.isfinite(x) and x > 0]
    return statistics.median(v) if v else None


# ------------------------------------------------------------------ the estimate
def estimate(store: Any, kind: str, config: Mapping[str, Any], target_s: float | None = None,
             found: list[Sample] | None = None) -> Estimate:
    """Seconds the job will take here, its basis, and the cap that keeps it under ``target_s``."""
    from . import kinds

    info = dataset_info(str(config.get("dataset") or "")) or (store.dataset(str(config.get("dataset"))) if store
                                                                else None)
    found = samples(store, kind) if found is None else found
    model = str(config.get("model") or "")
    if kind == "prompt" and not model and info:  # the LLM the job will derive from the dataset, as it will
        from .prompt_defaults import default_model

        model = default_model(info.get("labels") or [], info.get("task") == "multi_label",
                              str(config.get("mode") or "zero"))[0]
    chosen, basis = _match(found, model, _method(kind, config))
    train_rate = _median([s.train_tok_s for s in chosen])
    infer_rate = _median([s.infer_tok_s for s in chosen])
    overhead = _median([s.overhead_s for s in chosen]) or 20.0
    n_train, n_val, n_test = (split_size(info, s) for s in ("train", "validation", "test"))
    if kind == "finetune" and train_rate:
        return _finetune(config, info, store, train_rate, infer_rate, overhead, (n_train, n_val, n_test), basis,
                         len(chosen), target_s)
    if kind == "prompt" and infer_rate:
        return _prompt(config, info, infer_rate, overhead, n_test, basis, len(chosen), target_s)
    if kind not in ("finetune", "prompt") and train_rate:
        toks = (n_train + n_test) * mean_tokens(info, "train")
        secs = overhead + toks / train_rate
        return Estimate(secs, basis, f"from {len(chosen)} {kind} run(s) measured here, scaled to this dataset's size")
    rough = float(kinds.get(kind).cost(dict(config)))
    return Estimate(rough, "rough", f"nothing measured on this machine yet: the {kind} kind's rough figure for 2 "
                                    "CPU cores (a first run here makes the next estimates real)")


def _finetune(cfg: Mapping[str, Any], info: Any, store: Any, train_rate: float, infer_rate: float | None,
              overhead: float, sizes: tuple[int, int, int], basis: str, n_runs: int,
              target_s: float | None) -> Estimate:
    from .train_defaults import from_dataset_info

    n_train, n_val, n_test = sizes
    cap = cfg.get("max_train_samples")
    n = min(n_train, int(cap)) if cap else n_train
    rule = from_dataset_info(info, cfg)  # epochs, evaluations and max_length as the job will derive them
    out = rule["outputs"] if rule else {}
    epochs = float(out.get("epochs") or cfg.get("epochs") or 1.0)
    length = mean_tokens(info, "train", store, str(cfg.get("model")))
    max_length = out.get("max_length") or cfg.get("max_length")
    if max_length:
        length = min(length, float(max_length))
    evals = math.ceil(out["max_steps"] / out["eval_every"]) if out else 4 * math.ceil(epochs)
    n_eval = min(n_val, int(cfg.get("max_eval_samples") or n_val)) * evals + n_test
    infer_s = n_eval * length / (infer_rate or train_rate * 3)  # inference is ~3x cheaper than a train step
    per_sample = epochs * length / train_rate
    secs = overhead + infer_s + n * per_sample
    detail = (f"{n:,} train texts × {epochs:g} epoch(s) × ~{length:.0f} tokens at {train_rate:,.0f} tokens/s "
              f"(from {n_runs} run(s) measured here{'' if basis == 'measured' else ', other models'}), plus "
              f"evaluation and loading")
    est = Estimate(secs, basis, detail)
    if target_s and secs > target_s:
        room = target_s - overhead - infer_s
        fit = int(room / per_sample) if room > 0 else 0
        if fit >= 50:
            est.cap = {"max_train_samples": fit}
            est.cap_detail = f"max_train_samples {fit:,} keeps it under {target_s / 60:.0f} min"
        else:
            est.cap_detail = "even a few hundred texts would not fit: raise the target or use the TF-IDF reference"
    return est


def _prompt(cfg: Mapping[str, Any], info: Any, infer_rate: float, overhead: float, n_test: int, basis: str,
            n_runs: int, target_s: float | None) -> Estimate:
    cap = cfg.get("max_test_samples")
    n = min(n_test, int(cap)) if cap else n_test
    per_text = min(mean_tokens(info, "test"), float(cfg.get("max_text_tokens") or 1e9)) + PROMPT_OVERHEAD_TOKENS
    if cfg.get("mode") == "few":
        per_text *= 1.3  # the shared prefix is cached, the longer context still costs
    per_s = per_text / infer_rate
    secs = overhead + n * per_s
    est = Estimate(secs, basis, f"{n:,} test texts × ~{per_text:.0f} prompt tokens at {infer_rate:,.0f} tokens/s "
                                f"(from {n_runs} run(s) measured here), plus loading")
    if target_s and secs > target_s:
        fit = int((target_s - overhead) / per_s) if target_s > overhead else 0
        if fit >= 10:
            est.cap = {"max_test_samples": fit}
            est.cap_detail = (f"max_test_samples {fit:,} keeps it under {target_s / 60:.0f} min (the run is then "
                              "marked as scored on part of the test split)")
    return est


def words(seconds: float) -> str:
    """``75`` → ``1 min 15 s``; ``5400`` → ``1 h 30 min``."""
    s = int(round(seconds))
    if s < 90:
        return f"{s} s"
    if s < 5400:
        return f"{s // 60} min" + (f" {s % 60} s" if s < 600 and s % 60 else "")
    return f"{s // 3600} h {s % 3600 // 60} min"
