"""Reference baselines as run kinds: tfidf, probe (frozen encoder + regression), setfit.

Each kind goes through the real job path (store, CodeCarbon phases, run folder, finish_run),
and each saved run reloads through ``load_run_predictor`` to the probabilities it saved.
Budget: measured 5.6 min on 2 cores shared with other jobs (load 5–8), most of it MiniLM
embedding rt_small and genres_small once each (2,700 short texts); SetFit trains 2 steps.
"""

from __future__ import annotations

import numpy as np
import pytest

from pipelines import cli, embeddings, kinds, runs
from pipelines.demo import demo_jobs
from pipelines.jobs import run_now
from pipelines.linear_head import ALLOWED_TYPES, UntrustedFile, file_types, load_sklearn, new_head, save_sklearn
from pipelines.predictor import load_run_predictor
from pipelines.runfolder import RunFolder
from pipelines.store import Store


def _run(kind: str, **config) -> RunFolder:
    job = run_now(kind, config)
    assert job["status"] == "done", job["error"]
    return RunFolder(Store().run(job["run_id"])["path"])


def _reload_matches(folder: RunFolder, labels: list[str], atol: float):
    """Reloaded predictor on the saved test texts (one call, as the job scored them) == saved proba."""
    saved = runs.load_predictions(folder.path)
    predictor = load_run_predictor(folder.path)
    proba = predictor.predict_proba(saved["text"].tolist())
    np.testing.assert_allclose(proba, runs.proba_from_predictions(saved, labels), atol=atol)
    assert predictor.decide(proba) == [p if isinstance(p, str) else list(p) for p in saved["pred"]]
    return saved


@pytest.fixture(scope="module")
def tfidf_rt(rt_small):
    return _run("tfidf", dataset=rt_small.id, speed_samples=8)


def test_tfidf_beats_the_majority_class_and_round_trips(rt_small, tfidf_rt):
    metrics = tfidf_rt.read_metrics()
    majority = rt_small.test["label"].value_counts(normalize=True).max()
    assert metrics["accuracy"] > majority + 0.05, (metrics["accuracy"], majority)
    assert [p["phase"] for p in metrics["emissions"]["phases"]] == ["train", "eval"]
    assert metrics["train"]["C"] in (2.0, 8.0, 32.0) and metrics["train"]["n_features"] > 1000
    assert tfidf_rt.read_config()["kind"] == "tfidf"
    model_files = sorted(p.name for p in tfidf_rt.model.iterdir())
    assert model_files == ["tfidf_lr.skops", "workbench.json"]  # no pickle anywhere
    _reload_matches(tfidf_rt, rt_small.labels, atol=1e-9)


def test_tfidf_handles_multi_label(genres_small):
    folder = _run("tfidf", dataset=genres_small.id, speed_samples=0)
    metrics = folder.read_metrics()
    assert len(metrics["thresholds"]) == len(genres_small.labels)
    predictor = load_run_predictor(folder.path)
    assert predictor.multi_label and predictor.thresholds is not None
    np.testing.assert_allclose(predictor.thresholds, metrics["thresholds"])
    saved = _reload_matches(folder, genres_small.labels, atol=1e-9)
    assert all(isinstance(p, (list, np.ndarray)) for p in saved["pred"])
    assert metrics["macro_f1"] > 0.1 and metrics["subset_accuracy"] is not None


def test_probe_reuses_cached_embeddings_on_the_same_split(rt_small, monkeypatch, tmp_path):
    # A private model cache: the first run must encode, whatever earlier sessions cached.
    monkeypatch.setenv("WORKBENCH_MODEL_CACHE", str(tmp_path / "cache"))
    before = embeddings.ENCODE_CALLS
    first = _run("probe", dataset=rt_small.id, model="minilm", speed_samples=0)
    assert embeddings.ENCODE_CALLS == before + 3  # train, validation, test
    cache = next((tmp_path / "cache" / "embeddings").iterdir())
    assert cache.name == f"minilm-{rt_small.split_hash}"
    mtimes = {p.name: p.stat().st_mtime_ns for p in cache.glob("*.npy")}
    assert set(mtimes) == {"train.npy", "validation.npy", "test.npy"}
    assert first.read_metrics()["train"]["embeddings_cached"] == {"train": False, "validation": False, "test": False}

    second = _run("probe", dataset=rt_small.id, model="minilm", speed_samples=0, C=2.0)
    assert embeddings.ENCODE_CALLS == before + 3  # the encoder never ran
    assert {p.name: p.stat().st_mtime_ns for p in cache.glob("*.npy")} == mtimes
    m2 = second.read_metrics()
    assert set(m2["train"]["embeddings_cached"].values()) == {True} and m2["train"]["C"] == 2.0
    assert m2["model"]["trainable_params"] == 385 and m2["model"]["base_params"] > 20_000_000

    m1 = first.read_metrics()
    majority = rt_small.test["label"].value_counts(normalize=True).max()
    assert m1["accuracy"] > majority and m1["train"]["pooling"] == "mean" and m1["train"]["normalize"]
    # Same texts in one call: the job's batches, bit for bit; other batches: float32 noise only.
    saved = _reload_matches(first, rt_small.labels, atol=1e-6)
    head = load_run_predictor(first.path).predict_proba(saved["text"].head(5).tolist())
    np.testing.assert_allclose(head, runs.proba_from_predictions(saved.head(5), rt_small.labels), atol=1e-4)


