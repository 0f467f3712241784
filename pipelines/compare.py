"""Comparing runs: the runs of one test split as data frames, one row per run, one column per metric.

Everything here is numpy/pandas only (no torch, and no scipy: its import alone costs seconds): the
dashboard and ``python -m pipelines compare`` both build on it, and the dashboard must never import
a deep-learning framework.

Which runs: :mod:`pipelines.selection` (all on one split, or refused with the reason). Which
metric columns and where each number comes from: :mod:`pipelines.columns`. Tests of
differences and the Pareto front: :mod:`pipelines.stats`.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import columns, speed
from . import runs as runs_mod
from .runfolder import RunFolder
from .selection import check_same_split, select_runs
from .store import Store

log = logging.getLogger(__name__)


@dataclass
class Comparison:
    """The runs of one split, loaded from the store rows and their run folders."""

    dataset_id: str
    split_hash: str
    task: str
    labels: list[str]
    runs: pd.DataFrame  # one row per run, index = run id, columns: see _run_row
    metrics: dict[str, dict[str, Any]] = field(default_factory=dict)  # run id -> metrics.json
    configs: dict[str, dict[str, Any]] = field(default_factory=dict)  # run id -> config.json
    notes: list[str] = field(default_factory=list)

    @property
    def run_ids(self) -> list[str]:
        return list(self.runs.index)

    @property
    def multi_label(self) -> bool:
        return self.task == "multi_label"

    @cached_property
    def labels_by_id(self) -> dict[str, str]:
        """Run id → display name (a dict: frames of many runs look names up thousands of times)."""
        return {rid: str(lab) for rid, lab in zip(self.runs.index, self.runs["label"])}

    def label_of(self, run_id: str) -> str:
        return self.labels_by_id[run_id]

    def path_of(self, run_id: str) -> Path:
        return Path(self.runs.at[run_id, "path"])

    def subset(self, run_ids: Sequence[str]) -> Comparison:
        """The same comparison restricted to some runs (order kept as given)."""
        keep = [r for r in run_ids if r in self.runs.index]
        return Comparison(self.dataset_id, self.split_hash, self.task, self.labels, self.runs.loc[keep].copy(),
                          {k: self.metrics[k] for k in keep if k in self.metrics},
                          {k: self.configs[k] for k in keep if k in self.configs}, list(self.notes))

    def best(self, column: str, n: int | None = None) -> list[str]:
        """Run ids sorted best-first by a metric column (NaN last)."""
        higher = columns.higher_is_better(column)
        order = self.runs[column].astype(float).sort_values(ascending=not higher, na_position="last")
        ids = list(order.index)
        return ids[:n] if n else ids

    # -- per-run detail frames
    def per_class(self) -> pd.DataFrame:
        """Long frame: run_id, label (run display name), class, precision, recall, f1, support."""
        out = []
        for rid in self.run_ids:
            pc = (self.metrics.get(rid) or {}).get("per_class") or {}
            for cls in self.labels:
                m = pc.get(cls)
                if m is None:
                    continue
                out.append({"run_id": rid, "label": self.label_of(rid), "class": cls,
                            "precision": m.get("precision"), "recall": m.get("recall"), "f1": m.get("f1"),
                            "support": m.get("support")})
        return pd.DataFrame(out, columns=["run_id", "label", "class", "precision", "recall", "f1", "support"])

    def confusion(self, run_id: str) -> np.ndarray | None:
        """Counts, rows = gold, columns = predicted, in ``labels`` order (single-label runs only)."""
        cm = (self.metrics.get(run_id) or {}).get("confusion_matrix")
        return None if cm is None else np.asarray(cm, dtype=np.int64)

    def emissions(self) -> pd.DataFrame:
        """One row per (run, phase): energy_kwh, co2_g, duration_s, the power methods, the country and whose energy
        it is (``attribution``: runs made before per-job attribution measured the whole machine)."""
        out = []
        for rid in self.run_ids:
            em = (self.metrics.get(rid) or {}).get("emissions") or {}
            for ph in em.get("phases") or []:
                out.append({
                    "run_id": rid, "label": self.label_of(rid), "phase": ph.get("phase"),
                    "energy_kwh": _num(ph.get("energy_kwh")),
                    "co2_g": _num(ph.get("co2_kg")) * 1000.0 if ph.get("co2_kg") is not None else np.nan,
                    "duration_s": _num(ph.get("duration_s")), "measured": bool(ph.get("measured")),
                    "cpu_method": ph.get("cpu_method"), "ram_method": ph.get("ram_method"),
                    "gpu_method": ph.get("gpu_method"), "cpu_power_w": _num(ph.get("cpu_power_w")),
                    "ram_power_w": _num(ph.get("ram_power_w")), "gpu_power_w": _num(ph.get("gpu_power_w")),
                    "country": ph.get("country_iso_code"),
                    "attribution": (ph.get("attribution") or {}).get("convention") or "machine (CodeCarbon default)",
                })
        cols = ["run_id", "label", "phase", "energy_kwh", "co2_g", "duration_s", "measured", "cpu_method",
                "ram_method", "gpu_method", "cpu_power_w", "ram_power_w", "gpu_power_w", "country", "attribution"]
        return pd.DataFrame(out, columns=cols)

    def history(self, store: Store) -> pd.DataFrame:
        """Training curves from the store's history table: run_id, label, step, name, value, epoch."""
        jobs: dict[int, list[str]] = {}
        for rid in self.run_ids:
            jid = self.runs.at[rid, "job_id"]
            if jid is not None and not pd.isna(jid):
                jobs.setdefault(int(jid), []).append(rid)
        cols = ["run_id", "label", "step", "name", "value", "epoch"]
        if not jobs:
            return pd.DataFrame(columns=cols)
        rows = store.history(*jobs)
        names = self.labels_by_id
        out = [{"run_id": rid, "label": names[rid], "step": r["step"], "name": r["name"], "value": r["value"],
                "epoch": r["epoch"]}
               for r in rows for rid in jobs[r["job_id"]]]
        return pd.DataFrame(out, columns=cols)

    def predictions(self, run_id: str) -> pd.DataFrame:
        return runs_mod.load_predictions(self.path_of(run_id))


