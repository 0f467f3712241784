"""Config dataclasses: one field list read by the flags, their inverse and the checks.

Every case here builds a config or parses flags; nothing trains, so each runs in milliseconds.
"""

from __future__ import annotations

import argparse
import dataclasses
import math

import pytest

from pipelines import cli
from pipelines.configs import (
    FinetuneConfig,
    PromptConfig,
    Range,
    RunConfig,
    add_dataclass_args,
    config_fields,
    config_from_args,
    to_cli_args,
)
from pipelines.data import DataSpec


def _flags_roundtrip(cfg):
    parser = argparse.ArgumentParser()
    add_dataclass_args(parser, type(cfg))
    return config_from_args(type(cfg), parser.parse_args(to_cli_args(cfg)))


@pytest.mark.parametrize("cfg", [
    FinetuneConfig(method="lora", epochs=2.5, learning_rate=1e-3, group_by_length=False, run_name="a b",
                   lora_target_modules=["query", "value"], cpu_power_watts=35.0, max_train_samples=0),
    PromptConfig(mode="few", k=3, calibrate=True, template="review", max_test_samples=5, seed=0),
    DataSpec(source="x.csv", text_column=["a", "b"], delimiter=";", label_delimiter="-", drop_empty=True,
             max_rows=100, split=[0.8, 0.1, 0.1]),
    FinetuneConfig(),
])
def test_to_cli_args_is_the_inverse_of_the_flags(cfg):
    assert _flags_roundtrip(cfg) == cfg


def test_defaults_give_no_flags_and_differences_give_one_each():
    assert to_cli_args(FinetuneConfig()) == []
    assert to_cli_args(FinetuneConfig(epochs=3.0, class_weights=True)) == ["--epochs=3.0", "--class-weights"]


def test_shared_fields_are_declared_once_in_the_base():
    shared = {f.name for f in dataclasses.fields(RunConfig)}
    assert {"dataset", "model", "seed", "country_iso_code", "cpu_power_watts", "run_name", "speed_samples",
            "batch_size"} <= shared
    for cls in (FinetuneConfig, PromptConfig):
        own = {f.name for f in dataclasses.fields(cls)} - shared
        assert not own & shared
        # a kind may change a shared field's default and help, never its range
        for name in shared:
            assert cls.__dataclass_fields__[name].metadata.get("range") == \
                RunConfig.__dataclass_fields__[name].metadata.get("range")


def test_field_info_reads_types_defaults_choices_and_ranges():
    fields = {f.name: f for f in config_fields(FinetuneConfig)}
    assert fields["method"].choices == ("full", "lora") and fields["method"].flag == "--method"
    assert fields["learning_rate"].type is float and fields["learning_rate"].optional
    assert fields["lora_target_modules"].is_list and fields["lora_target_modules"].item_type is str
    assert fields["epochs"].range.describe() == "> 0 and ≤ 1,000"
    assert fields["max_train_samples"].range.describe() == "≥ 2 and ≤ 100,000,000 (or 0 = all)"
    parser = argparse.ArgumentParser()
    add_dataclass_args(parser, FinetuneConfig)
    assert "valid: > 0 and ≤ 1,000" in parser.format_help()


def test_range_refuses_non_finite_values():
    r = Range(0, 1, lo_open=True)
    assert r.contains(0.5) and r.contains(1)
    assert not any(r.contains(v) for v in (0, 1.01, math.inf, -math.inf, math.nan))
    assert Range(2, 10, special=(0,), special_means="all").contains(0)


@pytest.mark.parametrize(("cls", "values", "message"), [
    (FinetuneConfig, {"epochs": 1e9}, "epochs must be > 0 and ≤ 1,000, got 1000000000.0"),
    (FinetuneConfig, {"epochs": 0}, "epochs must be > 0"),
    (FinetuneConfig, {"learning_rate": math.inf}, "learning_rate must be > 0 and ≤ 1, got inf"),
    (FinetuneConfig, {"learning_rate": math.nan}, "learning_rate must be > 0 and ≤ 1, got nan"),
    (FinetuneConfig, {"max_train_samples": -5}, "max_train_samples must be ≥ 2 and ≤ 100,000,000 (or 0 = all)"),
    (FinetuneConfig, {"batch_size": -1}, "batch_size must be ≥ 1 and ≤ 4,096, got -1"),
    (FinetuneConfig, {"lora_r": 2.5}, "lora_r must be a whole number ≥ 1"),
    (FinetuneConfig, {"epochs": "1"}, "epochs must be a number > 0"),
    (FinetuneConfig, {"method": "half"}, "method must be 'full' or 'lora', got 'half'"),
    (FinetuneConfig, {"cpu_power_watts": math.inf}, "cpu_power_watts must be > 0 and ≤ 2,000"),
    (FinetuneConfig, {"country_iso_code": "XX"}, "unknown country_iso_code 'XX'"),
    (PromptConfig, {"max_test_samples": -5}, "max_test_samples must be ≥ 1"),
    (PromptConfig, {"chunk_size": 0}, "chunk_size must be ≥ 1"),
    (PromptConfig, {"max_retries": -1}, "max_retries must be ≥ 0 and ≤ 20"),
    (PromptConfig, {"mode": "many"}, "mode must be 'zero' or 'few'"),
    (DataSpec, {"max_rows": -3}, "max_rows must be ≥ 2"),
    (DataSpec, {"split": [0.5, 0.5, math.nan]}, "split ratios must be three finite numbers"),
    (DataSpec, {"max_file_mb": math.inf}, "max_file_mb must be ≥ 0"),
])
def test_each_config_refuses_bad_values_when_built(cls, values, message):
    with pytest.raises(ValueError) as built:
        cls(**values)
    assert message in str(built.value) and "\n" not in str(built.value)
    with pytest.raises(ValueError, match="must|unknown|ratios"):  # a stored job's config: the same check
        cls.from_dict(values)


def test_integral_floats_become_ints():
    assert FinetuneConfig.from_dict({"lora_r": 4.0}).lora_r == 4
    assert isinstance(FinetuneConfig(lora_r=4.0).lora_r, int)


@pytest.mark.parametrize(("argv", "message"), [
    (["finetune", "--epochs", "1e9"], "epochs must be > 0 and ≤ 1,000, got 1000000000.0"),
    (["finetune", "--learning-rate", "inf"], "learning_rate must be > 0 and ≤ 1, got inf"),
    (["finetune", "--learning-rate", "nan"], "learning_rate must be > 0 and ≤ 1, got nan"),
    (["finetune", "--max-eval-samples=-1"], "max_eval_samples must be ≥ 2"),
    (["finetune", "--eval-every", "0"], "eval_every must be ≥ 1"),
    (["finetune", "--warmup-ratio", "1"], "warmup_ratio must be ≥ 0 and < 1"),
    (["prompt", "--max-test-samples=-5"], "max_test_samples must be ≥ 1"),
    (["prompt", "--k=-1"], "k must be ≥ 1 and ≤ 64"),
    (["prompt", "--max-new-tokens", "0"], "max_new_tokens must be ≥ 1"),
    (["data", "prepare", "--max-rows=-3"], "max_rows must be ≥ 2"),
    (["data", "prepare", "--split", "0.5", "0.5", "nan"], "split ratios must be three finite numbers"),
])
def test_bad_flags_fail_in_one_line_before_a_job_exists(store, capsys, argv, message):
    jobs_before = store.jobs(limit=10_000)
    assert cli.main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and message in err and "\n" not in err
    assert store.jobs(limit=10_000) == jobs_before
