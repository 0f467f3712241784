"""Is a ``--model`` usable here, for this run kind? Answered before a job row exists.

Why up front: an unknown name used to reach ``from_pretrained``, which (with the Hub offline)
failed deep inside the job with "couldn't connect to huggingface.co" and left a failed job;
an encoder given to the prompt kind ended in an ``AttributeError``; ``--device cuda`` without
a GPU in an ``AssertionError``. Each is now one line that names what to use instead.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from .assets import ASSETS, hub_snapshot

_CAUSAL_SUFFIXES = ("ForCausalLM", "LMHeadModel", "ForConditionalGeneration")


def _offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes")


def _catalog(kind: str) -> str:
    return ", ".join(a.name for a in ASSETS.values() if a.kind == kind)


def check_model(model: str, kind: str) -> None:
    """Raise ValueError unless ``model`` names a usable ``kind`` model ("encoder" or "llm").

    Accepted: a catalog name or its Hub id of that kind, a local folder with a ``config.json``,
    a Hub id already downloaded (``python -m pipelines pull``), or — only when the Hub is
    online — any other Hub id (training downloads it).
    """
    wanted = "an encoder (fine-tuning)" if kind == "encoder" else "a causal LM (prompting)"
    asset = ASSETS.get(model) or next((a for a in ASSETS.values() if a.hub_id == model), None)
    if asset:
        if asset.kind != kind:
            raise ValueError(f"--model {model}: {asset.name} is {'an LLM' if asset.kind == 'llm' else 'an encoder'}, "
                             f"not {wanted}; use one of: {_catalog(kind)}")
        return
    folder = Path(model).expanduser()
    if folder.exists():
        config = folder / "config.json"
        if not config.is_file():
            raise ValueError(f"--model {model}: the folder has no config.json, so it is not a model folder; use a "
                             f"catalog name ({_catalog(kind)}) or a folder saved with save_pretrained")
        _check_architecture(model, config, kind, wanted)
        return
    snapshot = hub_snapshot(model)
    if snapshot:
        _check_architecture(model, Path(snapshot) / "config.json", kind, wanted)
        return
    if _offline():  # online, a Hub id (with or without an owner, e.g. bert-base-uncased) is fetched by the job
        raise ValueError(f"--model {model}: not installed, not downloaded and not a local folder (the Hub is offline "
                         "here, so nothing is fetched); use a "
                         f"catalog name ({_catalog(kind)}), a local model folder, or download a Hub id first with "
                         f"`python -m pipelines pull ORG/NAME`")


def _check_architecture(model: str, config: Path, kind: str, wanted: str) -> None:
    try:
        archs = json.loads(config.read_text()).get("architectures") or []
    except (OSError, ValueError):
        return  # let the loader report a damaged config with its own words
    causal = any(a.endswith(_CAUSAL_SUFFIXES) for a in archs)
    if archs and kind == "llm" and not causal:
        raise ValueError(f"--model {model}: its architecture ({', '.join(archs)}) is not a causal LM; prompting "
                         f"needs one, e.g. {_catalog('llm')}")


def check_device(device: str) -> None:
    """``--device`` is auto, cpu or cuda[:N]; cuda needs a GPU that torch can see."""
    if device in ("auto", "cpu"):
        return
    if not (device == "cuda" or (device.startswith("cuda:") and device[5:].isdigit())):
        raise ValueError(f"--device {device!r}: use auto, cpu or cuda (cuda:N for one GPU)")
    import torch

    if not torch.cuda.is_available():
        build = torch.version.cuda or "none (CPU-only torch)"
        raise ValueError(f"--device cuda: no CUDA GPU is visible to torch here (torch {torch.__version__}, CUDA "
                         f"build {build}); use --device auto or --device cpu")
