"""Per-job ETAs in the queue (pipelines/eta.py): what the Runs page, Home and `jobs list` show.

Job rows are plain dicts shaped like the store's; measured throughput is given as
``estimate.Sample`` lists, so nothing trains and each test takes milliseconds.
"""

from __future__ import annotations

import pytest

from pipelines import estimate, eta, kinds

NOW = 1_000_000.0


def _job(job_id: int, kind: str, config: dict, status: str = "queued", priority: float = 0.0, **extra) -> dict:
    return {"id": job_id, "kind": kind, "config": config, "status": status, "priority": priority,
            "progress": 0.0, "started_at": None, **extra}


@pytest.fixture()
def small_ds(tmp_path):
    from tests.fixtures_data import prepare_named

    return prepare_named("eta_small", tmp_path)


def test_queued_etas_add_up_in_the_order_the_worker_claims_them(small_ds):
    zero = {"dataset": small_ds.id, "model": "smollm2", "mode": "zero"}
    few = {"dataset": small_ds.id, "model": "smollm2", "mode": "few"}
    measured = [estimate.Sample("smollm2", "zero/label", None, 400.0, 5.0)]
    # ids say few-shot came first, priority says zero-shot runs first
    jobs = [_job(1, "prompt", few, priority=20.0), _job(2, "prompt", zero, priority=10.0)]
    etas = eta.queue_etas(None, jobs, now=NOW, found=lambda kind: measured)

    own = {j["id"]: estimate.estimate(None, "prompt", kinds.get("prompt").normalise(j["config"]),
                                      found=measured).seconds for j in jobs}
    assert etas[2].done_in_s == pytest.approx(own[2])
    assert etas[1].done_in_s == pytest.approx(own[2] + own[1])
    assert etas[1].own_s == pytest.approx(own[1]) and own[1] > own[2]  # few-shot reads longer prompts
    assert etas[1].basis == "measured" and not etas[1].rough
    assert "rough" not in etas[1].text and etas[1].text.startswith("ETA ") and "itself" in etas[1].text


def test_nothing_measured_is_labelled_a_rough_guess_from_the_kind_figure(small_ds):
    cfg = {"dataset": small_ds.id, "model": "minilm", "method": "lora", "max_train_samples": 500, "epochs": 1.0}
    etas = eta.queue_etas(None, [_job(7, "finetune", cfg)], now=NOW, found=lambda kind: [])
    e = etas[7]
    assert e.own_s == pytest.approx(kinds.get("finetune").cost(kinds.get("finetune").normalise(cfg)))
    assert e.rough and e.basis == "rough"
    assert e.text.endswith("rough guess") and "built-in" in e.source


def test_a_running_job_ends_by_its_progress_rate_and_the_queue_waits_for_it(small_ds):
    measured = [estimate.Sample("smollm2", "zero/label", None, 400.0, 5.0)]
    running = _job(3, "prompt", {"dataset": small_ds.id, "model": "smollm2"}, status="running", priority=50.0,
                   progress=0.25, started_at=NOW - 30.0)
    queued = _job(2, "prompt", {"dataset": small_ds.id, "model": "smollm2", "mode": "few"}, priority=1.0)
    etas = eta.queue_etas(None, [queued, running], now=NOW, found=lambda kind: measured)
    assert etas[3].own_s == pytest.approx(90.0)  # 30 s for a quarter: 90 s for the rest
    assert etas[3].basis == "progress" and etas[3].text == "ETA 1 min 30 s"
    assert etas[2].done_in_s == pytest.approx(90.0 + etas[2].own_s)  # runs after it despite its lower priority


def test_early_progress_leans_on_the_estimate():
    job = _job(1, "prompt", {}, status="running", progress=0.01, started_at=NOW - 20.0)
    remaining, how = eta.running_remaining(job, expected_s=100.0, now=NOW)
    by_rate = 20.0 * 0.99 / 0.01  # 1,980 s: one early percent says little
    assert 80.0 < remaining < by_rate / 10
    assert eta.running_remaining({**job, "progress": 0.0}, 100.0, NOW) == (80.0, "estimate")


def test_an_unreadable_job_makes_its_eta_and_those_behind_it_unknown(small_ds):
    jobs = [_job(1, "no-such-kind", {}, priority=1.0),
            _job(2, "tfidf", {"dataset": small_ds.id}, priority=2.0)]
    etas = eta.queue_etas(None, jobs, now=NOW, found=lambda kind: [])
    assert etas[1].own_s is None and etas[1].text == "ETA unknown" and etas[1].source == "unknown"
    assert etas[2].own_s is not None and etas[2].done_in_s is None
    assert etas[2].text == "ETA unknown (a job ahead has no estimate)"


def test_jobs_list_shows_each_queued_jobs_eta(tmp_path, monkeypatch, small_ds, capsys):
    from pipelines import cli
    from pipelines.jobs import submit
    from tests.fixtures_data import quiet_store

    store = quiet_store(tmp_path, monkeypatch, small_ds, "eta_cli")
    submit(store, "tfidf", {"dataset": small_ds.id})
    assert cli.main(["jobs", "list"]) == 0
    out = capsys.readouterr().out
    assert "done in" in out and "rough guess" in out


def test_the_full_size_demo_adds_only_its_encoders_and_every_demo_size_is_explicit():
    from pipelines.demo import PROFILES, demo_jobs, sizes

    default, full = demo_jobs("default"), demo_jobs("full")
    shared = [(k, c) for k, c in default if k != "finetune"]
    assert shared and shared == [(k, c) for k, c in full if k != "finetune"]  # queued once for both profiles
    for profile in PROFILES:
        for kind, cfg in demo_jobs(profile):
            if kind == "finetune":  # never left to the data-derived defaults, which could stretch the demo
                assert cfg["epochs"] == 1.0 and cfg["max_train_samples"], (profile, cfg["run_name"])
    n_default = {c["model"] + c["method"]: c["max_train_samples"] for k, c in default if k == "finetune"}
    assert all(n < 10_000 for n in n_default.values())
    assert sizes("finetune", next(c for k, c in default if c.get("model") == "mpnet")).startswith("1,500 train texts")
    assert sizes("prompt", next(c for k, c in default if k == "prompt")) == "whole test split"
