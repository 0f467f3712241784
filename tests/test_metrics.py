"""compute_metrics on hand-checkable inputs (no models): the numbers every leaderboard shows."""

from __future__ import annotations

import numpy as np
import pytest

from pipelines.metrics import bootstrap_cis, compute_metrics

LABELS = ["neg", "pos"]


def _onehot(idx, n_labels=2, p=0.9):
    out = np.full((len(idx), n_labels), (1 - p) / (n_labels - 1))
    out[np.arange(len(idx)), idx] = p
    return out


def test_binary_by_hand():
    gold = ["neg", "neg", "pos", "pos", "pos"]
    pred = [0, 1, 1, 1, 0]  # 3/5 right; neg: P 1/2 R 1/2; pos: P 2/3 R 2/3
    m = compute_metrics(gold, _onehot(pred), LABELS, multi_label=False)
    assert m["accuracy"] == pytest.approx(0.6)
    assert m["per_class"]["neg"] == {"precision": 0.5, "recall": 0.5, "f1": 0.5, "support": 2}
    assert m["per_class"]["pos"]["f1"] == pytest.approx(2 / 3)
    assert m["macro_f1"] == pytest.approx((0.5 + 2 / 3) / 2)
    assert m["weighted_f1"] == pytest.approx((2 * 0.5 + 3 * 2 / 3) / 5)
    assert m["micro_f1"] == pytest.approx(0.6)
    assert m["confusion_matrix"] == [[1, 1], [1, 2]]  # rows gold, columns predicted, in label order
    assert m["n"] == 5 and m["positive_label"] == "pos"
    # pos-class scores: gold-pos rows {0.9, 0.9, 0.1}, gold-neg rows {0.1, 0.9}; of the 6 (pos, neg) pairs
    # 2 are ordered right, 3 tie (count 1/2) and 1 is wrong → AUC (2 + 1.5) / 6
    assert m["roc_auc"] == pytest.approx(3.5 / 6)
    assert 0 <= m["pr_auc"] <= 1


def test_perfect_and_integer_gold():
    gold = np.array([0, 1, 1, 0, 1])
    m = compute_metrics(gold, _onehot(gold), LABELS, multi_label=False)
    assert m["accuracy"] == 1.0 and m["macro_f1"] == 1.0 and m["roc_auc"] == 1.0
    assert m["accuracy_ci"] == [1.0, 1.0]


def test_cis_contain_point_estimate_and_are_seeded():
    rng = np.random.default_rng(3)
    gold = rng.integers(0, 3, 400)
    pred = np.where(rng.random(400) < 0.7, gold, rng.integers(0, 3, 400))
    m = compute_metrics(gold, _onehot(pred, 3), ["a", "b", "c"], multi_label=False)
    for key, ci in (("accuracy", m["accuracy_ci"]), ("macro_f1", m["macro_f1_ci"])):
        lo, hi = ci
        assert lo < m[key] < hi, key
        assert 0.02 < hi - lo < 0.2  # ~±1.96·sqrt(p(1-p)/n) ≈ ±0.045 for n=400
    again = compute_metrics(gold, _onehot(pred, 3), ["a", "b", "c"], multi_label=False)
    assert again["accuracy_ci"] == m["accuracy_ci"] and again["macro_f1_ci"] == m["macro_f1_ci"]


def test_bootstrap_macro_f1_matches_sklearn_on_each_resample():
    """The vectorised count trick equals scoring each resample with sklearn."""
    from sklearn.metrics import f1_score

    rng = np.random.default_rng(0)
    gold = rng.integers(0, 3, 60)
    pred = np.where(rng.random(60) < 0.6, gold, rng.integers(0, 3, 60))
    g, p = np.eye(3, dtype=int)[gold], np.eye(3, dtype=int)[pred]
    _, ci = bootstrap_cis(gold == pred, g, p, n_bootstrap=200, seed=1)
    rng2 = np.random.default_rng(1)
    idx = rng2.integers(0, 60, size=(200, 60))
    ref = [f1_score(gold[i], pred[i], labels=[0, 1, 2], average="macro", zero_division=0) for i in idx]
    assert ci == pytest.approx(list(np.percentile(ref, [2.5, 97.5])))


