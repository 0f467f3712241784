"""Fixtures of the comparison/export area: real runs made by the pipeline, on two different splits.

``two_runs`` is the training area's session runs (``minilm_full_run``, ``minilm_lora_run``
in tests/fixtures_runs.py, each a run id), so the suite trains them once. ``other_split_run``
is a tiny real fine-tune (``jobs.run_now``) on a second dataset (``genres_small``,
multi-label): a run the comparison must refuse to mix with the others, and a multi-label
run for the charts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

TINY = dict(model="minilm", max_train_samples=48, max_eval_samples=48, max_length=32, batch_size=16, epochs=1.0,
            eval_every=2)


@dataclass
class RunSet:
    dataset_id: str
    run_ids: list[str]


def tiny_run(dataset_id: str, method: str, name: str, **overrides: Any) -> str:
    from pipelines.configs import FinetuneConfig
    from pipelines.jobs import run_now

    cfg = FinetuneConfig(dataset=dataset_id, method=method, run_name=name, **{**TINY, **overrides})
    job = run_now("finetune", cfg.to_dict())
    assert job["status"] == "done", job["error"]
    return job["run_id"]


@pytest.fixture(scope="session")
def two_runs(minilm_full_run: str, minilm_lora_run: str) -> RunSet:
    """Two real runs on rt_small's split (full fine-tune and LoRA of MiniLM)."""
    ids = [minilm_full_run, minilm_lora_run]
    from pipelines.store import Store

    store = Store()
    rows = [store.run(i) for i in ids]
    assert all(rows) and len({r["split_hash"] for r in rows}) == 1
    return RunSet(rows[0]["dataset_id"], ids)


@pytest.fixture(scope="session")
def other_split_run(genres_small) -> str:
    """A real run on another dataset's split (multi-label movie genres)."""
    return tiny_run(genres_small.id, "full", "Genres MiniLM", max_train_samples=32)
