"""What a run kind is: the one object that ties a config, a job function and a loader together.

Every kind of work the workbench queues (prepare data, fine-tune, prompt an LLM, …) is one
:class:`RunKind`, defined in the kind's own module and listed once in
:mod:`pipelines.kinds`. The worker, the CLI, the demo, the dashboard and the predictor
service all look kinds up there, so adding a kind is one module plus one registry line.

Kind modules keep torch/transformers imports inside functions: the dashboard imports the
registry (for names and presets) and must never load them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# job(config, ctx) -> run id, or None for kinds that produce no run (data preparation)
JobFn = Callable[[dict[str, Any], Any], "str | None"]
LoaderFn = Callable[[Path], Any]  # run folder -> Predictor
PresetsFn = Callable[[str, str], "list[dict[str, Any]]"]  # (dataset id, profile) -> demo configs
CostFn = Callable[[dict[str, Any]], float]  # config -> expected seconds on 2 CPU cores


def _no_presets(dataset: str, profile: str) -> list[dict[str, Any]]:
    return []


def _free(config: dict[str, Any]) -> float:
    return 0.0


@dataclass(frozen=True)
class RunKind:
    """One kind of job.

    ``cost`` orders the queue (cheapest first, so a comparison appears within minutes) and
    is the fallback ETA before this machine has measured anything; it only needs to rank
    jobs sensibly, not to be exact.
    """

    name: str
    display: str
    config: type  # a JobConfig dataclass: validates itself, round-trips through JSON
    run: JobFn
    load_predictor: LoaderFn | None = None  # None: the kind produces no predicting run
    presets: PresetsFn = _no_presets
    cost: CostFn = _free

    @property
    def produces_runs(self) -> bool:
        return self.load_predictor is not None

    def normalise(self, config: dict[str, Any]) -> dict[str, Any]:
        """The config with every default filled in, validated by its dataclass.

        Two configs that differ only by a field added later (with its default) are equal
        after this, so an upgrade never makes the demo re-run finished work.
        """
        fields = {f.name for f in dataclasses.fields(self.config)}
        return self.config.from_dict({k: v for k, v in config.items() if k in fields}).to_dict()
