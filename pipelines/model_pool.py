"""The predictor service's warm models: run id → loaded predictor, under a memory budget.

A model's cost is the resident-memory growth while it loaded, floored at its weight files'
size; when a new one does not fit, the least recently used ones are evicted first.
"""

from __future__ import annotations

import gc
import logging
import os
import resource
import time
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .finish import dir_size_mb
from .store import Store

log = logging.getLogger(__name__)

DEFAULT_BUDGET_MB = 4096.0


def rss_mb() -> float:
    """Current resident set size of this process in MB (Linux /proc, else the peak)."""
    try:
        with open("/proc/self/statm") as fh:
            pages = int(fh.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 1e6
    except (OSError, ValueError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3


class ModelPool:
    """Run id → loaded predictor, least recently used first out when the budget is exceeded.

    ``loader(run_id) -> (predictor, weights_mb)`` does the actual loading; the pool measures
    what it cost. A single model larger than the budget is still served (alone): refusing it
    would make the playground useless for exactly the big models users want to try.
    """

    def __init__(self, loader: Callable[[str], tuple[Any, float]], budget_mb: float = DEFAULT_BUDGET_MB):
        self.loader = loader
        self.budget_mb = float(budget_mb)
        self._models: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self.evictions: list[str] = []

    def used_mb(self) -> float:
        return sum(m["mb"] for m in self._models.values())

    def loaded(self) -> list[dict[str, Any]]:
        """Warm models, least recently used first."""
        return [{"run_id": k, "mb": round(v["mb"], 1), "load_ms": round(v["load_ms"], 1), "last_used": v["last_used"]}
                for k, v in self._models.items()]

    def __contains__(self, run_id: str) -> bool:
        return run_id in self._models

    def get(self, run_id: str) -> tuple[Any, float]:
        """The predictor for ``run_id`` and how long loading it took now (0 when it was warm)."""
        if run_id in self._models:
            self._models.move_to_end(run_id)
            entry = self._models[run_id]
            entry["last_used"] = time.time()
            return entry["predictor"], 0.0
        before = rss_mb()
        t0 = time.perf_counter()
        predictor, weights_mb = self.loader(run_id)
        load_ms = (time.perf_counter() - t0) * 1e3
        cost = max(rss_mb() - before, weights_mb, 1.0)
        self._models[run_id] = {"predictor": predictor, "mb": cost, "load_ms": load_ms, "last_used": time.time()}
        self._evict_to_budget(keep=run_id)
        log.info("loaded %s in %.0f ms (~%.0f MB; %d warm, %.0f/%.0f MB)", run_id, load_ms, cost,
                 len(self._models), self.used_mb(), self.budget_mb)
        return predictor, load_ms

    def _evict_to_budget(self, keep: str) -> None:
        while self.used_mb() > self.budget_mb and len(self._models) > 1:
            victim = next(k for k in self._models if k != keep)
            self.evict(victim)

    def evict(self, run_id: str) -> None:
        entry = self._models.pop(run_id, None)
        if entry is None:
            return
        del entry
        gc.collect()
        self.evictions.append(run_id)
        log.info("evicted %s (LRU, budget %.0f MB)", run_id, self.budget_mb)


def store_loader(store: Store) -> Callable[[str], tuple[Any, float]]:
    """Load a run's predictor from the folder the store points at."""
    from .predictor import load_run_predictor

    def load(run_id: str) -> tuple[Any, float]:
        row = store.run(run_id)
        if row is None:
            raise KeyError(f"no run {run_id!r} in the store")
        folder = Path(row["path"])
        if not folder.exists():
            raise FileNotFoundError(f"run folder {folder} is missing; delete the run or restore the folder")
        return load_run_predictor(folder), dir_size_mb(folder / "model")

    return load
