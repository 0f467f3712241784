"""Fake Hub fixtures (owned by the candidate-search area).

``fake_hub`` points the process at a fake Hub on 127.0.0.1: ``HF_ENDPOINT`` and
huggingface_hub's already-imported constants (endpoint, offline flag) are patched for the
test only, so even a stray call without an explicit endpoint stays on loopback. Everything
is restored afterwards (conftest's offline default comes back).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fakehub import FakeHub, HangServer, fixture_models, served_model, unreachable_url

TINY_REPO = "fake-org/tiny-bert"
_WORDS = """the a an and or but of to in on at for with is was are be it this that not no very too so as by from
film movie story plot acting actor actors director script cast scene scenes character characters time life love
good great best fine fun funny smart sweet charming moving fresh clever well beautiful brilliant perfect enjoy
bad worst dull boring mess flat tired stupid weak poor awful silly lame waste fails slow predictable bland
more most less much little only just even never ever still all one two into about than its his her their who
what when how there here out up like may can will would could has have had make makes made does doesn't""".split()


def _vocab() -> list[str]:
    letters = [chr(c) for c in range(ord("a"), ord("z") + 1)]
    punct = list(".,!?'\"-:;()")
    return ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *punct, *letters, *("##" + x for x in letters),
            *dict.fromkeys(w for w in _WORDS if w not in letters)]


@pytest.fixture(scope="session")
def tiny_bert_dir(tmp_path_factory) -> Path:
    """A tiny random BERT (hidden 32, 2 layers) + WordPiece tokenizer, saved like a Hub repo.

    Saved as ``BertModel`` (with its pooler, like the bundled MiniLM): a checkpoint without
    the pooler gets a freshly random one at every load, which a LoRA run (pooler frozen,
    not saved) cannot reproduce — a training-side matter, not what these tests are about.
    """
    import torch
    from transformers import BertConfig, BertModel, BertTokenizer

    folder = tmp_path_factory.mktemp("tiny-bert")
    vocab = _vocab()
    tok = BertTokenizer(vocab={w: i for i, w in enumerate(vocab)})
    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                     intermediate_size=37, max_position_embeddings=128)
    BertModel(cfg).save_pretrained(folder, safe_serialization=True)
    tok.save_pretrained(folder)
    (folder / "README.md").write_text("---\nlicense: apache-2.0\nlanguage: en\n---\n# tiny-bert\n")
    return folder


@pytest.fixture(scope="session")
def fake_hub_server(tiny_bert_dir):
    entry, files = served_model(
        TINY_REPO, tiny_bert_dir, downloads=500, likes=5, trending=3, modified="2025-06-01",
        # files a download must never take: code, pickles, sub-folders
        extra_files={"modeling_tiny.py": b"raise SystemExit('remote code ran')\n", "pytorch_model.bin": b"pickle",
                     "onnx/model.onnx": b"onnx"})
    hub = FakeHub([entry, *fixture_models()], files={TINY_REPO: files})
    yield hub
    hub.close()


def point_hub_at(monkeypatch, url: str) -> None:
    """Online mode against ``url`` only: env for new imports, constants for the imported client."""
    from huggingface_hub import constants

    monkeypatch.setenv("HF_ENDPOINT", url)
    monkeypatch.setenv("HF_HUB_OFFLINE", "0")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "0")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "ENDPOINT", url)
    monkeypatch.setattr(constants, "HUGGINGFACE_CO_URL_TEMPLATE", url + "/{repo_id}/resolve/{revision}/{filename}")
    monkeypatch.delenv("HF_TOKEN", raising=False)


@pytest.fixture()
def fake_hub(fake_hub_server, monkeypatch) -> FakeHub:
    fake_hub_server.reset()
    point_hub_at(monkeypatch, fake_hub_server.url)
    return fake_hub_server


@pytest.fixture()
def hang_hub(monkeypatch):
    server = HangServer()
    point_hub_at(monkeypatch, server.url)
    yield server
    server.close()


@pytest.fixture()
def dead_hub(monkeypatch) -> str:
    url = unreachable_url()
    point_hub_at(monkeypatch, url)
    return url


def _hub_run(hub_server: FakeHub, dataset_id: str, method: str) -> dict:
    """Search the fake Hub → download the tiny BERT → fine-tune it offline by its Hub id.

    Returns {"job", "run", "search", "folder"}. The same path a user takes: the id found
    by the search is what goes into FinetuneConfig.model; training runs with the Hub off.
    """
    from huggingface_hub import constants

    from pipelines import hub, jobs
    from pipelines.candidates import SearchQuery
    from pipelines.configs import FinetuneConfig
    from pipelines.store import Store

    store = Store()
    with pytest.MonkeyPatch.context() as mp:
        hub_server.reset()
        point_hub_at(mp, hub_server.url)
        found = hub.search(SearchQuery(query="tiny", task="fill-mask", runnable_only=True),
                           hub.HubSettings(backoff_s=0.05), store=store)
        pick = found.candidates[0]
        folder = hub.download(pick.model_ref, hub.HubSettings(backoff_s=0.05), store=store)
        # train with the Hub off, as after any download
        mp.setenv("HF_HUB_OFFLINE", "1")
        mp.setattr(constants, "HF_HUB_OFFLINE", True)
        cfg = FinetuneConfig(model=pick.model_ref, dataset=dataset_id, method=method, max_train_samples=64,
                             max_eval_samples=64, max_length=32, epochs=1, batch_size=16,
                             learning_rate=1e-3 if method == "lora" else 5e-4, seed=0)
        job = jobs.run_now("finetune", cfg.to_dict(), store=store)
    run = store.run(job["run_id"]) if job.get("run_id") else None
    return {"job": job, "run": run, "search": found, "folder": folder}


@pytest.fixture(scope="session")
def tiny_hub_full_run(fake_hub_server, rt_small) -> dict:
    """A full fine-tune of the fake Hub's tiny BERT on rt_small (64 train texts, a few seconds)."""
    return _hub_run(fake_hub_server, rt_small.id, "full")

