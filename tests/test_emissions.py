"""Real CodeCarbon (offline): one tracker per phase, its CSV in the run folder, the method recorded."""

from __future__ import annotations

import json
import subprocess
import sys
import threading

import pandas as pd
import pytest

from pipelines import emissions


def _busy(seconds_of_work: int = 2_000_000) -> int:
    return sum(i * i for i in range(seconds_of_work))


def test_phase_writes_csv_and_records_method(tmp_path):
    with emissions.track(tmp_path, "train", "FRA", measure_power_secs=1) as em:
        _busy()
        assert em["energy_kwh"] is None  # filled on exit, not before
    with emissions.track(tmp_path, "eval", "FRA", measure_power_secs=1) as em2:
        _busy(200_000)
    df = pd.read_csv(tmp_path / emissions.EMISSIONS_FILE)
    assert list(df["project_name"]) == ["train", "eval"]  # one CSV row per phase, appended
    assert em["measured"] and em["energy_kwh"] > 0 and em["co2_kg"] > 0
    assert em["codecarbon"]["energy_kwh"] == pytest.approx(df["energy_consumed"].iloc[0])  # raw figures kept
    assert em["attribution"]["scope"] == "process tree" and em["cpu_seconds"] > 0
    assert em["energy_kwh"] == pytest.approx(em["cpu_energy_kwh"] + em["ram_energy_kwh"] + em["gpu_energy_kwh"])
    assert em["duration_s"] > 0 and em["country_iso_code"] == "FRA"
    # This machine has no RAPL, no GPU, and its CPU is not in CodeCarbon's TDP table (DESIGN.md §3).
    assert em["cpu_method"].startswith("cpu_load:") or em["cpu_method"] == "rapl"
    assert em["ram_method"] == "constant_estimate"
    assert em["gpu_method"] in ("none", "nvml")
    total = emissions.combine([em, em2])
    assert total["total_energy_kwh"] == pytest.approx(em["energy_kwh"] + em2["energy_kwh"])
    assert total["measured"] and [p["phase"] for p in total["phases"]] == ["train", "eval"]


def test_forced_cpu_power_is_used_and_named(tmp_path):
    with emissions.track(tmp_path, "train", "FRA", cpu_power_watts=100.0, measure_power_secs=1) as em:
        _busy(500_000)
    assert em["cpu_method"] == "cpu_load:forced_tdp" and em["cpu_tdp_w"] == 100.0
    # the job is charged the forced power per busy thread for its own CPU time
    per_thread = 100.0 / em["cpu_count"]
    assert em["cpu_energy_kwh"] == pytest.approx(per_thread * em["cpu_seconds"] / 3.6e6)
    assert f"{per_thread:.2f} W per busy thread" in em["attribution"]["cpu"]


def test_nested_tracking_raises_and_frees_the_lock(tmp_path):
    with emissions.track(tmp_path, "train", measure_power_secs=1):
        with pytest.raises(emissions.TrackingActive, match="'train' is already being tracked"):
            with emissions.track(tmp_path, "eval"):
                pass
        # another thread is refused too: one tracker per process, whoever asks
        errors = []
        t = threading.Thread(target=lambda: errors.append(_try_track(tmp_path)))
        t.start()
        t.join()
        assert errors == ["TrackingActive"]
    with emissions.track(tmp_path, "eval", measure_power_secs=1) as em:  # free again afterwards
        pass
    assert em["measured"]


def _try_track(folder) -> str:
    try:
        with emissions.track(folder, "other"):
            return "tracked"
    except emissions.TrackingActive:
        return "TrackingActive"


def test_block_errors_propagate_and_phase_is_still_recorded(tmp_path):
    with pytest.raises(ZeroDivisionError):
        with emissions.track(tmp_path, "train", measure_power_secs=1) as em:
            _ = 1 / 0
    assert em["measured"] and em["duration_s"] is not None
    assert (tmp_path / emissions.EMISSIONS_FILE).exists()


def test_unmeasured_phase_is_none_never_zero(tmp_path):
    """A tracker whose stop() returns None (here: never started) is 'not measured', not 0 kWh."""
    from codecarbon import OfflineEmissionsTracker

    tracker = OfflineEmissionsTracker(country_iso_code="FRA", output_dir=str(tmp_path), log_level="error")
    record = emissions._empty_record("train", "FRA")
    emissions._stop_tracker(tracker, record)
    assert record["measured"] is False and record["energy_kwh"] is None
    total = emissions.combine([record])
    assert total["total_energy_kwh"] is None and total["total_co2_kg"] is None and not total["measured"]


def test_bad_settings_are_refused_with_the_fix(tmp_path):
    with pytest.raises(ValueError, match="unknown country_iso_code 'ZZZ'.*alpha-3"):
        with emissions.track(tmp_path, "train", "ZZZ"):
            pass
    with pytest.raises(ValueError, match="cpu_power_watts must be > 0"):
        with emissions.track(tmp_path, "train", "FRA", cpu_power_watts=-5):
            pass
    assert not (tmp_path / emissions.EMISSIONS_FILE).exists()


PROBE = """
import json, sys, tempfile
from pipelines import emissions
with emissions.track(tempfile.mkdtemp(), "work", "FRA") as rec:
    total = sum(i * i for i in range(int(sys.argv[1])))
print(json.dumps(rec))
"""


def _measure_alone_or_beside(hogs: int, work: int = 25_000_000) -> dict:
    """A fixed amount of one-thread work in its own process, with ``hogs`` busy loops in *other* processes."""
    busy = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(hogs)]
    try:
        out = subprocess.run([sys.executable, "-c", PROBE, str(work)], capture_output=True, text=True, timeout=300,
                             check=True).stdout
    finally:
        for p in busy:
            p.kill()
            p.wait()
    return json.loads(out.strip().splitlines()[-1])


def test_energy_belongs_to_the_job_not_to_other_processes():
    """Same work alone and beside 3 CPU hogs on 2 cores: the wall time grows, the job's energy does not.

    (Machine mode charged 10.6× the CPU energy here, and RAM by wall time ×2.2.)
    """
    # Twice each, interleaved, the least of each kept: the host of this VM can slow a run (its CPU-seconds for the
    # same work grew 1.65x once in CI, with nothing else on the guest), and such noise only ever adds CPU time.
    runs = [_measure_alone_or_beside(hogs) for _ in range(2) for hogs in (0, 3)]
    alone = min(runs[0::2], key=lambda r: r["energy_kwh"])
    crowded = min(runs[1::2], key=lambda r: r["energy_kwh"])
    assert crowded["duration_s"] > alone["duration_s"]  # the hogs did compete with the job
    ratio = crowded["energy_kwh"] / alone["energy_kwh"]
    assert 0.7 < ratio < 1.3, (ratio, alone, crowded)
    raw_ratio = crowded["codecarbon"]["ram_energy_kwh"] / alone["codecarbon"]["ram_energy_kwh"]
    assert crowded["ram_energy_kwh"] / alone["ram_energy_kwh"] < raw_ratio, "RAM is charged by CPU time, not wall time"
