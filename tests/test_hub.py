"""Hub search against a fake Hub on 127.0.0.1, with the real huggingface_hub client.

Filters, sorting, limits, exclusions and max-params must change the answer; malformed JSON
must not crash; 429/500 are retried then reported; a dead or silent endpoint falls back to
the catalog within 10 s; downloads never take remote code; the downloaded id trains.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from pipelines import catalog, hub, model_files, shortlist
from pipelines.candidates import SearchQuery, SearchResult
from tests.fixtures_hub import TINY_REPO

FAST = dict(backoff_s=0.05)


def ids(result) -> list[str]:
    return [c.id for c in result.candidates]


def run_search(q: SearchQuery, store, **settings) -> SearchResult:
    return hub.search(q, hub.HubSettings(**{**FAST, **settings}), store=store)


def test_filters_change_the_result(fake_hub, store):
    everything = run_search(SearchQuery(limit=50), store)
    assert everything.source == "hub" and everything.message is None
    assert len(everything.candidates) == 10

    encoders = ids(run_search(SearchQuery(task="fill-mask", limit=50), store))
    assert "acme/gpt-small" not in encoders and len(encoders) == 9
    assert ids(run_search(SearchQuery(task="text-generation", limit=50), store)) == ["acme/gpt-small"]
    assert ids(run_search(SearchQuery(language="fr", limit=50), store)) == ["acme/bert-fr"]
    assert set(ids(run_search(SearchQuery(query="BERT", limit=50), store))) == {
        "acme/bert-base-en", "acme/bert-fr", "acme/remote-code-bert", "acme/gated-bert", "acme/roberta-large",
        TINY_REPO}
    assert ids(run_search(SearchQuery(author="fake-org", limit=50), store)) == [TINY_REPO]

    mit = run_search(SearchQuery(licenses=["MIT"], limit=50), store)
    assert set(ids(mit)) == {"acme/distil-en", "acme/roberta-large", "acme/bin-only"}
    two = run_search(SearchQuery(licenses=["mit", "cc-by-4.0"], limit=50), store)
    assert set(ids(two)) == {"acme/distil-en", "acme/roberta-large", "acme/bin-only", "acme/bert-fr"}
    # the unlicensed repo is not silently kept by an allow-list
    assert {"id": "acme/bare", "reason": "licence unknown"} in two.skipped


def test_sort_orders_and_limits(fake_hub, store):
    q = dict(task="fill-mask", limit=3)
    assert ids(run_search(SearchQuery(sort="downloads", **q), store)) == [
        "acme/bert-base-en", "acme/roberta-large", "acme/distil-en"]
    assert ids(run_search(SearchQuery(sort="likes", **q), store)) == [
        "acme/distil-en", "acme/bert-base-en", "acme/roberta-large"]
    assert ids(run_search(SearchQuery(sort="trending", **q), store)) == [
        "acme/bert-fr", "acme/distil-en", "acme/bert-base-en"]
    assert ids(run_search(SearchQuery(sort="last_modified", **q), store)) == [
        "acme/bert-fr", TINY_REPO, "acme/distil-en"]
    assert len(run_search(SearchQuery(limit=1), store).candidates) == 1
    listing = [p for m, p in fake_hub.requests if p.startswith("/api/models?")]
    assert any("sort=trendingScore" in p and "direction=-1" in p for p in listing)


def test_exclusions_and_size_limits(fake_hub, store):
    res = run_search(SearchQuery(task="fill-mask", limit=50, exclude=["acme/bert-*", "ACME/Roberta-Large"]), store)
    got = ids(res)
    assert not {"acme/bert-base-en", "acme/bert-fr", "acme/roberta-large"} & set(got)
    assert "acme/distil-en" in got and TINY_REPO in got
    assert {"id": "acme/bert-fr", "reason": "excluded by 'acme/bert-*'"} in res.skipped

    small = run_search(SearchQuery(task="fill-mask", limit=50, max_params=100_000_000), store)
    assert set(ids(small)) == {TINY_REPO, "acme/distil-en", "acme/remote-code-bert", "acme/gated-bert"}
    reasons = {s["id"]: s["reason"] for s in small.skipped}
    assert reasons["acme/roberta-large"].startswith("355.0M params > max 100.0M")
    assert reasons["acme/bare"] == "parameter count unknown"

    light = run_search(SearchQuery(task="fill-mask", limit=50, max_size_mb=150), store)
    # distil-en is 66M params in F16 = 132 MB; bert-base-en 110M in F32 = 440 MB
    assert "acme/distil-en" in ids(light) and "acme/bert-base-en" not in ids(light)

    runnable = run_search(SearchQuery(task="fill-mask", limit=50, runnable_only=True), store)
    assert not {"acme/remote-code-bert", "acme/bin-only"} & set(ids(runnable))


def test_details_from_model_info(fake_hub, store, tmp_path):
    res = run_search(SearchQuery(task="fill-mask", limit=50), store, token=False)
    by_id = {c.id: c for c in res.candidates}
    base = by_id["acme/bert-base-en"]
    assert (base.license, base.params, base.size_mb) == ("apache-2.0", 110_000_000, 440.0)
    assert (base.architecture, base.model_type, base.languages) == ("BertForMaskedLM", "bert", ["en"])
    assert (base.downloads, base.likes, base.last_modified[:10], base.runnable) == (90000, 300, "2024-01-01", True)
    assert by_id["acme/distil-en"].size_mb == 132.0 and by_id["acme/distil-en"].license == "mit"

    tiny = by_id[TINY_REPO]
    assert tiny.params == model_files.params_from_dtypes(model_files.safetensors_params(tiny_dir(fake_hub, tmp_path)))

    remote = by_id["acme/remote-code-bert"]
    assert remote.needs_remote_code and not remote.runnable
    assert "trust_remote_code" in remote.reasons[0]
    assert not by_id["acme/bin-only"].runnable and "no safetensors" in by_id["acme/bin-only"].reasons[0]
    gated = by_id["acme/gated-bert"]
    assert gated.gated and not gated.runnable and "gated" in gated.reasons[0]
    logged_in = run_search(SearchQuery(query="gated"), store, token="hf_some_token").candidates[0]
    assert logged_in.runnable and "gated (manual)" in logged_in.notes


def tiny_dir(fake_hub, d: Path) -> Path:
    """Write the served tiny-bert files to a folder (to compare with the Hub's numbers)."""
    for name, data in fake_hub.files[TINY_REPO].items():
        if "/" not in name:
            (d / name).write_bytes(data)
    return d


def test_missing_and_malformed_fields_do_not_crash(fake_hub, store):
    fake_hub.extra_list_items.extend([{"_id": "no-id-here"}, "not a dict", {"id": "ghost/listed-only"}])
    res = run_search(SearchQuery(limit=50), store)
    by_id = {c.id: c for c in res.candidates}
    bare = by_id["acme/bare"]
    assert bare.params is None and bare.license is None and bare.size_mb is None and bare.languages == []
    assert bare.downloads == 40000
    # listed but unknown to model_info (404): kept with a note instead of failing the search
    ghost = by_id["ghost/listed-only"]
    assert any("details unavailable" in n and "404" in n for n in ghost.notes)
    assert len(res.candidates) == 11


@pytest.fixture()
def fresh_store(tmp_path):
    """A store of its own: the session store already caches earlier tests' details."""
    from pipelines.store import Store

    return Store(tmp_path / "fresh.sqlite")


def test_details_are_cached_with_ttl(fake_hub, fresh_store):
    store = fresh_store
    q = SearchQuery(task="fill-mask", limit=3)
    run_search(q, store)
    first = fake_hub.count("GET", "/api/models/")
    assert first == 3
    run_search(q, store)
    assert fake_hub.count("GET", "/api/models/") == first  # served from the store
    run_search(q, store, details_ttl_s=0)
    assert fake_hub.count("GET", "/api/models/") == 2 * first  # expired: fetched again
    key = f"{fake_hub.url}/acme/bert-base-en"
    assert store.get("hub", key)["id"] == "acme/bert-base-en"


def test_429_is_retried(fake_hub, fresh_store):
    fake_hub.reset("429-then-ok", fail_first=2)
    res = run_search(SearchQuery(task="fill-mask", limit=2), fresh_store)
    assert res.source == "hub" and ids(res) == ["acme/bert-base-en", "acme/roberta-large"]
    assert fake_hub.listings() == 3  # two 429s, then the listing
    assert fake_hub.count("GET", "/api/models/") == 2  # then one details request per candidate
    assert [p for _, p in fake_hub.requests[:3]] == [fake_hub.requests[0][1]] * 3  # the same listing, 3 times


def test_500_is_retried_then_reported(fake_hub, store):
    fake_hub.reset("always-500")
    res = run_search(SearchQuery(task="fill-mask", limit=2), store, retries=2)
    assert fake_hub.listings() == 3  # 1 try + 2 retries, then give up
    assert res.source == "catalog"
    assert "HTTP 500" in res.message and "3 attempts" in res.message and fake_hub.url in res.message
    assert "minilm" in [c.name for c in res.candidates]


def test_search_cli_against_the_hub(fake_hub, capsys, tmp_path):
    from pipelines import cli

    excl = tmp_path / "exclude.txt"
    excl.write_text("# models we never want\nacme/roberta-*\n")
    argv = ["search", "--task", "fill-mask", "--license", "mit", "apache-2.0", "--exclude-file", str(excl),
            "--max-params", "100M", "--sort", "likes", "--limit", "3", "--json"]
    assert cli.main(argv) == 0
    out = capsys.readouterr()
    data = json.loads(out.out)
    assert data["source"] == "hub" and data["endpoint"] == fake_hub.url and out.err == ""
    assert [c["id"] for c in data["candidates"]] == ["acme/distil-en", "acme/gated-bert", "acme/remote-code-bert"]
    assert {"id": "acme/roberta-large", "reason": "excluded by 'acme/roberta-*'"} in data["skipped"]

    assert cli.main(["search", "tiny"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3 and lines[2].startswith(TINY_REPO) and "110" not in lines[2]

    # shortlisting a Hub id looks its details up on the Hub
    from tests.fixtures_data import prepare_named

    prepare_named("rt-demo", tmp_path)
    assert cli.main(["shortlist", "add", "rt-demo", "acme/distil-en"]) == 0
    entry = shortlist.shortlist("rt-demo")[0]
    assert (entry["id"], entry["params"], entry["license"]) == ("acme/distil-en", 66_000_000, "mit")


def _search_in_thread(q: SearchQuery, store) -> dict:
    """Run a default-settings search in a thread; the caller checks it finished in time."""
    box: dict = {}
    th = threading.Thread(target=lambda: box.update(res=hub.search(q, store=store)), daemon=True)
    th.start()
    th.join(10)
    box["finished"] = not th.is_alive()
    return box


def test_unreachable_endpoint_falls_back_within_10s(dead_hub, store):
    box = _search_in_thread(SearchQuery(task="fill-mask", limit=5), store)
    assert box["finished"], "search did not return within 10 s"
    res = box["res"]
    assert res.source == "catalog" and dead_hub in res.message and "cannot connect" in res.message
    assert {"minilm", "mpnet"} <= {c.name for c in res.candidates}


def test_silent_server_falls_back_within_10s(hang_hub, store):
    box = _search_in_thread(SearchQuery(task="fill-mask", limit=5), store)
    assert box["finished"], "search against a server that never answers did not return within 10 s"
    res = box["res"]
    assert res.source == "catalog" and "no answer" in res.message
    assert len(hang_hub.conns) >= 1  # it really connected and waited


def test_offline_env_skips_the_hub(fake_hub, store, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    res = run_search(SearchQuery(task="fill-mask"), store)
    assert res.source == "catalog" and res.message.startswith("HF_HUB_OFFLINE=1")
    assert fake_hub.requests == []


def test_remote_code_repo_is_refused(fake_hub, store):
    with pytest.raises(ValueError, match="trust_remote_code"):
        hub.download("acme/remote-code-bert", hub.HubSettings(**FAST), store=store)
    with pytest.raises(ValueError, match="no safetensors"):
        hub.download("acme/bin-only", hub.HubSettings(**FAST), store=store)
    with pytest.raises(ValueError, match="no such model"):
        hub.download("acme/does-not-exist", hub.HubSettings(**FAST), store=store)
    assert fake_hub.count("GET", "/acme/") == 0 and fake_hub.count("HEAD", "/acme/") == 0  # nothing fetched


def test_download_takes_only_safe_files_and_resolves_offline(fake_hub, store, monkeypatch):
    folder = hub.download(TINY_REPO, hub.HubSettings(**FAST), store=store)
    names = {p.name for p in folder.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "README.md"} <= names
    assert not {"modeling_tiny.py", "pytorch_model.bin", "onnx"} & names
    # once downloaded, the id resolves to the files on disk, also offline
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    from pipelines.assets import resolve_model

    assert resolve_model(TINY_REPO) == str(folder)
    assert hub.download(TINY_REPO) == folder
    # a bundled model needs no download (also offline)
    assert hub.download("sentence-transformers/all-MiniLM-L6-v2") == Path(resolve_model("minilm"))
    # and the installed catalog lists it with locally computed details
    local = {c.id: c for c in catalog.installed()}[TINY_REPO]
    assert local.source == "hf-cache" and local.installed and local.runnable
    cached = store.get("hub", f"{fake_hub.url}/{TINY_REPO}")
    assert local.params == model_files.params_from_dtypes(cached["safetensors"]["parameters"]) > 10_000


def test_search_download_finetune_end_to_end(tiny_hub_full_run, store):
    found, job, run = tiny_hub_full_run["search"], tiny_hub_full_run["job"], tiny_hub_full_run["run"]
    assert found.source == "hub" and ids(found) == [TINY_REPO]
    assert job["status"] == "done", job.get("error")
    assert run["model"] == TINY_REPO and run["kind"] == "finetune"
    folder = Path(run["path"])
    cfg = json.loads((folder / "config.json").read_text())
    assert cfg["config"]["model"] == TINY_REPO
    assert cfg["resolved"]["model_path"] == str(tiny_hub_full_run["folder"])  # trained from the downloaded files
    metrics = json.loads((folder / "metrics.json").read_text())
    assert metrics["n"] == 120 and 0.0 <= metrics["accuracy"] <= 1.0
    assert metrics["model"]["total_params"] > 10_000
    assert (folder / "model" / "model.safetensors").is_file()
    assert store.run(run["id"])["summary"]["accuracy"] == metrics["accuracy"]
