"""The fine-tune defaults that follow the data (pipelines/train_defaults.py, issue 10 §2).

The rule is pure arithmetic, so most cases run in microseconds on made-up dataset shapes
(small, large, long texts); the record's way into config.json is checked on the session's
existing tiny fine-tune (no model is trained here), and the Runs page shows it before queueing.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pipelines import train_defaults as td
from pipelines.configs import FinetuneConfig

SHORT = {"p50": 30, "p95": 61, "max": 90}  # tweets / review snippets (MiniLM tokens)
LONG = {"p50": 480, "p95": 1130, "max": 4500}  # BBC articles


def test_small_data_gets_several_epochs_and_at_least_the_minimum_steps():
    # The user's case from the issue: 3 classes, 2,250 train texts got 140 steps with "1 epoch".
    rule = td.derive(2250, 3, False, SHORT, 16)
    out = rule["outputs"]
    assert out["steps_per_epoch"] == 141 and out["epochs"] == 4.0
    assert out["max_steps"] >= td.MIN_STEPS and out["max_steps"] - out["steps_per_epoch"] < td.MIN_STEPS
    assert out["eval_every"] == 50, "~10 evaluations over the minimum budget, not 4 per short epoch"
    assert set(rule["derived"]) == {"epochs", "eval_every", "max_length"}
    assert "4 epochs reach the 500-step minimum" in rule["why"]
    assert rule["inputs"]["n_classes"] == 3 and rule["inputs"]["token_p95"] == 61


def test_large_data_gets_one_epoch_and_four_evaluations():
    out = td.derive(9564, 2, False, SHORT, 16)["outputs"]  # the whole Rotten Tomatoes train split
    assert (out["epochs"], out["max_steps"], out["eval_every"]) == (1.0, 598, 150)
    assert "one pass is enough" in td.derive(9564, 2, False, SHORT, 16)["why"]


def test_tiny_data_is_capped_in_epochs_and_says_so():
    rule = td.derive(48, 2, False, SHORT, 16)
    assert rule["outputs"]["epochs"] == td.MAX_EPOCHS and rule["outputs"]["max_steps"] == 30
    assert rule["outputs"]["eval_every"] == 30, "never past the last step"
    assert "the cap" in rule["why"]


def test_long_texts_get_a_capped_max_length():
    cpu = td.derive(1597, 5, False, LONG, 16)
    assert cpu["outputs"]["max_length"] == td.CPU_MAX_LENGTH and "capped for cost" in cpu["why"]
    gpu = td.derive(1597, 5, False, LONG, 16, on_cpu=False)["outputs"]
    assert gpu["max_length"] == 512
    assert td.derive(1597, 5, False, LONG, 16, on_cpu=False, model_max_length=128)["outputs"]["max_length"] == 128
    assert td.derive(10, 2, False, {"p95": 61}, 16)["outputs"]["max_length"] == 64, "rounded up to 8"
    assert td.derive(10, 2, False, {"p95": 3}, 16)["outputs"]["max_length"] == 16
    assert td.derive(10, 2, False, None, 16)["outputs"]["max_length"] is None, "unknown lengths: not derived"


def test_the_users_values_always_win():
    rule = td.derive(2250, 3, False, LONG, 16, epochs=1.0, max_length=400, eval_every=7)
    assert rule["derived"] == []
    assert (rule["outputs"]["epochs"], rule["outputs"]["max_length"], rule["outputs"]["eval_every"]) == (1.0, 400, 7)
    assert "1 epoch(s) as set" in rule["why"] and "max_length 400 as set" in rule["why"]
    explicit = td.derive(2250, 3, False, SHORT, 16, epochs=1.0)["outputs"]
    assert explicit["eval_every"] == 36, "explicit epochs keep the old cadence (4 per epoch)"
    assert td.derive(2250, 3, False, SHORT, 16, min_steps=1000)["outputs"]["epochs"] == 8.0


def test_length_grouping_is_off_where_text_length_predicts_the_class():
    short, long_ = [20, 25, 30, 22] * 10, [70, 71, 72, 70] * 10  # reviews vs plot lines cut at 280 characters
    share = td.length_class_share(short + long_, [0] * 40 + [1] * 40)
    assert share > 0.9 and td.length_class_share(short + short, [0] * 40 + [1] * 40) == 0.0
    assert td.length_class_share([5] * 4, [0, 1, 0, 1]) == 0.0, "equal lengths: nothing to predict"
    rule = td.derive(2250, 3, False, SHORT, 16, length_share=share)
    assert rule["outputs"]["group_by_length"] is False and "group_by_length" in rule["derived"]
    assert "one-class runs" in rule["why"]
    assert td.derive(2250, 3, False, SHORT, 16, length_share=0.05)["outputs"]["group_by_length"] is True
    assert td.derive(2250, 3, False, SHORT, 16, length_share=share, group_by_length=True)["outputs"][
        "group_by_length"] is True, "the user's choice wins"
    assert td.derive(2250, 3, False, SHORT, 16)["outputs"]["group_by_length"] is None, "undecided before the job"


def test_bad_inputs_get_one_line_errors():
    with pytest.raises(ValueError, match="train split is empty"):
        td.derive(0, 2, False, SHORT, 16)
    with pytest.raises(ValueError, match="min_steps must be ≥ 1"):
        td.derive(10, 2, False, SHORT, 16, min_steps=0)
    with pytest.raises(ValueError, match="min_steps must be ≥ 1"):
        FinetuneConfig(min_steps=0)


def test_config_default_is_derived_and_old_stored_configs_keep_their_epochs():
    from pipelines import kinds
    from pipelines.configs import to_cli_args

    assert FinetuneConfig().epochs is None and to_cli_args(FinetuneConfig()) == []
    old = {"dataset": "d", "model": "minilm", "method": "full", "epochs": 1.0}  # stored before min_steps existed
    assert FinetuneConfig.from_dict(old).epochs == 1.0
    norm = kinds.get("finetune").normalise(old)
    assert norm["epochs"] == 1.0 and norm["min_steps"] == td.MIN_STEPS


def test_cost_estimates_follow_the_derived_epochs(rt_small):
    from pipelines import estimate
    from pipelines.finetune import expected_seconds
    from pipelines.store import Store

    # the queue's rough cost: 2,000 texts derive 4 epochs, 10,000 texts one
    assert expected_seconds({"model": "minilm", "method": "full", "max_train_samples": 2000}) == pytest.approx(
        expected_seconds({"model": "minilm", "method": "full", "max_train_samples": 2000, "epochs": 4.0}))
    assert expected_seconds({"model": "minilm", "method": "full"}) == pytest.approx(
        expected_seconds({"model": "minilm", "method": "full", "epochs": 1.0}))
    found = [estimate.Sample("minilm", "full", 2000.0, 6000.0, 15.0)]
    base = {"dataset": rt_small.id, "model": "minilm", "method": "full", "max_train_samples": None}
    info = estimate.dataset_info(rt_small.id)
    rule = td.from_dataset_info(info, base)
    assert rule["inputs"]["n_train"] == len(rt_small.train) and rule["outputs"]["epochs"] > 1
    derived = estimate.estimate(Store(), "finetune", base, found=found)
    one = estimate.estimate(Store(), "finetune", {**base, "epochs": 1.0}, found=found)
    assert f"× {rule['outputs']['epochs']:g} epoch(s)" in derived.detail and derived.seconds > one.seconds


def test_the_rules_record_lands_in_config_json(minilm_full_run):
    from pipelines import runs

    cfg = runs.read_json(Path(runs.run_dir(minilm_full_run)) / "config.json")
    rule = cfg["resolved"]["train_defaults"]
    assert rule["rule"] == td.RULE and rule["inputs"]["n_train"] == 600
    assert rule["outputs"]["epochs"] == cfg["resolved"]["epochs"] == 1.0  # the fixture sets epochs and max_length
    assert rule["derived"] == ["eval_every", "group_by_length"] and rule["outputs"]["max_length"] == 64
    assert rule["inputs"]["length_class_share"] < td.LENGTH_CLASS_SHARE_MAX, "review polarity: length says nothing"
    m = runs.read_json(Path(runs.run_dir(minilm_full_run)) / "metrics.json")
    assert m["train"]["max_steps"] == rule["outputs"]["max_steps"] and m["train"]["eval_every"] == 10


def test_runs_page_shows_the_derived_settings_before_queueing(tmp_path, monkeypatch, rt_small):
    from tests.fixtures_data import quiet_store, runs_page

    quiet_store(tmp_path, monkeypatch, rt_small, "defaults")
    at = runs_page()
    assert not at.exception, [e.value for e in at.exception]
    why = td.from_dataset_info(rt_small.info, FinetuneConfig(dataset="rt_small").to_dict())["why"]
    shown = [c.value for c in at.caption if "Derived from the data" in c.value]
    assert len(shown) == 1 and why in shown[0]
    at.text_input(key="finetune_epochs").set_value("2").run()
    assert not [c.value for c in at.caption if "epochs =" in c.value], "a value the user typed is not re-derived"
