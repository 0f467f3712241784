"""Which runs a comparison holds: all on one test split, or refused with who is on which split.

Why the split check is strict: two runs are comparable only when they were scored on the
identical test examples. The store records each run's ``split_hash`` (a content hash of the
dataset's three splits), so a mix of hashes is refused with the list of which run is on
which split, instead of producing a table whose rows silently mean different things.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .store import Store


class MixedSplitsError(ValueError):
    """Runs on different test splits were asked to be compared."""


def _short(split_hash: str) -> str:
    return str(split_hash)[:8]


def check_same_split(rows: Sequence[dict[str, Any]]) -> str:
    """Return the one split hash shared by ``rows``; raise MixedSplitsError naming who is on which split."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault(r["split_hash"], []).append(r)
    if len(groups) <= 1:
        return next(iter(groups), "")
    parts = []
    for h, members in groups.items():
        ids = ", ".join(m["id"] for m in members)
        datasets = sorted({m["dataset_id"] for m in members})
        parts.append(f"{ids} on {'/'.join(datasets)} (split {_short(h)})")
    raise MixedSplitsError(
        "cannot compare runs on different test splits: " + "; ".join(parts)
        + ". Metrics are only comparable on the identical test examples: choose runs of one dataset split.")


def select_runs(store: Store, dataset_id: str | None = None,
                run_ids: Sequence[str] | None = None) -> tuple[list[dict[str, Any]], list[str]]:
    """The store rows of the runs to compare (all on one split) and notes on what was left out.

    ``run_ids`` wins when given (every id must exist, all on one split, and on ``dataset_id`` if
    both are given). With ``dataset_id`` alone: the runs on that dataset's current split (runs
    on an older split of the same dataset are left out, with a note). With neither: all runs
    when they share one split, else an error asking to choose a dataset.
    """
    notes: list[str] = []
    if run_ids:
        rows, missing = [], []
        for rid in dict.fromkeys(run_ids):
            row = store.run(rid)
            if row:
                rows.append(row)
            else:
                missing.append(rid)
        if missing:
            raise ValueError(f"unknown run id(s): {', '.join(missing)}; list runs with `python -m pipelines runs list`")
        check_same_split(rows)
        if dataset_id and any(r["dataset_id"] != dataset_id for r in rows):
            other = [r["id"] for r in rows if r["dataset_id"] != dataset_id]
            raise MixedSplitsError(f"run(s) {', '.join(other)} are not on dataset {dataset_id!r}; "
                                   "drop --dataset or choose runs of that dataset")
        return rows, notes

    all_rows = store.runs()
    if dataset_id:
        rows = [r for r in all_rows if r["dataset_id"] == dataset_id]
        ds = store.dataset(dataset_id)
        if ds is None and not rows:
            known = sorted({r["dataset_id"] for r in all_rows} | {d["id"] for d in store.datasets()})
            raise ValueError(f"unknown dataset {dataset_id!r}" + (f"; known: {', '.join(known)}" if known else
                                                                   "; prepare one with `python -m pipelines data prepare`"))
        if ds is not None:
            current = ds["split_hash"]
        else:  # dataset row gone: the most recent split that has runs
            current = rows[-1]["split_hash"]
        old = [r for r in rows if r["split_hash"] != current]
        if old:
            hashes = ", ".join(sorted({_short(r["split_hash"]) for r in old}))
            notes.append(f"{len(old)} run(s) of {dataset_id} on an older split ({hashes}) left out, not comparable "
                         f"with the current split {_short(current)}: {', '.join(r['id'] for r in old)}")
        return [r for r in rows if r["split_hash"] == current], notes

    hashes = {r["split_hash"] for r in all_rows}
    if len(hashes) > 1:
        datasets = sorted({r["dataset_id"] for r in all_rows})
        raise ValueError(f"the store holds runs on {len(hashes)} different splits; choose one dataset "
                         f"(--dataset {' | '.join(datasets)}) or give --runs")
    return all_rows, notes