def _num(v: Any) -> float:
    try:
        return float(v) if v is not None else np.nan
    except (TypeError, ValueError):
        return np.nan


def _run_row(row: dict[str, Any], metrics: dict[str, Any]) -> dict[str, Any]:
    """One row of the runs frame: identity, then every registered metric column (from metrics.json where
    present, else the store's summary), then how energy was measured."""
    s = row.get("summary") or {}
    em = metrics.get("emissions") or {}
    phases = em.get("phases") or []
    methods = sorted({p.get("cpu_method") for p in phases if p.get("cpu_method")})
    out: dict[str, Any] = {
        "run_id": row["id"], "name": row.get("name") or row["id"], "model": row.get("model"),
        "method": row.get("method"), "kind": row.get("kind"), "dataset_id": row["dataset_id"],
        "split_hash": row["split_hash"], "job_id": row.get("job_id"), "created_at": row.get("created_at"),
        "path": row.get("path"),
        "template": (metrics.get("prompt") or {}).get("template"),  # prompt runs: the template's name
    }
    for col in columns.all_columns():
        out[col.key] = col.value(metrics, s)
        if col.ci:
            out[col.bounds[0]], out[col.bounds[1]] = col.interval(metrics, s)
    out.update({
        "energy_measured": bool(em.get("measured")) if em else False,
        "country": em.get("country_iso_code"),
        "cpu_method": ", ".join(methods) if methods else None,
        "n_test": metrics.get("n", s.get("n")),
    })
    return out


def _display_labels(frame: pd.DataFrame) -> list[str]:
    """Readable, unique run names for legends: the run name, else model · method; ids break ties."""
    base = []
    for rid, name, model, method, tpl in zip(frame["run_id"], frame["name"], frame["model"], frame["method"],
                                             frame["template"]):
        if name and name != rid:
            base.append(str(name))
        else:
            base.append(" · ".join(x for x in (Path(str(model)).name, method) if x))
        if isinstance(tpl, str) and tpl and tpl not in base[-1]:  # which prompt, never "(default)"
            base[-1] += f" ({tpl})"
    counts = pd.Series(base).value_counts()
    return [f"{b} #{rid[-4:]}" if counts[b] > 1 else b for b, rid in zip(base, frame["run_id"])]


