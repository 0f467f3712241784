"""The installed catalog (offline answer to a search) with the real bundled assets, the
safetensors header reader, the shortlist, and the ``search``/``shortlist`` CLI offline."""

from __future__ import annotations

import json

import numpy as np
import pytest

from pipelines import catalog, cli, model_files, shortlist
from pipelines.candidates import SearchQuery, parse_count


@pytest.fixture(scope="module", autouse=True)
def empty_hf_cache(tmp_path_factory):
    """Only the bundled assets: other tests download into the session's HF cache."""
    from huggingface_hub import constants

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(constants, "HF_HUB_CACHE", str(tmp_path_factory.mktemp("empty-hf-cache")))
        yield


@pytest.fixture(scope="module")
def installed():
    return {c.name or c.id: c for c in catalog.installed()}


def test_hf_cache_models_are_listed_with_local_details(tmp_path, monkeypatch):
    """A repo in the HF cache layout (refs/main → snapshots/<sha>) is listed with computed details."""
    from huggingface_hub import constants
    from safetensors.numpy import save_file

    sha = "a" * 40
    repo = tmp_path / "models--someone--small-enc"
    snap = repo / "snapshots" / sha
    snap.mkdir(parents=True)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(sha)
    save_file({"emb": np.zeros((10, 8), np.float32)}, str(snap / "model.safetensors"))
    (snap / "config.json").write_text(json.dumps({"architectures": ["BertModel"], "model_type": "bert"}))
    (snap / "README.md").write_text("---\nlicense: mit\nlanguage: [de]\n---\n")
    remote = tmp_path / "models--someone--custom"
    (remote / "snapshots" / sha).mkdir(parents=True)
    (remote / "snapshots" / sha / "config.json").write_text(json.dumps({"auto_map": {"AutoModel": "m.M"}}))
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path))
    got = {c.id: c for c in catalog.hf_cache_candidates()}
    small = got["someone/small-enc"]
    assert (small.params, small.license, small.languages, small.sha) == (80, "mit", ["de"], sha)
    assert small.source == "hf-cache" and small.runnable and small.model_ref == "someone/small-enc"
    custom = got["someone/custom"]
    assert not custom.runnable and any("trust_remote_code" in r for r in custom.reasons)


def test_bundled_encoders_have_correct_details(installed):
    minilm, mpnet = installed["minilm"], installed["mpnet"]
    # floating-point parameters from the safetensors headers (the int64 position ids are buffers)
    assert minilm.params == 22_713_216 and round(minilm.params / 1e6, 1) == 22.7
    assert mpnet.params == 109_486_464 and round(mpnet.params / 1e6) == 109
    assert minilm.size_mb == pytest.approx(90.9, abs=0.1) and mpnet.size_mb == pytest.approx(438.0, abs=0.1)
    assert minilm.disk_mb >= minilm.size_mb
    for c in (minilm, mpnet):
        assert c.license == "apache-2.0" and c.languages == ["en"] and c.kind == "encoder"
        assert c.runnable and c.installed and c.source == "bundled"
    assert (minilm.architecture, minilm.model_type) == ("BertModel", "bert")
    assert mpnet.model_type == "mpnet"
    assert minilm.id == "sentence-transformers/all-MiniLM-L6-v2" and minilm.model_ref == "minilm"
    assert minilm.package_license == "MIT"  # the wrapper package's own licence, shown apart from the model's


def test_llm_assets_are_listed_with_params_or_a_note(installed):
    for name in ("smollm2", "gemma3-270m"):
        c = installed[name]
        assert c.kind == "llm" and c.task == "text-generation"
        if c.local_path:  # converted: counted from its safetensors
            assert c.params and c.params > 100_000_000
        else:
            assert any("not converted yet" in n for n in c.notes)


def test_safetensors_header_counts(tmp_path):
    from safetensors.numpy import save_file

    save_file({"w": np.zeros((3, 4), np.float32), "b": np.zeros(4, np.float16),
               "position_ids": np.zeros((1, 7), np.int64)}, str(tmp_path / "model.safetensors"))
    counts = model_files.safetensors_params(tmp_path)
    assert counts == {"F32": 12, "F16": 4, "I64": 7}
    assert model_files.params_from_dtypes(counts) == 16
    assert model_files.size_from_dtypes(counts) == pytest.approx((12 * 4 + 4 * 2 + 7 * 8) / 1e6)
    (tmp_path / "bad.safetensors").write_bytes(b"\xff" * 16)
    with pytest.raises(ValueError, match="does not look like a safetensors file"):
        model_files.safetensors_header(tmp_path / "bad.safetensors")


