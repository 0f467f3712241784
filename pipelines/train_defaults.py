"""The fine-tune defaults that follow the data: one documented rule, a pure function.

Why: fixed defaults tuned on one dataset fail on others. "1 epoch over up to 10,000 texts"
suits Rotten Tomatoes (598 optimisation steps), but a user's 3-class file of 2,250 texts got 140
steps, validation macro-F1 was still rising at the last one, and MiniLM lost to TF-IDF (0.619
against 0.662 macro-F1). So the number of *optimisation steps* is what the rule guarantees,
and early stopping on validation macro-F1 (patience in evaluations, best model restored) ends
training once more steps stop helping; the epochs are only an upper bound.

The rule. Where its numbers come from: 500 steps is about what the demo's one epoch gives (598
steps, 0.806 accuracy on Rotten Tomatoes; 2k texts × 2 epochs beat × 1 there, see finetune.py)
and 3.5× what the issue's losing run had; the 0.2 cut for length grouping sits between the
bundled sets (η² ≤ 0.10) and the user-like file (0.74). ``bench/defaults.py`` checks the rule
against TF-IDF on six datasets (bench/RESULTS.md; that table is incomplete so far: the machine
was too loaded to finish the MiniLM runs).

- steps per epoch = ceil(train texts / batch size);
- epochs = ceil(``min_steps`` / steps per epoch), at least 1, at most ``MAX_EPOCHS``: large
  data gets one pass, small data several;
- evaluation ~4 times an epoch (every ceil(steps per epoch / 4) steps); when the epochs are
  derived, no more than ~10 times over the minimum budget (every ceil(``min_steps`` / 10) steps
  at least): each evaluation scores up to ``max_eval_samples`` validation texts, which on tiny
  epochs would cost more than training;
- max_length = the train texts' p95 token length rounded up to 8, within [16, the model's
  limit], and at most ``CPU_MAX_LENGTH`` on a CPU (a step costs ~4× more at 256 tokens than at
  64; BBC articles keep their first 256 tokens, which name the topic);
- length-grouped batches (less padding) unless text length predicts the class
  (:func:`length_class_share` > 0.2): grouping sorts each group of 50 batches by length, so
  there it trains on runs of one-class batches. On the user-like file (``plot`` rows ~275
  characters, reviews ~110) MiniLM's validation macro-F1 fell from 0.38 at step 50 to a single
  predicted class (0.17) at steps 100–150 with grouping on.

Number of classes and multi-label are recorded with the inputs (they are shown beside the
decision) but did not need to change it in the measurements. A value the user set always
wins; the record says which outputs were derived and which were set.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

MIN_STEPS = 500
MAX_EPOCHS = 10
CPU_MAX_LENGTH = 256
GPU_MAX_LENGTH = 512
EVALS_PER_EPOCH = 4
EVALS_PER_MIN_BUDGET = 10
MIN_MAX_LENGTH = 16
LENGTH_CLASS_SHARE_MAX = 0.2  # above: text length tells the class apart, so length-sorted batches are one-class runs
RULE = "train_defaults v2"  # v1 (no length-grouping decision) collapsed on the user-like file


def round_length(p: float, limit: int) -> int:
    """A token length rounded up to a multiple of 8 (friendly matrix shapes), within [16, limit]."""
    return int(max(MIN_MAX_LENGTH, min(int(limit), 8 * math.ceil(float(p) / 8))))


def length_class_share(lengths: Sequence[int], label_ids: Sequence[int]) -> float:
    """Share of the token-length variance the class explains (η²): 0 when length says nothing about
    the class (review polarity), near 1 when it decides it (a file whose "plot" rows are all cut
    at 280 characters and whose reviews are short). Length-grouped batching sorts each group of
    50 batches by length, so on such data it feeds the model runs of one-class batches."""
    x = np.asarray(lengths, dtype=np.float64)
    y = np.asarray(label_ids)
    if len(x) < 2 or len(x) != len(y) or x.var() == 0:
        return 0.0
    between = sum((y == c).sum() * (x[y == c].mean() - x.mean()) ** 2 for c in np.unique(y)) / len(x)
    return float(between / x.var())


def derived_epochs(n_train: int, batch_size: int, min_steps: int = MIN_STEPS) -> float:
    """Epochs that reach ``min_steps`` optimisation steps: at least 1, at most ``MAX_EPOCHS``."""
    return float(min(MAX_EPOCHS, max(1, math.ceil(min_steps / math.ceil(max(1, n_train) / batch_size)))))


def derive(n_train: int, n_classes: int, multi_label: bool, token_lengths: Mapping[str, Any] | None,
           batch_size: int, *, min_steps: int = MIN_STEPS, on_cpu: bool = True, model_max_length: int = 512,
           epochs: float | None = None, max_length: int | None = None, eval_every: int | None = None,
           group_by_length: bool | None = None, length_share: float | None = None) -> dict[str, Any]:
    """The derived training settings and a record of why: ``{"rule", "inputs", "outputs", "derived", "why"}``.

    ``token_lengths``: percentiles of the train texts' token lengths (``p95`` used; as
    ``data.token_length_percentiles`` returns them); None when unknown (max_length is then not
    derived). ``epochs`` / ``max_length`` / ``eval_every``: the user's values, which win.
    """
    if n_train < 1:
        raise ValueError(f"the train split is empty: nothing to fine-tune on (n_train={n_train})")
    if batch_size < 1 or min_steps < 1:
        raise ValueError(f"batch_size and min_steps must be ≥ 1, got {batch_size} and {min_steps}")
    steps_per_epoch = math.ceil(n_train / batch_size)
    derived = []
    if epochs is None:
        epochs = derived_epochs(n_train, batch_size, min_steps)
        derived.append("epochs")
    max_steps = max(1, math.ceil(steps_per_epoch * epochs))
    if eval_every is None:
        eval_every = max(1, math.ceil(steps_per_epoch / EVALS_PER_EPOCH))
        if "epochs" in derived:  # several short epochs: space evaluations over the minimum budget instead
            eval_every = min(max(eval_every, math.ceil(min_steps / EVALS_PER_MIN_BUDGET)), max_steps)
        derived.append("eval_every")
    cap = min(CPU_MAX_LENGTH if on_cpu else GPU_MAX_LENGTH, int(model_max_length))
    p95 = (token_lengths or {}).get("p95")
    if max_length is None and p95 is not None:
        max_length = round_length(p95, cap)
        derived.append("max_length")
    if group_by_length is None and length_share is not None:  # unknown before the job has the texts
        group_by_length = length_share <= LENGTH_CLASS_SHARE_MAX
        derived.append("group_by_length")
    inputs = {"n_train": int(n_train), "n_classes": int(n_classes), "multi_label": bool(multi_label),
              "token_p50": (token_lengths or {}).get("p50"), "token_p95": p95,
              "token_max": (token_lengths or {}).get("max"), "batch_size": int(batch_size),
              "min_steps": int(min_steps), "device": "cpu" if on_cpu else "gpu", "max_length_cap": cap,
              "length_class_share": None if length_share is None else round(float(length_share), 3)}
    outputs = {"epochs": float(epochs), "steps_per_epoch": steps_per_epoch, "max_steps": max_steps,
               "eval_every": int(eval_every), "max_length": max_length, "group_by_length": group_by_length}
    return {"rule": RULE, "inputs": inputs, "outputs": outputs, "derived": derived,
            "why": why(inputs, outputs, derived)}


def why(inputs: Mapping[str, Any], outputs: Mapping[str, Any], derived: list[str]) -> str:
    """One line a user reads before queueing: what was decided from what."""
    n, spe, ep = inputs["n_train"], outputs["steps_per_epoch"], outputs["epochs"]
    if "epochs" in derived:
        part = f"{n:,} train texts = {spe:,} steps an epoch (batch {inputs['batch_size']})"
        if spe >= inputs["min_steps"]:
            part += f": one pass is enough for the {inputs['min_steps']:,}-step minimum"
        elif spe * ep < inputs["min_steps"]:
            part += f", so {ep:g} epochs (the cap) give {outputs['max_steps']:,} of the {inputs['min_steps']:,} steps"
        else:
            part += f", so {ep:g} epochs reach the {inputs['min_steps']:,}-step minimum"
    else:
        part = f"{ep:g} epoch(s) as set ({outputs['max_steps']:,} steps)"
    part += f"; early stopping on validation macro-F1 (checked every {outputs['eval_every']:,} steps) may end sooner"
    ml = outputs.get("max_length")
    if "max_length" in derived:
        cut = " (capped for cost)" if ml < (inputs["token_p95"] or 0) else ""
        part += f"; max_length {ml} from the p95 token length {inputs['token_p95']}{cut}"
    elif ml:
        part += f"; max_length {ml} as set"
    if "group_by_length" in derived and not outputs["group_by_length"]:
        part += (f"; random batches: text length predicts the class (η² {inputs['length_class_share']:.2f}), so "
                 "length-grouped batches would come in one-class runs")
    return part


def from_dataset_info(info: Mapping[str, Any] | None, config: Mapping[str, Any], on_cpu: bool = True
                      ) -> dict[str, Any] | None:
    """The rule applied to a prepared dataset's ``dataset.json`` before anything is tokenised (the Runs
    page, the duration estimate): train size after ``max_train_samples``, the stored token lengths
    (the prepare-time tokenizer, MiniLM's unless set otherwise). None when the info is missing."""
    if not info:
        return None
    sizes = info.get("sizes") or {}
    n_train = int(sizes.get("train") or info.get("n_train") or 0)
    cap = config.get("max_train_samples")
    n = min(n_train, int(cap)) if cap else n_train
    if n < 1:
        return None
    stats = info.get("stats") or {}
    tokens = (stats.get("tokens") or {}).get("train")
    labels = info.get("labels") or []
    return derive(n, len(labels), info.get("task") == "multi_label", tokens, int(config.get("batch_size") or 16),
                  min_steps=int(config.get("min_steps") or MIN_STEPS), on_cpu=on_cpu,
                  epochs=config.get("epochs"), max_length=config.get("max_length"),
                  eval_every=config.get("eval_every"), group_by_length=config.get("group_by_length"))