def load_comparison(store: Store | None = None, dataset_id: str | None = None,
                    run_ids: Sequence[str] | None = None, fold_sweeps: bool = False) -> Comparison:
    """Select runs (see :func:`select_runs`) and read their folders into a :class:`Comparison`.

    ``fold_sweeps``: each sweep is represented by its best point, chosen on validation (never
    on the test split, which would make the comparison a search over the test set).
    """
    store = store or Store()
    rows, notes = select_runs(store, dataset_id, run_ids)
    if fold_sweeps:
        from .sweeps import collapse

        kept = collapse(store, rows)
        folded = len(rows) - len(kept)
        if folded:
            notes.append(f"{folded} sweep point(s) folded away: each sweep shows its best point on validation")
        rows = kept
    return comparison_from_rows(store, rows, notes, dataset_id)


def comparison_from_rows(store: Store, rows: Sequence[dict[str, Any]], notes: Sequence[str] = (),
                         dataset_id: str | None = None) -> Comparison:
    split_hash = check_same_split(rows)
    notes = list(notes)
    metrics, configs, frame_rows = {}, {}, []
    for r in rows:
        folder = RunFolder(r["path"])
        try:
            m = folder.read_metrics()
        except (OSError, ValueError) as exc:
            notes.append(f"run {r['id']}: {folder.metrics.name} unreadable ({exc}); shown from the store summary only")
            m = {}
        try:
            c = folder.read_config()
        except (OSError, ValueError):
            c = {}
        metrics[r["id"]], configs[r["id"]] = m, c
        frame_rows.append(_run_row(r, m))
    frame = pd.DataFrame(frame_rows, columns=list(_run_row({"id": "", "dataset_id": "", "split_hash": ""}, {})))
    if len(frame):
        frame["label"] = _display_labels(frame)
    else:
        frame["label"] = []
    frame = frame.set_index("run_id", drop=False)
    _flag_subsets(frame, metrics, notes)
    speed.apply_measurements(store, frame, metrics)  # re-measured figures, and the load each was measured under
    labels, task = _labels_and_task(store, rows, configs, metrics)
    ds_id = dataset_id or (rows[0]["dataset_id"] if rows else "")
    return Comparison(ds_id, split_hash, task, labels, frame, metrics, configs, notes)


def _flag_subsets(frame: pd.DataFrame, metrics: dict[str, dict[str, Any]], notes: list[str]) -> None:
    """A run scored on part of the test split says so in its name and in a note: its numbers
    are not comparable one-to-one with full-split runs, so it must never rank beside them unmarked."""
    for rid in frame.index:
        sub = (metrics.get(rid) or {}).get("test_subset")
        if not sub:
            continue
        frame.at[rid, "label"] = f"{frame.at[rid, 'label']} [{sub['n']} of {sub['of']} test texts]"
        notes.append(f"run {rid} was scored on {sub['n']} of the {sub['of']} test texts only: its numbers are not "
                     "comparable one-to-one with full-split runs")


def _labels_and_task(store: Store, rows: Sequence[dict[str, Any]], configs: dict[str, dict[str, Any]],
                     metrics: dict[str, dict[str, Any]]) -> tuple[list[str], str]:
    for c in configs.values():
        ds = c.get("dataset") or {}
        if ds.get("labels"):
            return [str(x) for x in ds["labels"]], ds.get("task", "single_label")
    for m in metrics.values():
        if m.get("labels"):
            return [str(x) for x in m["labels"]], "multi_label" if m.get("multi_label") else "single_label"
    if rows:
        ds = store.dataset(rows[0]["dataset_id"])
        if ds:
            return list(ds["labels"]), ds["task"]
    return [], "single_label"
