"""Every chart of the dashboard: pure functions, data frame in, plotly figure out (no Streamlit).

So each chart is unit-tested on its own and exported unchanged (PNG, SVG, PDF, HTML).

- :mod:`.theme` — the one style (template, fonts, palette), the run colour map
  (:func:`run_colors`) and the layout helpers every builder uses.
- :mod:`.comparison` — the list of Compare charts (:func:`comparison_figures`).
- :mod:`.pareto`, :mod:`.quality`, :mod:`.training`, :mod:`.energy`, :mod:`.curve` — the Compare charts;
  frames from :mod:`pipelines.compare` (``Comparison.runs`` / ``per_class()`` /
  ``emissions()`` / ``history()``), each with ``run_id`` and ``label`` (display name); the
  quality charts take the TF-IDF reference line (:mod:`.reference`) as plain numbers.
- :mod:`.data` (Data page) and :mod:`.predictions` (Playground, Errors).

The names below are the public builders, so pages write ``charts.pareto_chart(...)``.
"""

from .comparison import CONFUSION_MAX, chart_titles, comparison_figures
from .curve import learning_curve
from .data import class_balance, token_lengths
from .energy import energy_breakdown, method_words, methods_note
from .pareto import chart_name, cost_axes, pareto_chart, quality_axes
from .predictions import probability_bars
from .quality import confusion_difference, confusion_matrices, per_class_f1
from .theme import PALETTE, empty_figure, figure_colors, run_colors
from .training import training_curves

__all__ = [
    "CONFUSION_MAX", "PALETTE", "chart_name", "chart_titles", "class_balance", "comparison_figures",
    "confusion_difference", "confusion_matrices", "cost_axes", "empty_figure", "energy_breakdown", "figure_colors",
    "learning_curve", "method_words", "methods_note", "pareto_chart", "per_class_f1", "probability_bars", "quality_axes",
    "run_colors", "token_lengths", "training_curves",
]