def test_catalog_search_applies_the_same_filters():
    def names(**kw) -> list[str]:
        return [c.name for c in catalog.search_catalog(SearchQuery(**kw)).candidates]

    assert names(task="fill-mask") == ["minilm", "mpnet"]
    assert names(task="text-generation") == ["smollm2", "gemma3-270m"]
    assert names(task="fill-mask", max_params=50_000_000) == ["minilm"]
    assert names(exclude=["mpnet", "google/*"]) == ["minilm", "smollm2"]
    assert names(query="MPNet") == ["mpnet"]
    assert names(licenses=["gemma"]) == ["gemma3-270m"]
    assert names(task="fill-mask", limit=1) == ["minilm"]
    res = catalog.search_catalog(SearchQuery(task="fill-mask", max_size_mb=100))
    assert [c.name for c in res.candidates] == ["minilm"]
    assert res.skipped == [{"id": "sentence-transformers/all-mpnet-base-v2", "reason": "438 MB > max 100 MB"}]


def test_parse_count_and_bad_queries():
    assert parse_count("150M") == 150_000_000
    assert parse_count("1.5B") == 1_500_000_000
    assert parse_count("500k") == 500_000
    assert parse_count("22700000") == 22_700_000
    with pytest.raises(ValueError, match="150M"):
        parse_count("lots")
    with pytest.raises(ValueError, match="unknown sort"):
        SearchQuery(sort="stars")
    with pytest.raises(ValueError, match="limit"):
        SearchQuery(limit=0)


def test_shortlist_add_remove_list(store):
    mini = catalog.asset_candidate(catalog.assets.ASSETS["minilm"])
    shortlist.shortlist_add("ds-a", mini, store)
    shortlist.shortlist_add("ds-a", {"id": "acme/bert-base-en", "params": 110_000_000}, store)
    shortlist.shortlist_add("ds-a", mini, store)  # re-adding refreshes, never duplicates
    items = shortlist.shortlist("ds-a", store)
    assert [x["id"] for x in items] == ["sentence-transformers/all-MiniLM-L6-v2", "acme/bert-base-en"]
    assert items[0]["model_ref"] == "minilm" and items[1]["model_ref"] == "acme/bert-base-en"
    assert shortlist.shortlist("ds-b", store) == []  # per dataset
    assert [x["id"] for x in shortlist.shortlist_remove("ds-a", "minilm", store)] == ["acme/bert-base-en"]
    with pytest.raises(KeyError, match="not on the shortlist"):
        shortlist.shortlist_remove("ds-a", "minilm", store)
    assert store.get("shortlist", "ds-a")[0]["id"] == "acme/bert-base-en"


def test_search_and_shortlist_cli_offline(capsys, tmp_path):
    from tests.fixtures_data import prepare_named

    prepare_named("cli-ds", tmp_path)
    assert cli.main(["search", "--task", "fill-mask", "--max-params", "50M", "--json"]) == 0
    out = capsys.readouterr()
    data = json.loads(out.out)
    assert data["source"] == "catalog" and [c["name"] for c in data["candidates"]] == ["minilm"]
    assert out.err.strip().startswith("note: HF_HUB_OFFLINE=1: Hub search skipped")

    assert cli.main(["search", "--task", "fill-mask"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split()[:4] == ["model", "source", "task", "params"]
    assert table[2].split()[:4] == ["minilm", "bundled", "feature-extraction", "22.7M"]

    assert cli.main(["shortlist", "add", "cli-ds", "minilm", "mpnet"]) == 0
    assert cli.main(["shortlist", "remove", "cli-ds", "mpnet"]) == 0
    capsys.readouterr()
    assert cli.main(["shortlist", "list", "cli-ds", "--json"]) == 0
    assert [x["name"] for x in json.loads(capsys.readouterr().out)] == ["minilm"]
    # a model that is neither installed nor reachable: one clear line
    assert cli.main(["shortlist", "add", "cli-ds", "nobody/nothing"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: nobody/nothing is neither installed nor reachable") and "\n" not in err
    assert cli.main(["search", "--max-params", "huge"]) == 2
    assert "cannot read a parameter count" in capsys.readouterr().err
