"""Where the workbench keeps its files.

One home folder (``WORKBENCH_HOME``, default: the repository root) holds ``data/``
(prepared datasets, uploads) and ``models/`` (run folders, the store, converted model
weights). The model cache follows the home (``<home>/models/cache``) unless
``WORKBENCH_MODEL_CACHE`` names another folder, so that test workspaces reuse weights that were
converted once: a user who moves the home to another disk moves the gigabytes of weights with it.
"""

from __future__ import annotations

import os
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent


def home() -> Path:
    return Path(os.environ.get("WORKBENCH_HOME", REPO_ROOT)).resolve()


def data_dir() -> Path:
    return home() / "data"


def prepared_dir() -> Path:
    return data_dir() / "prepared"


def uploads_dir() -> Path:
    return data_dir() / "uploads"


def models_dir() -> Path:
    return home() / "models"


def runs_dir() -> Path:
    return models_dir() / "runs"


def store_path() -> Path:
    return Path(os.environ.get("WORKBENCH_STORE", models_dir() / "workbench.sqlite"))


def model_cache_dir() -> Path:
    """``WORKBENCH_MODEL_CACHE`` if set, else ``models/cache`` under the home (the repository by default)."""
    return Path(os.environ.get("WORKBENCH_MODEL_CACHE") or models_dir() / "cache").resolve()


def ensure_dirs() -> None:
    for d in (prepared_dir(), uploads_dir(), runs_dir(), model_cache_dir()):
        d.mkdir(parents=True, exist_ok=True)
