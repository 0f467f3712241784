"""Speed figures and the load they were measured under.

Why: on a shared machine a latency figure measures the neighbours as much as the model. The
issue that asked for this saw SmolLM2 few-shot get the ★ for latency (267 ms/text) while the
same model zero-shot showed 8,048 ms: the two were measured under different load, not with
different speed. So every measurement (:func:`pipelines.evaluate.measure_speed`) records the
machine's load through :class:`LoadProbe`, the table only stars speed figures measured under
similar load (:func:`comparable_mask`), and ``runs measure-speed`` (the ``speed`` job kind,
:mod:`pipelines.speed_job`) measures again later, one job at a time.

Re-measured figures never go into the finished run folder (its files are written once): they
are kept in the store's kv, namespace ``speed``, one document per run
(``{"measurements": [speed dict, ...]}``), and :func:`apply_measurements` puts the preferred
figure (the newest uncontended one; else the least loaded) into the comparison frame.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Mapping
from typing import Any

import pandas as pd

#: other work above this share of the cores counts as contention (see :class:`LoadProbe`)
CONTENTION_RATIO = 0.75
#: load bands (other work per core): figures are starred against each other only within one band
BANDS = ((CONTENTION_RATIO, "quiet"), (2.0, "busy"), (math.inf, "overloaded"))
NAMESPACE = "speed"
KEEP = 10  # measurements kept per run in the kv


def cores() -> int:
    """Cores this process may run on (the affinity mask, which containers and taskset narrow)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


class LoadProbe:
    """Started before a measurement, read after it: the machine's load and this process's share.

    ``os.getloadavg()`` counts this process's own threads too, and a job measures speed right
    after scoring the test split on every core, so the raw 1-minute load of a quiet 2-core
    machine reads about 2 and would flag every run. The probe therefore subtracts what this
    process kept busy during the measurement (its CPU seconds over the wall seconds) and calls
    the rest ``others_load``: runnable work of other processes, in cores.

    A measurement is flagged ``contended`` when that other work exceeds
    ``CONTENTION_RATIO`` (0.75) of the cores: above three quarters, at least one core is
    shared most of the time, batch-1 latency (a few milliseconds of work, then a wait) starts
    to measure the scheduler's time slices instead of the model, and repeated figures spread
    several-fold. Below it the spread stays within the usual few percent of a quiet run.
    """

    def __init__(self) -> None:
        self.t0 = time.perf_counter()
        self.cpu0 = time.process_time()
        self.load0 = _loadavg()

    def finish(self) -> dict[str, Any]:
        wall = max(time.perf_counter() - self.t0, 1e-9)
        own = max(0.0, (time.process_time() - self.cpu0) / wall)
        load1 = _loadavg()
        n = cores()
        out: dict[str, Any] = {"load_1m": load1[0], "load_5m": load1[1], "load_1m_before": self.load0[0],
                               "cores": n, "own_cpu": round(own, 3), "measured_at": time.time()}
        if load1[0] is None:  # no load average on this platform: unknown, never flagged
            out.update(others_load=None, contended=None, band=None)
            return out
        others = max(0.0, load1[0] - own)
        out.update(others_load=round(others, 3), contended=others > CONTENTION_RATIO * n,
                   band=band(others / n))
        return out


def _loadavg() -> tuple[float | None, float | None]:
    try:
        one, five, _ = os.getloadavg()
        return round(one, 3), round(five, 3)
    except (AttributeError, OSError):
        return None, None


def band(per_core: float | None) -> str | None:
    """``quiet`` (other work ≤ 0.75 of the cores), ``busy`` (≤ 2 per core) or ``overloaded``."""
    if per_core is None or not math.isfinite(per_core):
        return None
    return next(name for limit, name in BANDS if per_core <= limit)


def band_of(speed: Mapping[str, Any] | None) -> str | None:
    """The load band of a speed dict (None for figures measured before loads were recorded)."""
    if not speed:
        return None
    if speed.get("band"):
        return str(speed["band"])
    if speed.get("others_load") is not None and speed.get("cores"):
        return band(float(speed["others_load"]) / float(speed["cores"]))
    return None


def comparable_mask(bands: pd.Series) -> pd.Series:
    """Which speed figures may compete for the ★: those of the quietest band present.

    Figures with no recorded load (runs made before this) compete only when no figure has one.
    """
    known = [b for _, b in BANDS if (bands == b).any()]
    if not known:
        return pd.Series(True, index=bands.index)
    return bands == known[0]


# ------------------------------------------------------------ re-measured figures (kv)
def record(store: Any, run_id: str, speed: Mapping[str, Any]) -> None:
    """Append a re-measured speed dict to the run's kv document (the newest ``KEEP`` are kept)."""
    def add(doc: Any) -> dict[str, Any]:
        items = list((doc or {}).get("measurements") or [])
        items.append(dict(speed))
        return {"measurements": items[-KEEP:]}

    store.update(NAMESPACE, run_id, add, default={})


def measurements(store: Any, run_id: str, metrics: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    """Every speed figure of a run: the one in metrics.json (measured at the end of the job), then the kv's."""
    out = []
    if metrics and isinstance(metrics.get("speed"), Mapping):
        out.append({**metrics["speed"], "source": "run"})
    for m in (store.get(NAMESPACE, run_id) or {}).get("measurements") or []:
        out.append({**m, "source": "re-measured"})
    return out


def preferred(items: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The newest uncontended measurement; else the one measured under the least other work."""
    if not items:
        return None
    calm = [m for m in items if m.get("contended") is False]
    if calm:
        return max(calm, key=lambda m: m.get("measured_at") or 0)
    loaded = [m for m in items if m.get("others_load") is not None and m.get("cores")]
    if loaded:
        return min(loaded, key=lambda m: float(m["others_load"]) / float(m["cores"]))
    return items[-1]


def apply_measurements(store: Any, frame: pd.DataFrame, metrics: Mapping[str, Mapping[str, Any]]) -> None:
    """Put each run's preferred speed figure and its load into the comparison frame (in place).

    Adds ``speed_band`` (quiet/busy/overloaded/None), ``speed_contended``, ``speed_load``
    (other work per core) and ``speed_source`` (run or re-measured); overrides ``latency_ms``
    and ``throughput`` when a re-measured figure is preferred.
    """
    for col in ("speed_band", "speed_contended", "speed_load", "speed_source"):
        frame[col] = pd.Series([None] * len(frame), index=frame.index, dtype=object)
    for rid in frame.index:
        best = preferred(measurements(store, rid, metrics.get(rid)))
        if best is None:
            continue
        if best["source"] == "re-measured":
            for key in ("latency_ms", "throughput"):
                if key in frame.columns and best.get(key) is not None:
                    frame.at[rid, key] = float(best[key])
        load = best.get("others_load")
        frame.at[rid, "speed_band"] = band_of(best)
        frame.at[rid, "speed_contended"] = best.get("contended")
        frame.at[rid, "speed_load"] = None if load is None else float(load) / float(best.get("cores") or 1)
        frame.at[rid, "speed_source"] = best["source"]
