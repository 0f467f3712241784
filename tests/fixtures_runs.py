"""Fixtures that make real runs with the pipeline (owned by the training area).

``minilm_full_run`` and ``minilm_lora_run`` are run ids of tiny but real fine-tunes of MiniLM
on ``rt_small`` (real Trainer, real CodeCarbon, registered in the session's store through
``jobs.run_now``, the CLI's path). Other areas' tests (dashboard, Hub export, compare) reuse
them, so they are built once per session and kept cheap: a few hundred texts, max_length 64,
one epoch — still clearly above the majority class (tests/test_finetune.py checks it).
"""

from __future__ import annotations

from typing import Any

import pytest

# The smallest settings that still learn, measured on rt_small (majority 0.575): MiniLM's
# classifier sits on a pooler whose outputs are tiny, so a few dozen steps at the demo's
# learning rates stay at the majority class. With the default length-grouped batches, full
# fine-tune, 38 steps: lr 2e-4 → 0.642 (0.675 with random batches), lr 3e-4 → 0.750.
# LoRA: lr 3e-3 with batch 8 (75 steps) → 0.708 (0.742 random); with batch 16 (38 steps) it
# stayed at 0.575.
TINY_FULL: dict[str, Any] = dict(dataset="rt_small", model="minilm", method="full", max_train_samples=600,
                                 max_eval_samples=100, max_length=64, epochs=1.0, batch_size=16,
                                 learning_rate=3e-4, speed_samples=32, run_name="tiny MiniLM full")
TINY_LORA: dict[str, Any] = {**TINY_FULL, "method": "lora", "learning_rate": 3e-3, "batch_size": 8,
                             "run_name": "tiny MiniLM LoRA"}

def make_run(config: dict[str, Any]) -> str:
    from pipelines.jobs import run_now

    job = run_now("finetune", config)
    assert job["status"] == "done", f"fixture run failed: {job.get('error')}"
    return job["run_id"]


@pytest.fixture(scope="session")
def minilm_full_run(rt_small) -> str:
    """Run id of a full MiniLM fine-tune on rt_small (folder: pipelines.runs.run_dir(run_id))."""
    return make_run(TINY_FULL)


@pytest.fixture(scope="session")
def minilm_lora_run(rt_small) -> str:
    """Run id of a MiniLM LoRA fine-tune on rt_small."""
    return make_run(TINY_LORA)
