"""The registry of metric columns: the one place that says which numbers runs are compared on.

Each :class:`MetricColumn` says where its number comes from in ``metrics.json`` (and under
which key the store's run summary keeps it), how it is scaled for display, its header, unit,
direction and formatting. Everything that shows metric columns reads this registry rather
than its own list: the store summary (:func:`pipelines.runs.summary_from_metrics`), the
comparison frame (:mod:`pipelines.compare`), the metrics table and its exports
(:mod:`pipelines.tables`, also ``python -m pipelines compare``), the Home leaderboard and the
Pareto charts of the dashboard. Adding a metric column is one :func:`register` call (an entry
in :data:`REGISTRY` below) plus the code in the pipeline that writes its number into
``metrics.json``.

Every derived list is a function evaluated on each call (not a module constant), so a column
registered later — by a plug-in or a test — shows up everywhere at once.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

Role = Literal["quality", "cost"]


@dataclass(frozen=True)
class MetricColumn:
    """One numeric column of the comparison frame (``Comparison.runs``) and of every metrics table."""

    key: str                    #: column name in the comparison frame and the CSV/JSON exports
    name: str                   #: what it is called in sentences and chart titles: "macro-F1", "energy"
    header: str                 #: header of exported tables (Markdown, LaTeX, CSV readers, terminal)
    short: str                  #: narrower header of the on-screen table
    higher_is_better: bool      #: direction, for "best in column" and sorting
    source: tuple[str, ...]     #: path into metrics.json, e.g. ("emissions", "total_energy_kwh")
    summary_key: str            #: key under which the store's run summary keeps the raw (unscaled) value
    unit: str = ""              #: unit of the column (after ``scale``), for axes and the leaderboard
    axis: str = ""              #: chart axis title with unit
    scale: float = 1.0          #: metrics.json unit → column unit (kg → g: 1000)
    digits: int = 3             #: significant digits in text tables
    ci: bool = False            #: metrics.json has ``<key>_ci`` = [lo, hi]; the frame gets ``<key>_lo``/``_hi``
    role: Role | None = None    #: Pareto axis: quality (y) or cost (x); None: not charted on its own
    shown: bool = True          #: a column of the metrics table, the CLI and the leaderboard

    @property
    def ci_key(self) -> str:
        """The metrics.json / summary key of the confidence interval."""
        return f"{self.key}_ci"

    @property
    def bounds(self) -> tuple[str, str]:
        """Frame columns of the CI bounds."""
        return f"{self.key}_lo", f"{self.key}_hi"

    @property
    def title_name(self) -> str:
        return self.name[:1].upper() + self.name[1:]

    def raw(self, metrics: Mapping[str, Any]) -> Any:
        """The value as metrics.json stores it (None when absent)."""
        node: Any = metrics
        for part in self.source:
            if not isinstance(node, Mapping) or part not in node:
                return None
            node = node[part]
        return node

    def value(self, metrics: Mapping[str, Any], summary: Mapping[str, Any] | None = None) -> float:
        """The column's number (scaled), from metrics.json, else the store summary, else NaN."""
        v = self.raw(metrics)
        if v is None and summary:
            v = summary.get(self.summary_key)
        return _number(v) * self.scale

    def interval(self, metrics: Mapping[str, Any], summary: Mapping[str, Any] | None = None) -> tuple[float, float]:
        """(lo, hi) of the CI, scaled; NaN when missing."""
        ci = metrics.get(self.ci_key)
        if ci is None and summary:
            ci = summary.get(self.ci_key)
        if isinstance(ci, (list, tuple)) and len(ci) == 2 and ci[0] is not None:
            return _number(ci[0]) * self.scale, _number(ci[1]) * self.scale
        return math.nan, math.nan

    def with_unit(self, label: str | None = None) -> str:
        """``label`` (default: the name) followed by the unit in parentheses when there is one."""
        label = label or self.name
        return f"{label} ({self.unit})" if self.unit else label


def _number(v: Any) -> float:
    try:
        return float(v) if v is not None else math.nan
    except (TypeError, ValueError):
        return math.nan


#: every metric column, in display order (insertion order of :func:`register`).
REGISTRY: dict[str, MetricColumn] = {}

#: the column runs are ranked by: leaderboards sort by it, Pareto charts put it on y unless told otherwise.
PRIMARY = "macro_f1"


def register(column: MetricColumn) -> MetricColumn:
    """Add a column (or replace the one with its key); it appears in every table, chart and summary."""
    REGISTRY[column.key] = column
    return column


def unregister(key: str) -> None:
    REGISTRY.pop(key, None)


def all_columns() -> list[MetricColumn]:
    return list(REGISTRY.values())