def test_invalid_answers_count_wrong_and_map_to_no_class():
    gold = ["neg", "pos", "pos", "neg"]
    proba = _onehot([0, 1, 1, 0])  # all right...
    proba[2] = np.nan  # ...but row 2 and 3 are unusable answers
    invalid = [False, False, True, True]
    m = compute_metrics(gold, proba, LABELS, multi_label=False, invalid=invalid)
    assert m["accuracy"] == 0.5 and m["invalid_rate"] == 0.5 and m["n_invalid"] == 2
    # an invalid row is a miss for its gold class, never a false positive of another class
    pos = m["per_class"]["pos"]
    assert (pos["precision"], pos["recall"], pos["support"]) == (1.0, 0.5, 2) and pos["f1"] == pytest.approx(2 / 3)
    assert m["per_class"]["neg"]["precision"] == 1.0
    assert m["confusion_matrix"] == [[1, 0], [0, 1]] and m["confusion_invalid"] == [1, 1]


def test_nan_scores_on_valid_rows_are_refused():
    proba = _onehot([0, 1])
    proba[1, 0] = np.nan
    with pytest.raises(ValueError, match="row 1.*not marked invalid"):
        compute_metrics(["neg", "pos"], proba, LABELS, multi_label=False)


def test_auc_none_when_undefined():
    m = compute_metrics(["pos", "pos", "pos"], _onehot([1, 0, 1]), LABELS, multi_label=False)
    assert m["roc_auc"] is None and m["pr_auc"] is None
    # multi-class with one class absent from gold: averaged over the classes that are defined
    m3 = compute_metrics(["a", "b", "a", "b"], _onehot([0, 1, 0, 1], 3), ["a", "b", "c"], multi_label=False)
    assert m3["roc_auc"] == 1.0 and m3["per_class"]["c"]["roc_auc"] is None


def test_multi_label_by_hand():
    labels = ["x", "y", "z"]
    gold = [["x"], ["x", "y"], [], ["y"]]
    proba = np.array([[0.9, 0.1, 0.2],   # {x}       exact
                      [0.8, 0.3, 0.1],   # {x}       misses y
                      [0.1, 0.2, 0.7],   # {z}       wrong (gold empty)
                      [0.2, 0.6, 0.1]])  # {y}       exact
    m = compute_metrics(gold, proba, labels, multi_label=True)
    assert m["subset_accuracy"] == m["accuracy"] == 0.5
    assert m["hamming_loss"] == pytest.approx(2 / 12)
    assert m["per_class"]["x"] == {"precision": 1.0, "recall": 1.0, "f1": 1.0, "support": 2, "roc_auc": 1.0,
                                   "pr_auc": 1.0}
    assert m["per_class"]["y"]["recall"] == 0.5 and m["per_class"]["y"]["precision"] == 1.0
    assert m["per_class"]["z"]["support"] == 0 and m["per_class"]["z"]["roc_auc"] is None
    assert m["macro_f1"] == pytest.approx((1 + 2 / 3 + 0) / 3)
    assert m["thresholds"] == [0.5, 0.5, 0.5] and "confusion_matrix" not in m
    # per-label thresholds: y at 0.25 also catches row 1's y (0.3)
    m2 = compute_metrics(gold, proba, labels, multi_label=True, thresholds=[0.5, 0.25, 0.5])
    assert m2["per_class"]["y"]["recall"] == 1.0 and m2["subset_accuracy"] == 0.75
    # an invalid row predicts nothing and never counts as an exact match (row 2's gold is empty)
    m3 = compute_metrics(gold, proba, labels, multi_label=True, invalid=[False, False, True, False])
    assert m3["subset_accuracy"] == 0.5 and m3["per_class"]["z"]["precision"] == 0.0


def test_input_errors_are_precise():
    with pytest.raises(ValueError, match="one column per label"):
        compute_metrics(["neg"], np.ones((1, 3)) / 3, LABELS, multi_label=False)
    with pytest.raises(ValueError, match="'maybe' \\(row 1\\) is not one of the labels"):
        compute_metrics(["neg", "maybe"], _onehot([0, 1]), LABELS, multi_label=False)
    with pytest.raises(ValueError, match="gold has 1 rows but proba has 2"):
        compute_metrics(["neg"], _onehot([0, 1]), LABELS, multi_label=False)
