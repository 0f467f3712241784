"""Workspaces upgrade: a store made before schema versioning opens with every run intact.

``tests/data/workspace_v1`` was made by the workbench at commit b4e1b1f (see its README):
a prepared dataset, a MiniLM LoRA run, a SmolLM2 zero-shot run, a shortlist, a failed and a
queued job. It is copied to a temporary home (so it also moved: its store holds the old
absolute paths) and opened by today's code.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from pipelines import kinds, runs
from pipelines.predictor import load_run_predictor
from pipelines.store import SCHEMA_VERSION, Store

FIXTURE = Path(__file__).parent / "data" / "workspace_v1"


@pytest.fixture()
def old_home(tmp_path, monkeypatch):
    home = tmp_path / "home"
    shutil.copytree(FIXTURE, home)
    monkeypatch.setenv("WORKBENCH_HOME", str(home))
    return home


def test_v1_workspace_upgrades_in_place_and_keeps_every_run(old_home):
    store = Store()
    assert store.schema_version() == SCHEMA_VERSION
    assert (old_home / "models" / "workbench.sqlite.v1.bak").exists(), "the old store is kept aside"
    assert Store().migrate() == [], "a second open applies nothing"

    listed = store.runs(dataset_id="rt_v1")
    assert {r["kind"] for r in listed} == {"finetune", "prompt"}
    for run in listed:  # found in the moved workspace, not at the old absolute path
        assert Path(run["path"]).is_dir() and Path(run["path"]).is_relative_to(old_home)

    jobs = {j["id"]: j for j in store.jobs()}
    assert jobs[3]["status"] == "failed" and jobs[3]["attempt"] == 1
    assert jobs[4]["status"] == "queued" and store.claim_next()["id"] == 4, "old queued work still runs"
    assert store.retry(3) == 3 and store.job(3)["attempt"] == 2
    shortlist = store.get("shortlist", "rt_v1")
    assert "minilm" in str(shortlist), "shortlists survive"


def test_upgraded_runs_compare_and_reload_to_their_saved_predictions(old_home):
    from pipelines.compare import load_comparison

    store = Store()
    comp = load_comparison(store, dataset_id="rt_v1")
    assert len(comp.runs) == 2 and comp.runs["accuracy"].notna().all()
    for run in store.runs(dataset_id="rt_v1"):
        saved = runs.load_predictions(run["path"]).head(4)
        labels = [c.removeprefix(runs.PROB_PREFIX) for c in saved.columns if c.startswith(runs.PROB_PREFIX)]
        again = load_run_predictor(run["path"]).predict_proba(saved["text"].tolist())
        np.testing.assert_allclose(again, runs.proba_from_predictions(saved, labels), atol=1e-4)


def test_configs_compare_with_defaults_filled_in():
    """A field added later (with its default) never makes the demo re-run finished work."""
    kind = kinds.get("finetune")
    full = kind.normalise({"dataset": "d", "model": "minilm"})
    older = {k: v for k, v in full.items() if k not in ("seed", "group_by_length")}
    assert kind.normalise(older) == full
    assert kind.normalise({**full, "removed_long_ago": 1}) == full
