"""The prompt command with the real SmolLM2-135M-Instruct: one run per template, queueing, progress, names.

Split from tests/test_prompting.py (same fixtures: the session datasets, one torch thread).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from pipelines.configs import PromptConfig
from pipelines.prompting import demo_prompt_configs
from pipelines.runfolder import RunFolder

pytestmark = pytest.mark.usefixtures("one_torch_thread")  # see tests/conftest.py


def test_cli_runs_one_job_per_template_and_reports_bad_names(store, rt_small, capsys):
    from pipelines.cli import main

    before = {r["id"] for r in store.runs()}
    code = main(["prompt", "--dataset", "rt_small", "--template", "review", "question", "--max-test-samples", "8",
                 "--speed-samples", "0", "--max-text-tokens", "32", "--calibrate", "--calibration", "domain"])
    assert code == 0
    new = [r for r in store.runs() if r["id"] not in before]
    saved = [RunFolder(r["path"]).read_config()["prompt"] for r in new]
    assert sorted(p["template"] for p in saved) == ["question", "review"]
    # domain calibration: 20 strings of random *train* words, recorded with the run
    train_words = {w for t in rt_small.train["text"] for w in t.split()}
    for p in saved:
        assert len(p["calibration_inputs"]) == 20
        assert all(set(s.split()) <= train_words for s in p["calibration_inputs"])
        assert np.isfinite(p["calibration"]).all()
    assert main(["prompt", "--dataset", "rt_small", "--template", "nope"]) == 2
    assert "no prompt template 'nope'" in capsys.readouterr().err
    assert main(["prompt", "--list-templates"]) == 0
    assert "yesno" in capsys.readouterr().out


def test_queue_flag_enqueues_without_running(store):
    from pipelines.cli import main

    assert main(["prompt", "--dataset", "rt_small", "--mode", "few", "--k", "1", "--template", "classify", "review",
                 "--queue"]) == 0
    queued = [j for j in store.jobs(status="queued") if j["kind"] == "prompt"][:2]
    assert sorted(j["config"]["template"] for j in queued) == ["classify", "review"]
    assert all(j["config"]["mode"] == "few" and j["config"]["k"] == 1 for j in queued)
    for j in queued:  # leave the shared store clean for other tests
        store.request_cancel(j["id"])


def test_demo_configs_are_smollm2_zero_and_few_label_scoring():
    cfgs = [PromptConfig.from_dict(c) for c in demo_prompt_configs("rotten_tomatoes")]
    assert [(c.model, c.mode, c.scoring) for c in cfgs] == [("smollm2", "zero", "label"), ("smollm2", "few", "label")]
    tiny = demo_prompt_configs("rotten_tomatoes", "tiny")
    assert all(c["max_test_samples"] and c["max_test_samples"] <= 32 for c in tiny)
    assert json.loads(json.dumps(tiny)) == tiny


def test_cli_prompt_shows_progress_and_the_template_name(store, rt_small, capfd, monkeypatch):
    """A prompt job prints its progress (texts scored, ETA) while it runs, and every table names the
    template it used (never "(default)"): the prompt command's, compare's and the Compare page's."""
    from streamlit.testing.v1 import AppTest

    from pipelines import termprogress
    from pipelines.cli import main

    monkeypatch.setattr(termprogress, "PLAIN_EVERY_S", 0.0)  # a line per update (10 s apart otherwise)
    before = {r["id"] for r in store.runs()}
    assert main(["prompt", "--dataset", "rt_small", "--max-test-samples", "8", "--chunk-size", "4",
                 "--speed-samples", "0", "--max-text-tokens", "32", "--run-name", "tiny llm"]) == 0
    out, err = capfd.readouterr()
    lines = [ln for ln in err.splitlines() if ln.startswith("prompt job")]
    assert any("4/8 texts" in ln and "ETA" in ln for ln in lines), lines
    assert "100%" in lines[-1] and "done: accuracy" in lines[-1]
    assert "(default)" not in out and "review" in out
    (run_id,) = [r["id"] for r in store.runs() if r["id"] not in before]
    assert main(["compare", "--runs", run_id]) == 0
    assert "tiny llm (review)" in capfd.readouterr().out
    at = AppTest.from_file(str(Path(__file__).resolve().parent.parent / "dashboard" / "Home.py"), default_timeout=120)
    at.run()
    at.switch_page("views/compare.py")
    at.query_params.update({"dataset": "rt_small", "runs": run_id})
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert any(str(v).startswith("tiny llm (review)") for v in at.dataframe[0].value["Run"])
