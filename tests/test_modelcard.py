"""Publishing a run: the exported folder's model card carries the run's numbers, the folder
reloads with plain transformers / peft and predicts what the run predicted, and ``push``
uploads it to a (fake) Hub without ever showing the token.

The runs: the training area's MiniLM fixtures (full and LoRA), and the candidate-search
end-to-end run (tiny BERT found on the fake Hub, downloaded, fine-tuned by its Hub id), so
the whole search → train → publish path is covered too.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from pipelines import cli, modelcard
from tests.fakehub import TOKEN
from tests.fixtures_hub import TINY_REPO


def _front_matter(readme: str) -> dict:
    assert readme.startswith("---\n")
    return yaml.safe_load(readme.split("---\n")[1])


def _run_proba(run_folder: Path, n: int = 8) -> tuple[list[str], np.ndarray, list[str], int]:
    cfg = json.loads((run_folder / "config.json").read_text())
    labels = cfg["dataset"]["labels"]
    preds = pd.read_parquet(run_folder / "predictions.parquet").head(n)
    meta = json.loads((run_folder / "model" / "workbench.json").read_text())
    return preds["text"].tolist(), preds[[f"p::{x}" for x in labels]].to_numpy(), labels, meta["max_length"]


def _proba(model, tokenizer, texts: list[str], max_length: int) -> np.ndarray:
    import torch

    enc = tokenizer(texts, truncation=True, max_length=max_length, padding=True, return_tensors="pt")
    with torch.inference_mode():
        return torch.softmax(model.eval()(**enc).logits.float(), dim=-1).numpy()


def _run_row(request, fixture: str) -> dict:
    """The store row of a run fixture (the Hub e2e fixture gives a dict, the training ones a run id)."""
    from pipelines.store import Store

    value = request.getfixturevalue(fixture)
    return value["run"] if isinstance(value, dict) else Store().run(value)


@pytest.mark.parametrize(("fixture", "base", "license"), [
    ("tiny_hub_full_run", TINY_REPO, "apache-2.0"),  # licence read from the downloaded repo's card
    ("minilm_full_run", "sentence-transformers/all-MiniLM-L6-v2", "apache-2.0"),
])
def test_full_run_card_has_metrics_energy_and_reloads(request, fixture, base, license, tmp_path):
    run = _run_row(request, fixture)
    folder = Path(run["path"])
    metrics = json.loads((folder / "metrics.json").read_text())
    out = modelcard.export_card(run["id"], tmp_path / "export")

    readme = (out / "README.md").read_text()
    meta = _front_matter(readme)
    assert meta["license"] == license and meta["base_model"] == base and meta["datasets"] == ["rt_small"]
    assert meta["library_name"] == "transformers" and meta["pipeline_tag"] == "text-classification"
    results = {m["name"]: m["value"] for m in meta["model-index"][0]["results"][0]["metrics"]}
    assert results["Accuracy"] == round(metrics["accuracy"], 4)
    assert results["Macro F1"] == round(metrics["macro_f1"], 4)
    # body: metrics with their CIs, the split hash, energy and CO2 with the measuring method
    lo, hi = metrics["accuracy_ci"]
    assert f"| accuracy | {metrics['accuracy']:.4f} | {lo:.4f} – {hi:.4f} |" in readme
    lo, hi = metrics["macro_f1_ci"]
    assert f"| macro F1 | {metrics['macro_f1']:.4f} | {lo:.4f} – {hi:.4f} |" in readme
    assert json.loads((folder / "config.json").read_text())["dataset"]["split_hash"] in readme
    em = metrics["emissions"]
    for phase in em["phases"]:
        assert phase["cpu_method"] in readme
    if em["total_energy_kwh"] is not None:
        assert f"Total energy: **{em['total_energy_kwh']:.3g} kWh**" in readme
        assert f"{em['total_co2_kg']:.3g} kg" in readme
        assert meta["co2_eq_emissions"]["emissions"] == round(em["total_co2_kg"] * 1000, 4)
    else:
        assert "Total energy: **not measured kWh**" in readme

    # plain transformers reloads it and predicts what the run predicted
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    texts, expected, labels, max_length = _run_proba(folder)
    model = AutoModelForSequenceClassification.from_pretrained(out)
    assert [model.config.id2label[i] for i in range(len(labels))] == labels
    got = _proba(model, AutoTokenizer.from_pretrained(out), texts, max_length)
    np.testing.assert_allclose(got, expected, atol=1e-4)


def test_lora_run_exports_adapter_that_peft_reloads(minilm_lora_run, tmp_path):
    from pipelines.store import Store

    run = Store().run(minilm_lora_run)
    folder = Path(run["path"])
    out = modelcard.export_card(run["id"], tmp_path / "lora-export")
    adapter_cfg = json.loads((out / "adapter_config.json").read_text())
    # the Hub id of the base model, not this machine's path to it
    assert adapter_cfg["base_model_name_or_path"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert not (out / "model.safetensors").exists() and (out / "adapter_model.safetensors").is_file()
    readme = (out / "README.md").read_text()
    assert _front_matter(readme)["library_name"] == "peft" and "PeftModel.from_pretrained" in readme
    metrics = json.loads((folder / "metrics.json").read_text())
    assert f"| macro F1 | {metrics['macro_f1']:.4f} |" in readme

    from peft import PeftModel
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from pipelines.assets import resolve_model

    texts, expected, labels, max_length = _run_proba(folder)
    base = AutoModelForSequenceClassification.from_pretrained(resolve_model("minilm"), num_labels=len(labels))
    model = PeftModel.from_pretrained(base, str(out))
    got = _proba(model, AutoTokenizer.from_pretrained(out), texts, max_length)
    np.testing.assert_allclose(got, expected, atol=1e-4)


def test_export_cli_and_clear_errors(tiny_hub_full_run, tmp_path, capsys):
    run_id = tiny_hub_full_run["run"]["id"]
    assert cli.main(["export-card", run_id, "--out", str(tmp_path / "cli")]) == 0
    assert (tmp_path / "cli" / "README.md").is_file() and (tmp_path / "cli" / "model.safetensors").is_file()
    capsys.readouterr()
    assert cli.main(["export-card", "no-such-run"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: no run 'no-such-run'") and "\n" not in err


def test_push_uploads_without_showing_the_token(tiny_hub_full_run, fake_hub, monkeypatch, capsys):
    run_id = tiny_hub_full_run["run"]["id"]
    # no token: one clear line, nothing sent
    assert cli.main(["push", run_id, "--repo", "tester/tiny-rt"]) == 2
    err = capsys.readouterr().err.strip()
    assert "no Hugging Face token found" in err and "\n" not in err
    assert fake_hub.requests == []

    monkeypatch.setenv("HF_TOKEN", TOKEN)
    assert cli.main(["push", run_id, "--repo", "tester/tiny-rt"]) == 0
    captured = capsys.readouterr()
    uploaded = fake_hub.uploads["tester/tiny-rt"]
    assert {"README.md", "model.safetensors", "config.json", "tokenizer.json"} <= set(uploaded)
    assert b"model-index" in uploaded["README.md"]
    assert TOKEN not in captured.out + captured.err
    assert not any(TOKEN.encode() in data for data in uploaded.values())


def test_push_to_unreachable_hub_is_one_line(tiny_hub_full_run, dead_hub, monkeypatch, capsys):
    monkeypatch.setenv("HF_TOKEN", TOKEN)
    assert cli.main(["push", tiny_hub_full_run["run"]["id"], "--repo", "tester/x"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: cannot reach the Hub at " + dead_hub) and "\n" not in err
    assert TOKEN not in err


def test_prompt_runs_are_refused(tmp_path):
    run = tmp_path / "fake-prompt-run"
    run.mkdir()
    (run / "config.json").write_text(json.dumps({"kind": "prompt", "config": {}}))
    with pytest.raises(ValueError, match="no weights of its own to publish"):
        modelcard.export_card(str(run))
