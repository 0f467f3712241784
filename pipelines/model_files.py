"""Details of a local checkpoint folder, read from its files without loading the model.

Parameter counts come from the safetensors headers (a JSON block at the start of each file,
so no torch), sizes from the disk, licence and languages from the model card's front matter
(``huggingface_hub.repocard``), the element count of a GGUF file from its header and a
bundled model's package licence from the installed package's metadata. Used by the
installed catalog (:mod:`pipelines.catalog`) and the model card export.
"""

from __future__ import annotations

import json
import logging
import math
import struct
from importlib import metadata
from pathlib import Path
from typing import Any

from .candidates import Candidate, kind_from_architectures

log = logging.getLogger(__name__)

# bytes per element of each safetensors dtype; integer tensors are buffers (position ids), not parameters
DTYPE_BYTES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "F8_E4M3": 1, "F8_E5M2": 1, "I64": 8, "I32": 4, "I16": 2,
               "I8": 1, "U8": 1, "BOOL": 1, "U16": 2, "U32": 4, "U64": 8}
INT_DTYPES = {"I64", "I32", "I16", "I8", "U8", "U16", "U32", "U64", "BOOL"}


def safetensors_header(path: Path) -> dict[str, Any]:
    """The JSON header of a safetensors file: 8-byte little-endian length, then that many bytes."""
    with Path(path).open("rb") as fh:
        (n,) = struct.unpack("<Q", fh.read(8))
        if n > 100_000_000:
            raise ValueError(f"{path} does not look like a safetensors file (header of {n} bytes)")
        return json.loads(fh.read(n))


def safetensors_params(folder: Path) -> dict[str, int] | None:
    """Element counts per dtype over every safetensors file of a checkpoint (shards included)."""
    files = sorted(Path(folder).glob("*.safetensors"))
    if not files:
        return None
    counts: dict[str, int] = {}
    for f in files:
        for name, info in safetensors_header(f).items():
            if name == "__metadata__":
                continue
            counts[info["dtype"]] = counts.get(info["dtype"], 0) + math.prod(info["shape"])
    return counts


def params_from_dtypes(counts: dict[str, int] | None) -> int | None:
    """Parameters = floating-point elements; integer tensors are buffers such as position ids."""
    if not counts:
        return None
    floats = sum(v for k, v in counts.items() if k.upper() not in INT_DTYPES)
    return floats or sum(counts.values())


def size_from_dtypes(counts: dict[str, int] | None) -> float | None:
    if not counts:
        return None
    return sum(v * DTYPE_BYTES.get(k.upper(), 4) for k, v in counts.items()) / 1e6


def card_metadata(folder: Path) -> dict[str, Any]:
    """Front matter of a folder's README.md model card (``huggingface_hub.repocard.metadata_load``,
    the Hub's own YAML-block rule).

    ``{}`` when there is no card, no front matter, or it cannot be read: a broken card must
    not break the catalog.
    """
    readme = Path(folder) / "README.md"
    if not readme.is_file():
        return {}
    from huggingface_hub.repocard import metadata_load

    try:
        return metadata_load(readme) or {}
    except Exception as exc:  # YAML errors, a non-mapping block, undecodable bytes
        log.debug("unreadable model card %s: %s", readme, exc)
        return {}


def _as_list(v: Any) -> list[str]:
    if v is None:
        return []
    return [str(x) for x in v] if isinstance(v, list | tuple) else [str(v)]


def folder_size_mb(folder: Path, pattern: str = "*") -> float:
    return sum(f.stat().st_size for f in Path(folder).rglob(pattern) if f.is_file()) / 1e6


def folder_details(folder: Path, c: Candidate) -> Candidate:
    """Fill ``c`` from a local checkpoint folder: params, sizes, architecture, licence, languages."""
    folder = Path(folder)
    c.local_path = str(folder)
    c.installed = True
    counts = safetensors_params(folder)
    c.params = params_from_dtypes(counts)
    weights = sum(f.stat().st_size for f in folder.glob("*.safetensors"))
    c.size_mb = round(weights / 1e6, 1) if weights else None
    c.disk_mb = round(folder_size_mb(folder), 1)
    cfg_path = folder / "config.json"
    cfg = json.loads(cfg_path.read_text()) if cfg_path.is_file() else {}
    archs = _as_list(cfg.get("architectures"))
    c.architecture = archs[0] if archs else None
    c.model_type = cfg.get("model_type")
    c.kind = c.kind or kind_from_architectures(archs, c.model_type)
    card = card_metadata(folder)
    c.license = c.license or (str(card["license"]) if card.get("license") else None)
    c.languages = c.languages or _as_list(card.get("language"))
    c.library = c.library or card.get("library_name") or "transformers"
    c.task = c.task or card.get("pipeline_tag") or ("text-generation" if c.kind == "llm" else "feature-extraction")
    if cfg.get("auto_map"):
        c.needs_remote_code = True
        c.refuse(f"needs trust_remote_code (config auto_map: {', '.join(cfg['auto_map'])})")
    if counts is None:
        c.refuse("no safetensors weights")
    if not cfg:
        c.refuse("no config.json")
    return c


def package_license(package: str) -> str | None:
    """Licence of an installed package (License-Expression, License or a classifier), or None."""
    try:
        md = metadata.metadata(package)
    except metadata.PackageNotFoundError:
        return None
    lic = md.get("License-Expression") or md.get("License")
    if lic and lic.strip() and lic.strip().upper() != "UNKNOWN":
        return lic.strip()
    for cl in md.get_all("Classifier") or []:
        if cl.startswith("License ::"):
            return cl.split("::")[-1].strip()
    return None


def gguf_params(path: Path) -> int | None:
    """Element count of a GGUF file's tensors (its header only; nothing is dequantised)."""
    try:
        from gguf import GGUFReader

        return int(sum(int(t.n_elements) for t in GGUFReader(str(path)).tensors))
    except Exception as exc:  # optional detail: the catalog still lists the model
        log.debug("cannot read GGUF header of %s: %s", path, exc)
        return None
