"""Energy and CO2 of each job phase, measured by CodeCarbon offline and charged to the job.

``with track(folder, "train", "FRA") as em: ...`` runs one ``OfflineEmissionsTracker`` that
appends a row (project_name = phase) to ``folder/emissions.csv`` and fills ``em`` on exit.

Why the extra bookkeeping around CodeCarbon:

- *Which method measured power* is not in CodeCarbon's CSV, yet it decides how much the
  figure can be trusted (RAPL counters vs. a load × TDP estimate vs. a constant). We read
  it from the tracker's hardware objects after ``start()``. On these machines there is no
  RAPL and the CPU is not in the TDP table, so CPU power is ``cpu_load`` × an assumed
  4 W/thread unless ``cpu_power_watts`` forces a TDP; RAM is a constant ~20 W estimate.
- *One tracker at a time per process*: a second concurrent tracker would measure the same
  machine again (double counting), so a nested ``track`` raises instead. Across processes
  CodeCarbon's ``allow_multiple_runs=True`` (its default) is kept on purpose: ``False``
  leaves a stale lock file after a SIGKILL and then silently records nothing.
- *Whose energy*: CodeCarbon runs in process mode, and the phase's figures are charged by
  the job's own CPU time (:mod:`pipelines.attribution`), so other work on the machine does
  not inflate a run; CodeCarbon's raw figures are kept beside them.
- ``stop()`` returning ``None`` means "not measured" (tracker failed to start, lock held…):
  recorded as ``measured=False`` with ``energy_kwh=None``, never as zero energy.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Iterator, Sequence
from functools import cache
from pathlib import Path
from typing import Any

from . import attribution
from .runfolder import RunFolder

log = logging.getLogger(__name__)

EMISSIONS_FILE = RunFolder.EMISSIONS  # CodeCarbon writes its CSV straight into the run folder layout
DEFAULT_MEASURE_POWER_SECS = 5.0

_lock = threading.Lock()
_active: dict[str, str] = {}


class TrackingActive(RuntimeError):
    """A phase was tracked while another tracker runs in this process."""


def _empty_record(phase: str, country_iso_code: str) -> dict[str, Any]:
    return {"phase": phase, "energy_kwh": None, "co2_kg": None, "duration_s": None, "cpu_power_w": None,
            "ram_power_w": None, "gpu_power_w": None, "cpu_method": None, "ram_method": None, "gpu_method": None,
            "cpu_model": None, "gpu_model": None, "cpu_count": None, "measured": False,
            "country_iso_code": country_iso_code}


@cache
def known_countries() -> frozenset[str]:
    """ISO-3 codes CodeCarbon has an electricity mix for (offline data shipped with it)."""
    from codecarbon.input import DataSource

    return frozenset(DataSource().get_global_energy_mix_data())


def check_country(code: str) -> str:
    """Refuse a country CodeCarbon does not know: it would silently fall back to a world average."""
    code = (code or "").strip().upper()
    try:
        known = known_countries()
    except Exception:  # data file moved in a future version: let CodeCarbon decide
        return code
    if code not in known:
        raise ValueError(f"unknown country_iso_code {code!r}: use an ISO 3166 alpha-3 code such as FRA, DEU, USA, "
                         "GBR (it sets the CO2 intensity of electricity)")
    return code


def check_settings(country_iso_code: str, cpu_power_watts: float | None = None) -> str:
    """Validate a job's emission settings up front (before any training); returns the country code."""
    if cpu_power_watts is not None and not cpu_power_watts > 0:
        raise ValueError(f"cpu_power_watts must be > 0 (the CPU's TDP in watts), got {cpu_power_watts}")
    return check_country(country_iso_code)


@contextlib.contextmanager
def track(folder: str | Path, phase: str, country_iso_code: str = "FRA", cpu_power_watts: float | None = None,
          measure_power_secs: float = DEFAULT_MEASURE_POWER_SECS) -> Iterator[dict[str, Any]]:
    """Track one phase ("train", "eval", …); yields a dict that is filled when the block exits.

    The block's own exceptions propagate after the tracker is stopped (the partial phase is
    still written to the CSV). A tracker that cannot start never hides the work: the block
    runs and the phase is recorded as not measured.
    """
    country_iso_code = check_settings(country_iso_code, cpu_power_watts)
    if not _lock.acquire(blocking=False):
        raise TrackingActive(
            f"emissions phase {_active.get('phase')!r} is already being tracked in this process; tracking "
            f"{phase!r} inside it would count the same energy twice. Track phases one after the other.")
    _active["phase"] = phase
    record = _empty_record(phase, country_iso_code)
    tracker = None
    t0 = time.perf_counter()
    try:
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        try:
            tracker = _start_tracker(folder, phase, country_iso_code, cpu_power_watts, measure_power_secs)
            record.update(describe_methods(tracker, cpu_power_watts))
        except Exception as exc:  # energy is a side measurement: never fail the job for it
            log.warning("CodeCarbon could not start for phase %s (%s); energy not measured", phase, exc)
            tracker = None
        # the job's CPU time is read around the block only: the tracker's own start and stop are not the job's
        cpu0, busy0 = attribution.tree_cpu_seconds(), attribution.machine_busy_seconds()
        try:
            yield record
        finally:
            cpu_s, busy_s = attribution.tree_cpu_seconds() - cpu0, attribution.machine_busy_seconds() - busy0
            record["duration_s"] = time.perf_counter() - t0
            if tracker is not None:
                _stop_tracker(tracker, record)
            if record["measured"]:
                record.update(attribution.attribute(record, cpu_s, busy_s))
    finally:
        _active.clear()
        _lock.release()


