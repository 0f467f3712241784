"""pipelines.compare, .selection, .stats and ``python -m pipelines compare``: loading runs of one split,
refusing mixes, paired significance tests, the Pareto front. Real runs from the pipeline (tests/fixtures_runs.py)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from scipy import stats as scipy_stats

from pipelines import bootstrap, compare, paths, stats
from pipelines.selection import MixedSplitsError

# ------------------------------------------------------------------------ significance


def test_mcnemar_exact_matches_binomial_reference():
    # 3 examples only A gets right, 9 only B: 12 discordant pairs < 25 -> exact binomial test.
    ca = np.array([1] * 3 + [0] * 9 + [1] * 50 + [0] * 10, dtype=bool)
    cb = np.array([0] * 3 + [1] * 9 + [1] * 50 + [0] * 10, dtype=bool)
    res = stats.mcnemar(ca, cb)
    assert (res["only_a_correct"], res["only_b_correct"], res["both_correct"], res["both_wrong"]) == (3, 9, 50, 10)
    assert res["method"] == "exact binomial"
    assert res["p_value"] == pytest.approx(scipy_stats.binomtest(3, 12, 0.5).pvalue)
    assert res["p_value"] == pytest.approx(0.146, abs=0.001)


def test_mcnemar_chi_square_for_many_discordant_pairs_and_none():
    ca = np.array([1] * 10 + [0] * 40, dtype=bool)
    cb = ~ca
    res = stats.mcnemar(ca, cb)
    assert res["method"].startswith("chi-square")
    assert res["statistic"] == pytest.approx((abs(10 - 40) - 1) ** 2 / 50)
    assert res["p_value"] == pytest.approx(scipy_stats.chi2.sf((30 - 1) ** 2 / 50, 1))
    same = stats.mcnemar(ca, ca)
    assert same["p_value"] == 1.0 and same["only_a_correct"] == same["only_b_correct"] == 0
    with pytest.raises(ValueError, match="same length"):
        stats.mcnemar(ca, ca[:-1])


def _onehot(idx, k):
    return np.eye(k, dtype=np.int64)[np.asarray(idx)]


def test_paired_bootstrap_detects_a_real_difference_and_not_a_null_one():
    rng = np.random.default_rng(1)
    n, k = 300, 3
    gold = rng.integers(0, k, n)
    good = np.where(rng.random(n) < 0.9, gold, (gold + 1) % k)   # ~90% right
    bad = np.where(rng.random(n) < 0.6, gold, (gold + 1) % k)    # ~60% right
    g, pg, pb = _onehot(gold, k), _onehot(good, k), _onehot(bad, k)
    res = stats.paired_bootstrap(g, pb, pg, "accuracy", n_bootstrap=1000)
    assert res["difference"] == pytest.approx((good == gold).mean() - (bad == gold).mean())
    assert res["p_value"] < 0.01 and res["ci"][0] > 0
    f1 = stats.paired_bootstrap(g, pb, pg, "macro_f1", n_bootstrap=1000)
    assert f1["difference"] > 0.2 and f1["p_value"] < 0.01
    null = stats.paired_bootstrap(g, pg, pg, "macro_f1", n_bootstrap=500)
    assert null["difference"] == 0 and null["p_value"] == 1.0
    with pytest.raises(ValueError, match="accuracy' or 'macro_f1"):
        stats.paired_bootstrap(g, pg, pg, "auc")


def test_macro_f1_in_bootstrap_matches_sklearn():
    from sklearn.metrics import f1_score

    rng = np.random.default_rng(2)
    gold, pred = rng.integers(0, 4, 200), rng.integers(0, 4, 200)
    tp = (_onehot(gold, 4) * _onehot(pred, 4)).sum(0).astype(float)
    fp = ((1 - _onehot(gold, 4)) * _onehot(pred, 4)).sum(0).astype(float)
    fn = (_onehot(gold, 4) * (1 - _onehot(pred, 4))).sum(0).astype(float)
    assert bootstrap.macro_f1_from_counts(tp, fp, fn) == pytest.approx(f1_score(gold, pred, average="macro"))


def test_p_value_in_words():
    assert stats.p_value_in_words(0.03) == "p = 0.03: the difference is unlikely to be chance at the 5% level"
    assert stats.p_value_in_words(0.0004).startswith("p < 0.001: the difference is unlikely")
    words = stats.p_value_in_words(0.41)
    assert words.startswith("p = 0.41: the difference could well be chance") and "not significant" in words
    assert "1% level" in stats.p_value_in_words(0.03, alpha=0.01) and "could well" in stats.p_value_in_words(
        0.03, alpha=0.01)


# ----------------------------------------------------------------------------- Pareto

def test_pareto_front_keeps_only_undominated_points():
    quality = [0.80, 0.85, 0.70, 0.85, 0.90, np.nan, 0.60]
    cost = [1.0, 2.0, 0.5, 3.0, 10.0, 0.1, 0.5]
    # 0.85@3.0 is dominated by 0.85@2.0; 0.60@0.5 by 0.70@0.5; NaN is never on the front.
    assert stats.pareto_front(quality, cost).tolist() == [True, True, True, False, True, False, False]
    assert stats.pareto_front([0.5, 0.5], [1.0, 1.0]).tolist() == [True, True]  # equal points: both stay
    with pytest.raises(ValueError, match="same length"):
        stats.pareto_front([1, 2], [1])


# ------------------------------------------------------------------- real runs, one split

def test_load_comparison_of_real_runs(two_runs, store):
    comp = compare.load_comparison(store, dataset_id=two_runs.dataset_id)
    assert set(two_runs.run_ids) <= set(comp.run_ids)
    assert comp.split_hash == store.run(two_runs.run_ids[0])["split_hash"]
    row = comp.runs.loc[two_runs.run_ids[0]]
    metrics = json.loads((paths.runs_dir() / row["run_id"] / "metrics.json").read_text())
    assert row["accuracy"] == pytest.approx(metrics["accuracy"])
    assert row["accuracy_lo"] <= row["accuracy"] <= row["accuracy_hi"]
    assert row["energy_kwh"] == pytest.approx(metrics["emissions"]["total_energy_kwh"])
    assert row["co2_g"] == pytest.approx(metrics["emissions"]["total_co2_kg"] * 1000)
    assert row["params_m"] == pytest.approx(metrics["model"]["total_params"] / 1e6)
    assert comp.runs["label"].is_unique
    pc = comp.per_class()
    assert set(pc["class"]) == set(comp.labels) and len(pc) == len(comp.labels) * len(comp.run_ids)
    cm = comp.confusion(two_runs.run_ids[0])
    assert cm.shape == (len(comp.labels), len(comp.labels)) and cm.sum() == metrics["n"]
    em = comp.emissions()
    assert {"train", "eval"} <= set(em["phase"]) and em["cpu_method"].notna().all()
    hist = comp.history(store)
    assert {"loss", "eval_macro_f1"} <= set(hist["name"]) and set(hist["run_id"]) <= set(comp.run_ids)


def test_significance_between_two_real_runs(two_runs, store):
    comp = compare.load_comparison(store, run_ids=two_runs.run_ids)
    a, b = two_runs.run_ids
    res = stats.significance(comp, a, b, n_bootstrap=300)
    pa, pb = comp.predictions(a), comp.predictions(b)
    ca = (pa["gold"] == pa["pred"]).to_numpy()
    cb = (pb.set_index("id").loc[pa["id"], "pred"].to_numpy() == pa["gold"].to_numpy())
    assert res["n"] == len(pa)
    assert res["mcnemar"]["only_a_correct"] == int((ca & ~cb).sum())
    assert res["mcnemar"]["only_b_correct"] == int((~ca & cb).sum())
    assert res["bootstrap_accuracy"]["difference"] == pytest.approx(cb.mean() - ca.mean())
    for key in ("mcnemar", "bootstrap_accuracy", "bootstrap_macro_f1"):
        assert res[key]["words"].startswith("p ") and "5% level" in res[key]["words"]


def test_mixing_splits_is_refused_with_the_reason(two_runs, other_split_run, store):
    a = two_runs.run_ids[0]
    with pytest.raises(MixedSplitsError) as err:
        compare.load_comparison(store, run_ids=[a, other_split_run])
    msg = str(err.value)
    assert "different test splits" in msg and a in msg and other_split_run in msg
    assert store.run(a)["split_hash"][:8] in msg and store.run(other_split_run)["split_hash"][:8] in msg
    with pytest.raises(ValueError, match="unknown run id"):
        compare.load_comparison(store, run_ids=[a, "no-such-run"])
    with pytest.raises(ValueError, match="choose one dataset"):
        compare.load_comparison(store)  # the store holds runs on two splits


# -------------------------------------------------------------------------------- CLI

def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pipelines", "compare", *args], cwd=paths.REPO_ROOT,
                          capture_output=True, text=True, timeout=120)


def test_cli_compare_formats_and_refusal(two_runs, other_split_run):
    out = _cli("--dataset", two_runs.dataset_id, "--format", "csv")
    assert out.returncode == 0, out.stderr
    from io import StringIO

    df = pd.read_csv(StringIO(out.stdout))
    assert set(two_runs.run_ids) <= set(df["run_id"]) and df["split_hash"].nunique() == 1
    assert "best_in" in df.columns and df["best_in"].fillna("").str.contains("macro_f1").sum() >= 1
    md = _cli("--runs", *two_runs.run_ids, "--format", "markdown")
    assert md.returncode == 0 and md.stdout.count("\n| ") >= 3 and "**" in md.stdout
    tex = _cli("--runs", *two_runs.run_ids, "--format", "latex", "--test", *two_runs.run_ids)
    assert tex.returncode == 0 and "\\begin{tabular}" in tex.stdout and "\\textbf{" in tex.stdout
    assert "McNemar" in tex.stderr and "level" in tex.stderr
    js = _cli("--runs", *two_runs.run_ids, "--format", "json")
    assert {r["run_id"] for r in json.loads(js.stdout)} == set(two_runs.run_ids)
    mixed = _cli("--runs", two_runs.run_ids[0], other_split_run)
    assert mixed.returncode == 2 and mixed.stderr.startswith("error: cannot compare runs on different test splits")
    assert len(mixed.stderr.strip().splitlines()) == 1
