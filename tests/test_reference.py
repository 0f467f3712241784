"""The TF-IDF reference comes with every comparison: compare runs it, the Runs page queues it."""

from __future__ import annotations

from pipelines.cli import main
from pipelines.jobs import run_now
from pipelines.reference import ensure_reference, reference_run
from tests.fixtures_data import prepare_named


def test_compare_runs_the_missing_reference_once_then_reads_against_it(store, tmp_path, capsys):
    prepare_named("ref-ds", tmp_path)
    assert run_now("majority", {"dataset": "ref-ds"}, store)["status"] == "done"
    assert reference_run(store, "ref-ds") is None
    assert main(["compare", "--dataset", "ref-ds"]) == 0
    out = capsys.readouterr().out
    ref = reference_run(store, "ref-ds")
    assert ref is not None and ref["kind"] == "tfidf" and "TF-IDF reference" in out
    assert "verdict: " in out and "TF-IDF reference is best" in out  # the majority run collapsed
    assert main(["compare", "--dataset", "ref-ds"]) == 0  # a second compare trains nothing again
    assert [r["id"] for r in store.runs(dataset_id="ref-ds") if r["kind"] == "tfidf"] == [ref["id"]]
    assert ensure_reference(store, "ref-ds") == {"run": ref}


def test_no_reference_when_asked_or_when_nothing_to_compare(store, tmp_path, capsys):
    prepare_named("ref-empty", tmp_path)
    assert main(["compare", "--dataset", "ref-empty"]) == 2  # no runs: says so, trains nothing
    assert reference_run(store, "ref-empty") is None
    assert run_now("majority", {"dataset": "ref-empty"}, store)["status"] == "done"
    assert main(["compare", "--dataset", "ref-empty", "--no-reference"]) == 0
    assert reference_run(store, "ref-empty") is None


def test_a_reference_run_exports_a_card_that_loads_without_pickle(store, tmp_path, capsys):
    import skops.io

    from pipelines.modelcard import export_card

    prepare_named("ref-card", tmp_path)
    job = run_now("tfidf", {"dataset": "ref-card", "run_name": "TF-IDF reference"}, store)
    out = export_card(job["run_id"], tmp_path / "card")
    readme = (out / "README.md").read_text()
    assert "skops" in readme and "trusted=TRUSTED" in readme and "pickle" in readme
    trusted = eval(readme.split("TRUSTED = ", 1)[1].splitlines()[0])  # the list the card tells users to trust
    model = skops.io.load(out / "tfidf_lr.skops", trusted=trusted)
    labels = eval(readme.split("labels = ", 1)[1].split("  #")[0])
    assert [labels[i] for i in model.predict(["review number 3 is good", "review number 4 is bad"])] == ["pos", "neg"]
    no_weights = run_now("majority", {"dataset": "ref-card"}, store)
    assert main(["export-card", no_weights["run_id"], "--out", str(tmp_path / "no")]) == 2
    assert "no weights of its own" in capsys.readouterr().err
