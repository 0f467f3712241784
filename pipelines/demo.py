"""The default comparison: what ``make run`` and the dashboard's one button queue.

Profiles: ``default`` is the real demo (MiniLM full, MiniLM LoRA, MPNet LoRA on the embedded
Rotten Tomatoes snippets, one epoch over the whole train split of 9,564 texts: the
FinetuneConfig defaults; plus SmolLM2 zero- and few-shot baselines); ``tiny`` is the same shape shrunk to seconds for tests and the browser check.

Queuing is idempotent: a config that already has a queued, running or done job is skipped,
so running ``make run`` twice trains nothing twice.
"""

from __future__ import annotations

import logging
from typing import Any

from .configs import FinetuneConfig
from .store import Store

log = logging.getLogger(__name__)

DEFAULT_DATASET = "rotten_tomatoes"


def demo_jobs(profile: str = "default", dataset: str = DEFAULT_DATASET) -> list[tuple[str, dict[str, Any]]]:
    """(kind, config) pairs of the demo comparison for a profile."""
    if profile not in ("default", "tiny"):
        raise ValueError(f"unknown demo profile {profile!r}: use 'default' or 'tiny'")
    tiny = profile == "tiny"
    shrink: dict[str, Any] = dict(max_train_samples=64, max_eval_samples=64, max_length=32, epochs=1.0) if tiny else {}
    encoders = [
        FinetuneConfig(dataset=dataset, model="minilm", method="full", run_name="MiniLM full", **shrink),
        FinetuneConfig(dataset=dataset, model="minilm", method="lora", run_name="MiniLM LoRA", **shrink),
    ]
    if not tiny:
        encoders.append(FinetuneConfig(dataset=dataset, model="mpnet", method="lora", run_name="MPNet LoRA"))
    jobs: list[tuple[str, dict[str, Any]]] = [("finetune", c.to_dict()) for c in encoders]
    try:
        from .prompting import demo_prompt_configs
    except ImportError:  # LLM baselines not installed in this build
        return jobs
    for cfg in demo_prompt_configs(dataset, tiny=tiny):
        jobs.append(("prompt", cfg))
    return jobs


def queue_demo(store: Store | None = None, profile: str = "default", dataset: str = DEFAULT_DATASET) -> list[int]:
    """Enqueue the demo jobs that are not already queued, running or done; return new job ids."""
    from .data import DataSpec

    store = store or Store()
    existing = {(j["kind"], _key(j["config"])) for j in store.jobs(status=("queued", "running", "done"), limit=10_000)}
    jobs = demo_jobs(profile, dataset)
    if store.dataset(dataset) is None:
        # Prepared by the worker, ahead of the training jobs (the queue runs in order).
        jobs.insert(0, ("prepare", DataSpec(source=dataset).to_dict()))
    new_ids = []
    for kind, config in jobs:
        if (kind, _key(config)) in existing:
            log.info("demo: %s %s already queued or done, skipped", kind, config.get("run_name"))
            continue
        new_ids.append(store.enqueue(kind, config))
    return new_ids


def _key(config: dict[str, Any]) -> str:
    import json

    return json.dumps(config, sort_keys=True)
