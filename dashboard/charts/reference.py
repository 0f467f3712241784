"""The TF-IDF reference as a horizontal line (and its CI as a band) on a quality chart.

Every quality chart marks the same floor: a transformer below or inside the band is not
buying quality with its energy. The reference is passed in as plain numbers
(:func:`pipelines.verdict.reference_line`), so the builders stay pure.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

LINE = "#333"
BAND = "rgba(80, 80, 80, 0.10)"


def _finite(v: Any) -> bool:
    try:
        return v is not None and math.isfinite(float(v))
    except (TypeError, ValueError):
        return False


def hline(value: float, label: str, lo: float | None = None, hi: float | None = None, color: str = LINE,
          dash: str = "dot", yref: str = "y") -> tuple[list[dict], list[dict]]:
    """(shapes, annotations) of one labelled horizontal line across the plot, with an optional band."""
    if not _finite(value):
        return [], []
    shapes = []
    if _finite(lo) and _finite(hi) and hi > lo:
        shapes.append({"type": "rect", "xref": "paper", "x0": 0, "x1": 1, "yref": yref, "y0": float(lo),
                       "y1": float(hi), "fillcolor": BAND, "line": {"width": 0}, "layer": "below",
                       "name": f"{label} (95% CI)"})
    shapes.append({"type": "line", "xref": "paper", "x0": 0, "x1": 1, "yref": yref, "y0": float(value),
                   "y1": float(value), "line": {"color": color, "width": 1.5, "dash": dash}, "name": label})
    note = {"text": f"{label} {float(value):.3f}", "xref": "paper", "x": 1, "xanchor": "right", "yref": yref,
            "y": float(value), "yanchor": "bottom", "showarrow": False, "font": {"size": 11, "color": color},
            "bgcolor": "rgba(255,255,255,0.7)", "name": label}
    return shapes, [note]


def reference_layout(reference: Mapping[str, Any] | None, yref: str = "y") -> tuple[list[dict], list[dict]]:
    """The reference line of :func:`pipelines.verdict.reference_line` (None: nothing to draw)."""
    if not reference:
        return [], []
    return hline(reference["value"], reference.get("label", "TF-IDF reference"), reference.get("lo"),
                 reference.get("hi"), yref=yref)


def add(layout: dict, shapes: list[dict], notes: list[dict]) -> dict:
    """``layout`` with these shapes and annotations appended to any it has."""
    if shapes:
        layout["shapes"] = [*layout.get("shapes", []), *shapes]
    if notes:
        layout["annotations"] = [*layout.get("annotations", []), *notes]
    return layout