def _start_tracker(folder: Path, phase: str, country_iso_code: str, cpu_power_watts: float | None,
                   measure_power_secs: float) -> Any:
    from codecarbon import OfflineEmissionsTracker

    logging.getLogger("codecarbon").setLevel(logging.ERROR)
    kwargs: dict[str, Any] = {}
    if cpu_power_watts is not None:
        kwargs["force_cpu_power"] = float(cpu_power_watts)
    tracker = OfflineEmissionsTracker(
        country_iso_code=country_iso_code, output_dir=str(folder), output_file=EMISSIONS_FILE,
        project_name=phase, measure_power_secs=measure_power_secs, log_level="error", save_to_file=True,
        tracking_mode="process", **kwargs)
    tracker.start()
    return tracker


def _stop_tracker(tracker: Any, record: dict[str, Any]) -> None:
    try:
        emissions = tracker.stop()
    except Exception as exc:
        log.warning("CodeCarbon stop failed for phase %s: %s", record["phase"], exc)
        emissions = None
    data = getattr(tracker, "final_emissions_data", None)
    if emissions is None or data is None:
        log.warning("CodeCarbon recorded nothing for phase %s; energy marked as not measured", record["phase"])
        return
    record.update({
        "measured": True,
        "energy_kwh": float(data.energy_consumed),
        "co2_kg": float(data.emissions),
        "duration_s": float(data.duration),
        "cpu_power_w": float(data.cpu_power),
        "ram_power_w": float(data.ram_power),
        "gpu_power_w": float(data.gpu_power),
        "cpu_energy_kwh": float(data.cpu_energy),
        "ram_energy_kwh": float(data.ram_energy),
        "gpu_energy_kwh": float(data.gpu_energy),
        "cpu_model": data.cpu_model,
        "gpu_model": data.gpu_model or None,
        "cpu_count": data.cpu_count,
    })


@cache
def _tdp_table_watts(model: str) -> float | None:
    """TDP of this CPU model in CodeCarbon's table, or None when it is not listed."""
    try:
        from codecarbon.core import cpu
        from codecarbon.core.hardware_cache import get_cached_tdp

        return get_cached_tdp(cpu)._get_cpu_power_from_registry(model)
    except Exception:  # private API: if it moves, we just cannot tell table vs assumed
        return None


def _gpu_backend() -> str:
    try:
        from codecarbon.core import gpu

        return "nvml" if gpu.is_nvidia_system() else "amdsmi" if gpu.is_rocm_system() else "gpu"
    except Exception:
        return "gpu"


def describe_methods(tracker: Any, cpu_power_watts: float | None = None) -> dict[str, Any]:
    """Which method measures CPU, RAM and GPU power, read from a started tracker's hardware.

    Values: cpu_method ∈ {"rapl", "cpu_load:forced_tdp", "cpu_load:tdp_table", "cpu_load:assumed_4W_per_thread",
    "constant_tdp", "powermetrics", "power_gadget", "windows_emi", …}; ram_method ∈ {"constant_estimate",
    "forced"}; gpu_method ∈ {"nvml", "amdsmi", "powermetrics", "none"}.
    """
    cpu_method, ram_method, gpu_method = "none", "none", "none"
    cpu_tdp = None
    for hw in getattr(tracker, "_hardware", []):
        name = type(hw).__name__
        if name == "RAM":
            ram_method = "forced" if getattr(hw, "_force_ram_power", None) is not None else "constant_estimate"
        elif name == "CPU":
            mode = getattr(hw, "_mode", "unknown")
            cpu_tdp = getattr(hw, "_tdp", None)
            if mode == "intel_rapl":
                cpu_method = "rapl"
            elif mode in ("cpu_load", "constant"):
                if cpu_power_watts is not None:
                    source = "forced_tdp"
                elif getattr(hw, "_is_generic_tdp", False):
                    source = "generic_tdp"
                elif _tdp_table_watts(getattr(hw, "_model", "") or ""):
                    source = "tdp_table"
                else:
                    source = "assumed_4W_per_thread"
                cpu_method = f"cpu_load:{source}" if mode == "cpu_load" else f"constant_{source}"
            else:
                cpu_method = mode
        elif name == "GPU":
            gpu_method = _gpu_backend()
        elif name == "AppleSiliconChip":
            part = getattr(hw, "chip_part", "")
            if part == "GPU":
                gpu_method = "powermetrics"
            else:
                cpu_method = "powermetrics"
    return {"cpu_method": cpu_method, "ram_method": ram_method, "gpu_method": gpu_method, "cpu_tdp_w": cpu_tdp}


def combine(phases: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Totals over a run's phases; a total is None unless at least one phase was measured."""
    measured = [p for p in phases if p.get("measured")]
    return {
        "phases": list(phases),
        "total_energy_kwh": sum(p["energy_kwh"] for p in measured) if measured else None,
        "total_co2_kg": sum(p["co2_kg"] for p in measured) if measured else None,
        "duration_s": sum(p.get("duration_s") or 0.0 for p in phases),
        "measured": bool(phases) and len(measured) == len(phases),
        "country_iso_code": phases[0].get("country_iso_code") if phases else None,
    }