def table_columns() -> list[MetricColumn]:
    """The columns of the metrics table, the CLI output and the leaderboard, in order."""
    return [c for c in REGISTRY.values() if c.shown]


def get(key: str) -> MetricColumn | None:
    return REGISTRY.get(key)


def higher_is_better(key: str) -> bool:
    """Direction of a column; unknown columns sort high-first."""
    col = REGISTRY.get(key)
    return True if col is None else col.higher_is_better


def quality_columns() -> list[MetricColumn]:
    """Columns a Pareto chart can put on its quality (y) axis, :data:`PRIMARY` first."""
    return sorted((c for c in REGISTRY.values() if c.role == "quality"), key=lambda c: c.key != PRIMARY)


def cost_columns() -> list[MetricColumn]:
    """Columns a Pareto chart can put on its cost (x) axis: each has its own Pareto chart."""
    return [c for c in REGISTRY.values() if c.role == "cost"]


def best_rule() -> str:
    """The direction of every table column in words: "higher accuracy, …; lower energy, …"."""
    def names(higher: bool) -> str:
        items = [c.name for c in table_columns() if c.higher_is_better is higher]
        return ", ".join(items[:-1]) + " and " + items[-1] if len(items) > 1 else "".join(items)

    return f"higher {names(True)}; lower {names(False)}"


def summary(metrics: Mapping[str, Any]) -> dict[str, Any]:
    """The raw values every column needs, keyed for the store's run summary (None when absent)."""
    out: dict[str, Any] = {}
    for col in REGISTRY.values():
        out[col.summary_key] = col.raw(metrics)
        if col.ci and col.ci_key in metrics:
            out[col.ci_key] = metrics[col.ci_key]
    return out


# ------------------------------------------------------------------------- the columns

_QUALITY = "(0–1)"

register(MetricColumn("accuracy", "accuracy", "Accuracy (± 95% CI)", "Accuracy ± CI", True, ("accuracy",),
                      "accuracy", axis=f"Accuracy on the test split {_QUALITY}", ci=True, role="quality"))
register(MetricColumn("macro_f1", "macro-F1", "Macro-F1 (± 95% CI)", "Macro-F1 ± CI", True, ("macro_f1",),
                      "macro_f1", axis=f"Macro-F1 on the test split {_QUALITY}", ci=True, role="quality"))
register(MetricColumn("energy_kwh", "energy", "Energy (kWh)", "Energy kWh", False,
                      ("emissions", "total_energy_kwh"), "energy_kwh", unit="kWh",
                      axis="Energy, train + eval (kWh)", role="cost"))
register(MetricColumn("co2_g", "CO2eq", "CO2eq (g)", "CO2eq g", False, ("emissions", "total_co2_kg"), "co2_kg",
                      unit="g", axis="CO2 equivalent, train + eval (g)", scale=1000.0))
register(MetricColumn("latency_ms", "latency", "Latency (ms/text)", "ms/text", False, ("speed", "latency_ms"),
                      "latency_ms", unit="ms/text", axis="Latency (ms per text, batch 1)", role="cost"))
register(MetricColumn("throughput", "throughput", "Throughput (texts/s)", "texts/s", True, ("speed", "throughput"),
                      "throughput", unit="texts/s", axis="Throughput (texts per second, batch 32)"))
register(MetricColumn("params_m", "parameters", "Params (M)", "Params M", False, ("model", "total_params"),
                      "params", unit="M", axis="Parameters (millions)", scale=1e-6))
register(MetricColumn("size_mb", "model size", "Size (MB)", "Size MB", False, ("model", "size_mb"), "size_mb",
                      unit="MB", axis="Model size on disk (MB)", role="cost"))
# Kept in the frame and the store summary, not shown in the table.
for _key, _name in (("micro_f1", "micro-F1"), ("weighted_f1", "weighted F1"), ("roc_auc", "ROC-AUC"),
                    ("subset_accuracy", "subset accuracy"), ("invalid_rate", "invalid answers")):
    register(MetricColumn(_key, _name, _name, _name, _key != "invalid_rate", (_key,), _key, shown=False))
register(MetricColumn("hamming_loss", "Hamming loss", "Hamming loss", "Hamming loss", False, ("hamming_loss",),
                      "hamming_loss", shown=False))
register(MetricColumn("trainable_params_m", "trainable parameters", "Trainable params (M)", "Trainable M", False,
                      ("model", "trainable_params"), "trainable_params", unit="M", scale=1e-6, shown=False))
register(MetricColumn("duration_s", "duration", "Duration (s)", "s", False, ("emissions", "duration_s"),
                      "duration_s", unit="s", shown=False))
