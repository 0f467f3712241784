"""Energy that belongs to the run: charged by the job's own CPU time, not by the machine's load.

CodeCarbon's default (machine mode) charges every process's CPU load to the tracked job:
measured here, a work-bound one-thread loop used 10.6× more CPU kWh when three busy loops
in *other* processes shared the machine, and its RAM figure (a constant power × wall time)
grows with every second the job waits for a core. Neither belongs to the run.

The convention, recorded on every phase (``attribution``) and named in every caption:

- **CPU**: the job's process tree's CPU-seconds × the power of one busy hardware thread
  (the CPU power CodeCarbon uses ÷ its thread count) — CodeCarbon's own process-mode
  coefficient, applied to exact CPU times read at the start and end of the phase (its
  sampler drops the first interval, so short phases would read as ~0). Where the energy is
  really measured (RAPL, powermetrics), the measured machine energy is shared out by the
  job's fraction of the machine's busy CPU time instead.
- **RAM**: RAM power × the job's CPU-seconds (not wall time), so waiting never adds energy.
- **GPU**: as measured; NVML energy is per device, not per process (said in the record).

The job must run in its own process so that "its process tree" holds nothing unrelated:
the local worker starts one process per job and is not itself charged. CodeCarbon's raw
figures (process mode) stay in the run's ``emissions.csv`` and under ``codecarbon`` here.
"""

from __future__ import annotations

import os
from typing import Any

import psutil

SCOPE = "process tree"
CONVENTION = "CPU and RAM charged by the job's own CPU time"
MEASURED_CPU = ("rapl", "powermetrics")


def tree_cpu_seconds(pid: int | None = None) -> float:
    """user + system CPU seconds of a process, its live descendants and its reaped children."""
    proc = psutil.Process(pid or os.getpid())
    own = proc.cpu_times()
    total = own.user + own.system + own.children_user + own.children_system
    for child in proc.children(recursive=True):
        try:
            t = child.cpu_times()
            total += t.user + t.system
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return total


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine spent busy (all processes), for sharing measured energy."""
    t = psutil.cpu_times()
    return sum(t) - t.idle - getattr(t, "iowait", 0.0)


def attribute(record: dict[str, Any], cpu_seconds: float, machine_busy_s: float) -> dict[str, Any]:
    """The phase's energy by the convention above, from a filled CodeCarbon record."""
    raw = {k: record.get(k) for k in ("energy_kwh", "cpu_energy_kwh", "ram_energy_kwh", "gpu_energy_kwh", "co2_kg")}
    cpu_method = str(record.get("cpu_method") or "")
    threads = record.get("cpu_count") or psutil.cpu_count() or 1
    if cpu_method in MEASURED_CPU:
        share = min(1.0, cpu_seconds / machine_busy_s) if machine_busy_s > 0 else 1.0
        cpu_kwh = (raw["cpu_energy_kwh"] or 0.0) * share
        cpu_rule = f"measured machine energy × the job's share of busy CPU time ({share:.0%})"
    else:
        watts = record.get("cpu_tdp_w") or 0.0  # CodeCarbon's CPU power: the TDP, forced or assumed
        per_thread_w = float(watts) / threads
        cpu_kwh = per_thread_w * cpu_seconds / 3.6e6
        cpu_rule = f"{per_thread_w:.2f} W per busy thread × the job's CPU-seconds"
    ram_kwh = float(record.get("ram_power_w") or 0.0) * cpu_seconds / 3.6e6
    gpu_kwh = raw["gpu_energy_kwh"] or 0.0
    energy = cpu_kwh + ram_kwh + gpu_kwh
    intensity = (raw["co2_kg"] / raw["energy_kwh"]) if raw["energy_kwh"] else 0.0  # kg CO2 per kWh here
    return {
        "energy_kwh": energy, "co2_kg": energy * intensity,
        "cpu_energy_kwh": cpu_kwh, "ram_energy_kwh": ram_kwh, "gpu_energy_kwh": gpu_kwh,
        "cpu_seconds": cpu_seconds,
        "attribution": {"scope": SCOPE, "convention": CONVENTION, "cpu": cpu_rule,
                        "ram": "RAM power × the job's CPU-seconds (not wall time)",
                        "gpu": "NVML energy of the whole device, not per process" if gpu_kwh else None},
        "codecarbon": {**raw, "tracking_mode": "process"},
    }
