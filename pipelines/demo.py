"""The default comparison: what ``make run`` and the dashboard's one button queue.

Every run kind names its own demo configs (``RunKind.presets``); the demo is their union on
one dataset. Profiles: ``default`` is the first impression: the TF-IDF reference, SmolLM2 zero-
and few-shot on the whole test split, MiniLM full and LoRA on the same 2,000 sampled train
texts, MPNet LoRA on 1,500 texts cut to 40 tokens (sizes and why: ``finetune.demo_configs``);
``full`` is the same comparison with one epoch over the whole train split, one click away on
Home (the reference and LLM jobs are the same configs, so they run once); ``tiny`` is the same
shape shrunk to seconds for tests and the browser check. The queue runs them cheapest first
(``RunKind.cost``), so Compare has the reference and both MiniLM runs within ~3 minutes.

Queuing is idempotent: a config that already has a queued, running or done job is skipped,
comparing configs with their defaults filled in, so an upgrade that adds a config field
never re-trains finished runs.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from . import kinds
from .jobs import submit
from .store import Store

log = logging.getLogger(__name__)

DEFAULT_DATASET = "rotten_tomatoes"
PROFILES = ("default", "full", "tiny")
# Minutes, empty workspace to the whole demo done on 2 idle cores with the model cache warm,
# projected from the per-job rates measured on an idle machine (the kinds' ``cost`` figures plus
# ~20 s of preparing and starting jobs); bench/e2e.py measures it (bench/RESULTS.md: on the shared
# machine the run was too loaded to confirm it). Home states them beside the buttons.
EXPECTED_MIN = {"default": 11, "full": 23}


def demo_jobs(profile: str = "default", dataset: str = DEFAULT_DATASET) -> list[tuple[str, dict[str, Any]]]:
    """(kind, config) pairs of the demo comparison for a profile."""
    if profile not in PROFILES:
        raise ValueError(f"unknown demo profile {profile!r}: use one of {', '.join(PROFILES)}")
    return [(k.name, cfg) for k in kinds.KINDS.values() for cfg in k.presets(dataset, profile)]


def queue_demo(store: Store | None = None, profile: str = "default", dataset: str = DEFAULT_DATASET) -> list[int]:
    """Enqueue the demo jobs that are not already queued, running or done; return new job ids."""
    from .data import DataSpec

    store = store or Store()
    existing = set()
    for j in store.jobs(status=("queued", "running", "done"), limit=10_000):
        try:
            existing.add(_key(j["kind"], j["config"]))
        except ValueError:  # a job of a kind or config this version no longer knows: not a demo job
            continue
    jobs = demo_jobs(profile, dataset)
    if store.dataset(dataset) is None:
        # Prepared by the worker ahead of everything else (a prepare job costs nothing: it runs first).
        jobs.insert(0, ("prepare", DataSpec(source=dataset).to_dict()))
    new_ids = []
    for kind, config in jobs:
        if _key(kind, config) in existing:
            log.info("demo: %s %s already queued or done, skipped", kind, config.get("run_name"))
            continue
        new_ids.append(submit(store, kind, config))
    return new_ids


def _key(kind: str, config: dict[str, Any]) -> tuple[str, str]:
    return kind, json.dumps(kinds.get(kind).normalise(config), sort_keys=True)


def sizes(kind: str, config: dict[str, Any]) -> str:
    """What a demo job is trained or scored on, in words (Home states these beside the button)."""
    if kind == "prompt":
        n = config.get("max_test_samples")
        return f"first {n:,} test texts" if n else "whole test split"
    if kind == "finetune":
        n = config.get("max_train_samples")
        bits = [f"{n:,} train texts" if n and n < 10_000 else "whole train split (≤ 10,000)",
                f"{config.get('epochs') or 1:g} epoch"]
        if config.get("max_length"):
            bits.append(f"≤ {config['max_length']} tokens")
        return ", ".join(bits)
    return "whole train split"
