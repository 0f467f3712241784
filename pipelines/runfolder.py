"""The run folder: one layout for every run kind, so nothing else spells a file name.

``models/runs/<run_id>/``::

    config.json          job config (defaults filled in) + dataset id/split hash + versions + git hash
    metrics.json         metrics.compute_metrics output + model size/speed + emissions + kind blocks
    predictions.parquet  test ids, text, gold, pred, one ``p::<label>`` column per class
    emissions.csv        CodeCarbon's own file (one row per tracked phase)
    model/               weights + tokenizer, a LoRA adapter + head, or a reference (LLM runs)
    log.txt              the job's log

A job writes into its attempt's work folder (``runs/.partial/job-<id>-a<attempt>``, see
:mod:`pipelines.jobs`) and the folder is renamed into place only when the job succeeded, so
a crash never leaves half a run where the dashboard looks. Once in place, a run folder's
files never change.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

PROB_PREFIX = "p::"


def _member(name: str) -> property:
    """The path of one fixed member of the layout (``folder.metrics`` → ``<folder>/metrics.json``)."""
    return property(lambda self: self.path / name, doc=f"``{name}`` in this run folder")


class RunFolder:
    """Paths and readers/writers of one run (or work) folder."""

    CONFIG = "config.json"
    METRICS = "metrics.json"
    PREDICTIONS = "predictions.parquet"
    EMISSIONS = "emissions.csv"
    MODEL = "model"
    LOG = "log.txt"
    FILES = (CONFIG, METRICS, PREDICTIONS, EMISSIONS, LOG)  # the plain files, in the order exports list them

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"RunFolder({str(self.path)!r})"

    def __truediv__(self, name: str) -> Path:
        return self.path / name

    config = _member(CONFIG)
    metrics = _member(METRICS)
    predictions = _member(PREDICTIONS)
    emissions = _member(EMISSIONS)
    model = _member(MODEL)
    log = _member(LOG)

    def exists(self) -> bool:
        return self.path.is_dir()

    def read_config(self) -> dict[str, Any]:
        return read_json(self.config)

    def read_metrics(self) -> dict[str, Any]:
        return read_json(self.metrics)

    def write_metrics(self, metrics: dict[str, Any]) -> None:
        write_json(self.metrics, metrics)

    def kind(self) -> str:
        return self.read_config()["kind"]


def write_json(path: Path, data: Any) -> None:
    """Write JSON atomically (tmp file + rename) so readers never see half a file."""
    path = Path(path)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, default=_json_default))
    tmp.replace(path)


def _json_default(o: Any) -> Any:
    if isinstance(o, np.integer):
        return int(o)
    if isinstance(o, np.floating):
        return float(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o)}")


class RunFileError(ValueError):
    """A run file that cannot be read; the message names the file."""


def read_json(path: str | Path) -> Any:
    """Read a JSON file; a truncated or invalid one is reported with its path, not a bare position."""
    path = Path(path)
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise RunFileError(f"{path} is not valid JSON ({exc.msg} at line {exc.lineno}); the file is damaged — "
                           "delete the run or restore the file") from exc
