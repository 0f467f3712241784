"""Sweeps: a grid queues one job per point, Compare folds it on validation, retention drops weights."""

from __future__ import annotations

import pytest

from pipelines import sweeps
from pipelines.configs import FinetuneConfig
from pipelines.jobs import execute
from pipelines.runfolder import RunFolder
from tests.kind_majority import MajorityConfig


def test_grid_parsing_is_typed_and_refuses_bad_specs():
    grid = sweeps.parse_grid(["learning_rate=1e-4,3e-4", "method=full,lora", "group-by-length=true,false"],
                             FinetuneConfig)
    assert grid == {"learning_rate": [1e-4, 3e-4], "method": ["full", "lora"], "group_by_length": [True, False]}
    assert len(sweeps.points({"dataset": "d"}, grid)) == 8
    for bad, message in [("nope=1", "has no field 'nope'"), ("learning_rate", "FIELD=V1,V2"),
                         ("epochs=one", "not a valid epochs"), ("seed=1,2", None)]:
        if message:
            with pytest.raises(ValueError, match=message):
                sweeps.parse_grid([bad], FinetuneConfig)
    with pytest.raises(ValueError, match="twice"):
        sweeps.parse_grid(["seed=1", "seed=2"], FinetuneConfig)


def test_invalid_point_queues_nothing(store):
    before = len(store.jobs(limit=10_000))
    with pytest.raises(ValueError, match="learning_rate"):
        sweeps.queue_sweep(store, "finetune", {"dataset": "rt_small"}, {"learning_rate": [1e-4, float("inf")]})
    assert len(store.jobs(limit=10_000)) == before


def test_sweep_folds_to_best_on_validation_and_drops_other_weights(store, rt_small, monkeypatch):
    # the majority kind has no validation score of its own: give each point one by its seed
    monkeypatch.setattr(sweeps, "validation_score", lambda m: {1: 0.6, 2: 0.9, 3: 0.7}.get(m.get("seed_for_test")))
    from tests import kind_majority

    real = kind_majority.finish_run

    def with_seed(ctx, ds, predictor, **kw):
        kw["blocks"] = {"seed_for_test": kw["config"].seed}
        return real(ctx, ds, predictor, **kw)

    monkeypatch.setattr(kind_majority, "finish_run", with_seed)
    grid = sweeps.parse_grid(["seed=1,2,3"], MajorityConfig)
    sweep_id, ids = sweeps.queue_sweep(store, "majority", {"dataset": rt_small.id}, grid, keep="best")
    assert len(ids) == 3 and all(store.job(i)["sweep"] == sweep_id for i in ids)
    for job_id in ids:  # in this process (as `finetune --grid` does), so the patches above apply
        assert store.claim(job_id)
        execute(store, store.job(job_id))
    sweeps.apply_retention(store, sweep_id)
    rows = [r for r in store.runs() if r.get("sweep") == sweep_id]
    assert len(rows) == 3
    best = sweeps.best_runs(store, rows)[sweep_id]
    assert store.run(best)["name"].endswith("seed=2")
    assert [r["id"] for r in sweeps.collapse(store, rows)] == [best]
    from pipelines.compare import load_comparison

    folded = load_comparison(store, run_ids=[r["id"] for r in rows], fold_sweeps=True)
    assert folded.run_ids == [best] and any("folded" in n for n in folded.notes)
    for row in rows:  # every point keeps metrics and predictions; only the best keeps its weights
        folder = RunFolder(row["path"])
        assert folder.metrics.exists() and folder.predictions.exists()
        assert sweeps.weights_dropped(folder.path) == (row["id"] != best)


@pytest.mark.slow
def test_cli_finetune_grid_runs_a_real_sweep_and_keeps_only_the_best_weights(store, rt_small, capsys):
    from pipelines.cli import main
    from pipelines.predictor import load_run_predictor

    tiny = ["--dataset", rt_small.id, "--max-train-samples", "48", "--max-eval-samples", "24", "--max-length", "32",
            "--speed-samples", "0", "--method", "lora", "--epochs", "1"]
    assert main(["finetune", *tiny, "--grid", "learning_rate=1e-4,3e-3", "--keep-weights", "best"]) == 0
    out = capsys.readouterr().out
    sweep_id = out.split("sweep ", 1)[1].split(":")[0]
    rows = [r for r in store.runs() if r.get("sweep") == sweep_id]
    assert len(rows) == 2 and "best on validation" in out
    scores = {r["id"]: sweeps.validation_score(RunFolder(r["path"]).read_metrics()) for r in rows}
    best = max(scores, key=scores.get)
    assert sweeps.best_runs(store, rows)[sweep_id] == best
    kept = [r for r in rows if not sweeps.weights_dropped(r["path"])]
    assert [r["id"] for r in kept] == [best]
    assert load_run_predictor(kept[0]["path"]).predict_proba(["a fine film"]).shape == (1, 2)
