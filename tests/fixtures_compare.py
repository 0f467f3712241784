"""Fixtures of the comparison/export area: real runs made by the pipeline, on two different splits.

``two_runs`` reuses the training area's session runs (``minilm_full_run``, ``minilm_lora_run``
in tests/fixtures_runs.py) when they exist, so the suite trains them once; otherwise it makes
two tiny runs itself through the same job path (``jobs.run_now``). ``other_split_run`` is a
tiny real fine-tune on a second dataset (``genres_small``, multi-label): a run the comparison
must refuse to mix with the others, and a multi-label run for the charts.
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


def run_id_of(value: Any) -> str:
    """A run id from whatever a run fixture returns (an id, a store row, a dict or an object)."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return value.get("run_id") or value["id"]
    for attr in ("run_id", "id"):
        if isinstance(getattr(value, attr, None), str):
            return getattr(value, attr)
    raise TypeError(f"cannot find a run id in {value!r}")


def tiny_run(dataset_id: str, method: str, name: str, **overrides: Any) -> str:
    from pipelines.configs import FinetuneConfig
    from pipelines.jobs import run_now

    cfg = FinetuneConfig(dataset=dataset_id, method=method, run_name=name, **{**TINY, **overrides})
    job = run_now("finetune", cfg.to_dict())
    assert job["status"] == "done", job["error"]
    return job["run_id"]


@pytest.fixture(scope="session")
def two_runs(request, rt_small) -> RunSet:
    """Two real runs on rt_small's split (full fine-tune and LoRA of MiniLM)."""
    try:
        ids = [run_id_of(request.getfixturevalue(name)) for name in ("minilm_full_run", "minilm_lora_run")]
    except pytest.FixtureLookupError:
        ids = [tiny_run(rt_small.id, "full", "MiniLM full"), tiny_run(rt_small.id, "lora", "MiniLM LoRA")]
    from pipelines.store import Store

    store = Store()
    rows = [store.run(i) for i in ids]
    assert all(rows) and len({r["split_hash"] for r in rows}) == 1
    return RunSet(rows[0]["dataset_id"], ids)


@pytest.fixture(scope="session")
def other_split_run(genres_small) -> str:
    """A real run on another dataset's split (multi-label movie genres)."""
    return tiny_run(genres_small.id, "full", "Genres MiniLM", max_train_samples=32)
