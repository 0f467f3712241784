"""Shortlists: the candidate models chosen for a dataset, kept in the store's key-value data.

One list per dataset (``Candidate`` dicts plus ``added_at``, in the order added), written by
``python -m pipelines shortlist add|remove`` and the dashboard's Models page, read by the
Models and Runs pages to offer those models for a run.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from .candidates import Candidate
from .store import Store

NAMESPACE = "shortlist"

# Read-modify-write of one list must not interleave: two clicks in the dashboard (threads of
# one process) would otherwise both read the old list and the later write drop an entry.

Entries = list[dict[str, Any]]


def shortlist(dataset_id: str, store: Store | None = None) -> Entries:
    """Candidates chosen for a dataset (Candidate dicts plus ``added_at``), in the order added."""
    return (store or Store()).get(NAMESPACE, dataset_id) or []


def _update(dataset_id: str, store: Store | None, change: Callable[[Entries], Entries]) -> Entries:
    return (store or Store()).update(NAMESPACE, dataset_id, lambda items: change(items or []), default=[])


def shortlist_add(dataset_id: str, candidate: Candidate | dict[str, Any], store: Store | None = None) -> Entries:
    """Add (or refresh) a candidate on a dataset's shortlist; returns the new list."""
    entry = candidate.to_dict() if isinstance(candidate, Candidate) else dict(candidate)
    if not entry.get("id"):
        raise ValueError("a shortlist entry needs the model id")
    entry.setdefault("model_ref", entry["id"])
    entry["added_at"] = time.time()

    def change(items: Entries) -> Entries:
        for i, old in enumerate(items):
            if old.get("id") == entry["id"]:
                entry["added_at"] = old.get("added_at", entry["added_at"])
                items[i] = entry
                return items
        return [*items, entry]

    return _update(dataset_id, store, change)


def shortlist_remove(dataset_id: str, model_id: str, store: Store | None = None) -> Entries:
    """Remove a model (by id or catalog name) from a dataset's shortlist; returns the new list."""
    def change(items: Entries) -> Entries:
        kept = [x for x in items if model_id not in (x.get("id"), x.get("name"), x.get("model_ref"))]
        if len(kept) == len(items):
            raise KeyError(f"{model_id} is not on the shortlist of {dataset_id}")
        return kept

    return _update(dataset_id, store, change)
