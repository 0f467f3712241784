"""The registry of run kinds: one line per kind (see :mod:`pipelines.runkind`).

To add a kind, write its module (config dataclass, job function, predictor loader, presets,
cost) ending in ``KIND = RunKind(...)``, and add it to the tuple below. The order is the
order kinds are listed in the dashboard and queued by the demo.

Kinds that live outside the package (a plug-in, the tests' own kind) are named in
``WORKBENCH_KIND_MODULES`` (comma-separated module names): every process imports them with
this registry, so a job's own process and a cluster node know them too.
"""

from __future__ import annotations

import importlib
import os

from . import data, finetune, predict_file, probe, prompting, setfit_kind, speed_job, tfidf
from .runkind import RunKind

KINDS: dict[str, RunKind] = {k.name: k for k in (
    data.KIND,
    tfidf.KIND,
    prompting.KIND,
    finetune.KIND,
    probe.KIND,
    setfit_kind.KIND,
    predict_file.KIND,
    speed_job.KIND,
)}


def register(kind: RunKind) -> RunKind:
    """Add a kind at run time (tests, plug-ins); a name is registered once."""
    if kind.name in KINDS and KINDS[kind.name] is not kind:
        raise ValueError(f"run kind {kind.name!r} is already registered")
    KINDS[kind.name] = kind
    return kind


def unregister(name: str) -> None:
    KINDS.pop(name, None)


def get(name: str) -> RunKind:
    try:
        return KINDS[name]
    except KeyError:
        raise ValueError(f"unknown run kind {name!r}; known: {', '.join(KINDS)}") from None


def predicting() -> list[RunKind]:
    """Kinds whose jobs produce runs with a predictor (what Compare and the Playground list)."""
    return [k for k in KINDS.values() if k.produces_runs]


def _import_plugins() -> None:
    for name in os.environ.get("WORKBENCH_KIND_MODULES", "").split(","):
        if name.strip():
            importlib.import_module(name.strip())  # the module calls register(KIND)


_import_plugins()
