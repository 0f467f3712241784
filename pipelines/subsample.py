"""Nested training subsets: one seeded, class-stratified order of the train split whose prefixes are the subsets.

A learning curve ("how many labels do I need?") compares the same model trained on 50, 100,
250 … texts. If each size drew its own random sample, the curve would mix two effects: more
data, and *different* data. Drawing every size as a prefix of one permutation makes the
subsets nested (the 100 texts contain the 50), so a rise between two points is the
labels added, nothing else, and the curve is as smooth as the data allows.

The order is stratified for single-label data: one text of every class first (so every
subset of at least k texts has all k classes, as a user labelling a sample would), then the
rest interleaved by class so each prefix keeps the split's class shares within one text.
Multi-label data gets a plain seeded permutation (there is no single class to stratify on).

Kinds use this only when their config says ``nested_subsample=True``; otherwise they keep
their historical sample (:func:`pipelines.finetune._subsample`), so existing configs keep
their exact training texts.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd


def nested_order(labels: Sequence[object] | None, n: int, seed: int) -> np.ndarray:
    """A permutation of ``range(n)``: one item per class first, then class-proportional interleaving.

    ``labels`` are the single-label gold labels (None: multi-label, plain permutation). Depends
    only on the labels and the seed, never on a subset size: that is what makes prefixes nested.
    """
    rng = np.random.default_rng(seed)
    if labels is None:
        return rng.permutation(n)
    codes = pd.factorize(pd.Series(list(labels), dtype="object"))[0]
    keys = np.empty(n, dtype=np.float64)
    for c in np.unique(codes):
        members = rng.permutation(np.flatnonzero(codes == c))
        # item i of a class of m sits at (i + jitter) / m of the way through the order; the first
        # of each class goes before everything else (keys < 0), in random class order.
        keys[members] = (np.arange(len(members)) + rng.uniform(size=len(members))) / len(members)
        keys[members[0]] = -1.0 + rng.uniform() * 0.5
    return np.argsort(keys, kind="stable")


def nested_positions(df: pd.DataFrame, n: int | None, seed: int, multi_label: bool) -> np.ndarray:
    """Row positions of the first ``n`` texts of the nested order (None or ≥ len: every row, in order)."""
    if not n or n >= len(df):
        return np.arange(len(df))
    order = nested_order(None if multi_label else df["label"].tolist(), len(df), seed)
    return order[:n]


def nested_subset(df: pd.DataFrame, n: int | None, seed: int, multi_label: bool) -> pd.DataFrame:
    """The first ``n`` rows of the nested order as a frame (index reset, like the kinds' other samples)."""
    return df.iloc[nested_positions(df, n, seed, multi_label)].reset_index(drop=True)