def test_probe_handles_multi_label(genres_small):
    folder = _run("probe", dataset=genres_small.id, model="minilm", speed_samples=0)
    assert len(folder.read_metrics()["thresholds"]) == len(genres_small.labels)
    saved = _reload_matches(folder, genres_small.labels, atol=1e-6)
    assert all(isinstance(p, (list, np.ndarray)) for p in saved["pred"])


def test_skops_files_load_only_with_the_explicit_type_list(tfidf_rt, tmp_path):
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.preprocessing import FunctionTransformer

    assert file_types(tfidf_rt.model / "tfidf_lr.skops") <= set(ALLOWED_TYPES)
    assert load_sklearn(tfidf_rt.model / "tfidf_lr.skops") is not None

    import skops.io as sio

    # skops itself would trust a random forest; this workbench never saves one, so it is refused.
    forest = RandomForestClassifier(n_estimators=2).fit(np.eye(4), [0, 1, 0, 1])
    sio.dump(forest, tmp_path / "forest.skops")
    with pytest.raises(UntrustedFile, match="RandomForestClassifier"):
        load_sklearn(tmp_path / "forest.skops")
    # A file naming a function (code to call on load) is refused before skops builds anything.
    sio.dump(FunctionTransformer(np.log1p), tmp_path / "func.skops")
    with pytest.raises(UntrustedFile):
        load_sklearn(tmp_path / "func.skops")
    with pytest.raises(UntrustedFile):
        save_sklearn(forest, tmp_path / "refused.skops")
    assert not (tmp_path / "refused.skops").exists()
    # A label never seen in training: one-vs-rest keeps a constant predictor, which skops
    # distrusts by default and the explicit list accepts.
    ovr = new_head(1.0, multi_label=True, class_weights=False, seed=0)
    ovr.fit(np.eye(4), np.array([[1, 0], [0, 0], [1, 0], [0, 0]]))
    save_sklearn(ovr, tmp_path / "ovr.skops")
    assert "sklearn.multiclass._ConstantPredictor" in sio.get_untrusted_types(file=tmp_path / "ovr.skops")
    np.testing.assert_allclose(load_sklearn(tmp_path / "ovr.skops").predict_proba(np.eye(4)),
                               ovr.predict_proba(np.eye(4)))


def test_setfit_few_labels_run_completes_and_round_trips(rt_small):
    folder = _run("setfit", dataset=rt_small.id, model="minilm", n_per_class=4, num_iterations=2, speed_samples=0)
    metrics = folder.read_metrics()
    assert metrics["train"]["train_samples"] == 8 and metrics["train"]["n_per_class"] == 4
    assert (folder.model / "body" / "model.safetensors").exists() and (folder.model / "head.skops").exists()
    assert not list(folder.path.rglob("*.pkl")) and not (folder.path / "setfit-checkpoints").exists()
    _reload_matches(folder, rt_small.labels, atol=1e-6)


def test_tfidf_is_in_every_demo_and_runs_first():
    assert list(kinds.KINDS)[:2] == ["prepare", "tfidf"]
    for profile in ("default", "tiny"):
        jobs = demo_jobs(profile, "rotten_tomatoes")
        ref = [cfg for kind, cfg in jobs if kind == "tfidf"]
        assert len(ref) == 1
        others = [kinds.get(kind).cost(cfg) for kind, cfg in jobs if kind != "tfidf"]
        assert kinds.get("tfidf").cost(ref[0]) < min(others)
    # one config for both profiles: switching profile never trains the reference twice
    assert [c for k, c in demo_jobs("tiny") if k == "tfidf"] == [c for k, c in demo_jobs("default") if k == "tfidf"]


def test_baseline_cli_runs_a_kind_and_refuses_bad_flags(rt_small, capsys):
    assert cli.main(["baseline", "tfidf", "--dataset", rt_small.id, "--C", "8", "--char-ngram-max", "0",
                     "--speed-samples", "0", "--run-name", "cli tfidf"]) == 0
    out = capsys.readouterr().out
    assert "accuracy" in out and "C=8" in out
    assert any(r["name"] == "cli tfidf" for r in Store().runs(rt_small.id))
    before = len(Store().jobs(limit=10_000))
    assert cli.main(["baseline", "probe", "--dataset", rt_small.id, "--C", "-1"]) == 2
    assert "C must be" in capsys.readouterr().err
    assert len(Store().jobs(limit=10_000)) == before
