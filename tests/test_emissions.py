"""Real CodeCarbon (offline): one tracker per phase, its CSV in the run folder, the method recorded."""

from __future__ import annotations

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
    assert em["energy_kwh"] == pytest.approx(df["energy_consumed"].iloc[0])
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
    assert em["cpu_power_w"] >= 10.0  # CodeCarbon's floor is 10% of the forced TDP


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
