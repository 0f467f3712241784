"""Candidate search on the Hugging Face Hub, bounded in time, cached, with an offline fallback.

Users used to call ``list_models(filter='fill-mask', sort='downloads', limit=25)`` and then
``model_info`` one repo at a time to read licence, size and parameter count, and kept a
hand-written exclusion list. ``search`` does that whole shortlist step:

1. one listing request (``/api/models``: task, text, library, language, sort, limit);
2. cheap filters on the listing (exclusion list, licence tags);
3. details per remaining candidate from ``/api/models/{id}?blobs=true`` — the request
   ``HfApi.model_info(files_metadata=True)`` makes — cached in the store with a TTL;
4. the detail filters (licence allow-list, language, max params, max size), until ``limit``
   candidates pass. Repos needing ``trust_remote_code`` are listed but not runnable.

Every request goes through :mod:`pipelines.hub_http` (timeouts, retries, deadlines) and is
parsed with huggingface_hub's own ``ModelInfo`` class. ``download`` fetches a chosen
candidate with the real client (``snapshot_download``) under a deadline.

When the Hub cannot be reached (or ``HF_HUB_OFFLINE=1``) the search says so in one line and
answers from the installed catalog (``pipelines/catalog.py``). huggingface_hub is imported
inside functions: the endpoint is always passed explicitly (DESIGN.md §3), and the dashboard
can import this module cheaply.
"""

from __future__ import annotations

import concurrent.futures
import logging
import time
from pathlib import Path
from typing import Any

from .candidates import (
    LLM_TASKS,
    Candidate,
    SearchQuery,
    SearchResult,
    check_filters,
    excluded_by,
    kind_from_architectures,
)
from .catalog import search_catalog
from .hub_http import HubError, HubSettings, call_bounded, get_json, has_token, offline_reason, run_with_deadline
from .model_files import params_from_dtypes, size_from_dtypes
from .store import Store

log = logging.getLogger(__name__)

HUB_SORT = {"downloads": "downloads", "likes": "likes", "trending": "trendingScore", "last_modified": "lastModified"}
LIST_EXPAND = ["downloads", "likes", "trendingScore", "lastModified", "pipeline_tag", "library_name", "tags", "gated",
               "sha"]
# What a download takes from a repo: top-level weights, config and tokenizer files only.
# Never *.py (no remote code), never *.bin/*.pt (pickles), never sub-folders (onnx/, openvino/ …).
DOWNLOAD_PATTERNS = ["*.safetensors", "model.safetensors.index.json", "config.json", "generation_config.json",
                     "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json",
                     "vocab.txt", "vocab.json", "merges.txt", "tokenizer.model", "spiece.model",
                     "sentencepiece.bpe.model", "chat_template.jinja", "README.md"]
CACHE_NAMESPACE = "hub"
_DROPPABLE = ("siblings", "safetensors", "cardData", "transformersInfo", "inferenceProviderMapping", "evalResults",
              "lastModified", "createdAt", "config", "gated")


# ------------------------------------------------------------------ parsing
def _clean_siblings(siblings: Any) -> list[dict] | None:
    if not isinstance(siblings, list):
        return None
    out = []
    for s in siblings:
        if isinstance(s, dict) and isinstance(s.get("rfilename"), str):
            s = dict(s)
            lfs = s.get("lfs")
            if lfs is not None and not (isinstance(lfs, dict) and {"size", "sha256", "pointerSize"} <= set(lfs)):
                s.pop("lfs")
            out.append(s)
    return out


def parse_model_info(item: dict[str, Any]) -> Any | None:
    """``huggingface_hub.hf_api.ModelInfo`` from a JSON entry, dropping blocks that do not parse.

    A missing or malformed block (siblings without names, a partial safetensors entry …)
    costs that detail, never the whole search. Entries without an id are skipped (None).
    """
    from huggingface_hub.hf_api import ModelInfo

    if not isinstance(item, dict) or not isinstance(item.get("id"), str):
        return None
    data = dict(item)
    if "siblings" in data:
        data["siblings"] = _clean_siblings(data["siblings"])
    for key in (None, *_DROPPABLE):
        if key is not None and data.pop(key, None) is not None:
            log.debug("%s: dropped malformed %r block", item["id"], key)
        try:
            return ModelInfo(**dict(data))
        except Exception:  # noqa: S112 — try again with one block fewer
            continue
    return ModelInfo(id=item["id"])


def _languages(card: Any, tags: list[str]) -> list[str]:
    lang = getattr(card, "language", None) if card is not None else None
    if lang:
        return [str(x) for x in lang] if isinstance(lang, list | tuple) else [str(lang)]
    return [t for t in tags if len(t) == 2 and t.isalpha() and t.islower()]


def candidate_from_info(info: Any, s: HubSettings | None = None) -> Candidate:
    """Derive the candidate's details from a ModelInfo (listing or model_info answer)."""
    c = Candidate(id=info.id, source="hub", model_ref=info.id)
    tags = [str(t) for t in (info.tags or [])]
    card = info.card_data
    c.task = info.pipeline_tag
    c.library = info.library_name
    lic = getattr(card, "license", None) if card is not None else None
    c.license = str(lic) if lic else next((t.split(":", 1)[1] for t in tags if t.startswith("license:")), None)
    c.languages = _languages(card, tags)
    counts = dict(info.safetensors.parameters) if info.safetensors and info.safetensors.parameters else None
    c.params = params_from_dtypes(counts) or (info.safetensors.total if info.safetensors else None)
    config = info.config if isinstance(info.config, dict) else {}
    archs = [str(a) for a in (config.get("architectures") or [])]
    c.architecture = archs[0] if archs else (info.transformers_info.auto_model if info.transformers_info else None)
    c.model_type = config.get("model_type")
    c.kind = "llm" if c.task in LLM_TASKS else kind_from_architectures(archs, c.model_type)
    c.downloads, c.likes, c.trending = info.downloads, info.likes, info.trending_score
    c.last_modified = info.last_modified.isoformat() if info.last_modified else None
    c.sha = info.sha
    c.gated = info.gated not in (None, False)
    names = [sib.rfilename for sib in info.siblings] if info.siblings is not None else None
    weights = [sib for sib in info.siblings or [] if sib.rfilename.endswith(".safetensors") and "/" not in sib.rfilename]
    if weights and all(sib.size is not None for sib in weights):
        c.size_mb = round(sum(sib.size for sib in weights) / 1e6, 1)
    elif counts:
        c.size_mb = round(size_from_dtypes(counts) or 0, 1) or None
    if config.get("auto_map"):
        c.needs_remote_code = True
        c.refuse(f"needs trust_remote_code (custom code: {', '.join(map(str, config['auto_map']))})")
    elif "custom_code" in tags:
        c.needs_remote_code = True
        c.refuse("needs trust_remote_code (repo tagged custom_code)")
    if names is not None and not weights:
        c.refuse("no safetensors weights (the workbench never loads pickled .bin files)")
    if c.gated and not has_token(s or HubSettings()):
        c.refuse("gated: accept its terms on the Hub and log in (no HF token found)")
    if c.gated:
        c.notes.append(f"gated ({info.gated})")
    return c


# ------------------------------------------------------------------ details
def _cache_key(endpoint: str, repo_id: str) -> str:
    return f"{endpoint}/{repo_id}"


def _slim(raw: dict[str, Any]) -> dict[str, Any]:
    """What the details cache keeps of a model_info answer (drops bulky, unused blocks)."""
    out = {k: v for k, v in raw.items() if k not in ("spaces", "widgetData", "model-index", "evalResults",
                                                      "inferenceProviderMapping", "securityRepoStatus")}
    card = raw.get("cardData")
    if isinstance(card, dict):
        out["cardData"] = {k: card[k] for k in ("license", "language", "tags", "datasets", "pipeline_tag",
                                                "library_name", "base_model") if k in card}
    return out


def details_raw(repo_id: str, s: HubSettings, store: Store | None = None, sha: str | None = None,
                deadline: float | None = None, refresh: bool = False) -> dict[str, Any]:
    """The model_info JSON of one repo (``blobs=true`` for file sizes), from the TTL cache if fresh.

    A cached entry for another commit than ``sha`` (the listing's) is stale and refetched.
    """
    store = store or Store()
    key = _cache_key(s.url, repo_id)
    if not refresh:
        cached = store.get(CACHE_NAMESPACE, key, max_age_s=s.details_ttl_s)
        if cached and (sha is None or cached.get("sha") in (None, sha)):
            return cached
    from urllib.parse import quote

    url = f"{s.url}/api/models/{quote(repo_id, safe='/')}"
    data, _ = call_bounded(lambda t: get_json(url, {"blobs": True}, s.token, t), f"details of {repo_id}", s,
                           deadline or time.monotonic() + s.deadline_s)
    if not isinstance(data, dict) or not data.get("id"):
        raise HubError(f"details of {repo_id}: malformed answer (no model id)")
    data = _slim(data)
    store.put(CACHE_NAMESPACE, key, data)
    return data


def model_details(repo_id: str, settings: HubSettings | None = None, store: Store | None = None,
                  refresh: bool = False) -> Candidate:
    """Details of one Hub repo (cached). Raises HubError when the Hub cannot answer."""
    s = settings or HubSettings()
    why = offline_reason()
    if why:
        raise HubError(f"{why}: cannot look up {repo_id} on the Hub")
    raw = run_with_deadline(lambda: details_raw(repo_id, s, store, refresh=refresh), s.deadline_s + 1.0,
                            f"details of {repo_id}")
    return candidate_from_info(parse_model_info(raw), s)


# ------------------------------------------------------------------- search
def _list_models(params: dict[str, Any], want: int, s: HubSettings, deadline: float) -> list[dict[str, Any]]:
    url: str | None = f"{s.url}/api/models"
    items: list[dict[str, Any]] = []
    while url and len(items) < want:
        data, resp = call_bounded(lambda t, u=url, p=params: get_json(u, p, s.token, t), "listing models", s,
                                  deadline)
        if not isinstance(data, list):
            raise HubError("listing models: malformed answer (expected a JSON list)")
        items.extend(x for x in data if isinstance(x, dict) and isinstance(x.get("id"), str))
        url, params = resp.links.get("next", {}).get("url"), None
    return items[:want]


def _listing_params(q: SearchQuery, fetch_n: int) -> dict[str, Any]:
    params: dict[str, Any] = {"limit": fetch_n, "sort": HUB_SORT[q.sort], "direction": -1, "expand": LIST_EXPAND}
    filters = [f for f in (q.library, q.language) if f]
    if len(q.licenses) == 1:
        filters.append(f"license:{q.licenses[0]}")
    if filters:
        params["filter"] = filters
    if q.task:
        params["pipeline_tag"] = q.task
    if q.query:
        params["search"] = q.query
    if q.author:
        params["author"] = q.author
    return params


def _prefilter(item: dict[str, Any], q: SearchQuery) -> str | None:
    """Filters decidable from the listing alone (saves a details request)."""
    if pat := excluded_by(item["id"], q.exclude):
        return f"excluded by {pat!r}"
    tags = item.get("tags") if isinstance(item.get("tags"), list) else []
    lics = [str(t).split(":", 1)[1] for t in tags if str(t).startswith("license:")]
    if q.licenses and lics and not any(x.lower() in q.licenses for x in lics):
        return f"licence {lics[0]} not in allow-list"
    return None


def _with_details(item: dict[str, Any], s: HubSettings, store: Store, deadline: float) -> Candidate:
    """Candidate = cached/fetched details, with the listing's fresher popularity numbers."""
    listed = parse_model_info(item)
    try:
        raw = details_raw(item["id"], s, store, sha=item.get("sha"),
                          deadline=min(deadline, time.monotonic() + s.deadline_s))
        c = candidate_from_info(parse_model_info(raw), s)
    except HubError as exc:
        c = candidate_from_info(listed, s)
        c.notes.append(f"details unavailable: {exc}")
    for attr, val in (("downloads", listed.downloads), ("likes", listed.likes), ("trending", listed.trending_score)):
        if val is not None:
            setattr(c, attr, val)
    if listed.last_modified:
        c.last_modified = listed.last_modified.isoformat()
    return c


def hub_search(q: SearchQuery, settings: HubSettings | None = None, store: Store | None = None) -> SearchResult:
    """Search the Hub (raises HubError when the listing fails; details failures are per model)."""
    s = settings or HubSettings()
    store = store or Store()
    fetch_n = min(max(q.limit * 4, q.limit + 20), 200) if q.has_detail_filters else q.limit
    # the thread is a second bound: name resolution (getaddrinfo) ignores httpx's timeouts
    items = run_with_deadline(
        lambda: _list_models(_listing_params(q, fetch_n), fetch_n, s, time.monotonic() + s.deadline_s),
        s.deadline_s + 1.0, "listing models")
    keep: list[Candidate] = []
    skipped: list[dict[str, str]] = []
    pending = []
    for item in items:
        why = _prefilter(item, q)
        if why:
            skipped.append({"id": item["id"], "reason": why})
        else:
            pending.append(item)
    deadline = time.monotonic() + s.details_budget_s
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, s.workers)) as pool:
        while pending and len(keep) < q.limit:
            # fetch only about as many details as still needed (filters may reject some)
            n = max(q.limit - len(keep), s.workers)
            batch, pending = pending[:n], pending[n:]
            for c in pool.map(lambda it: _with_details(it, s, store, deadline), batch):
                why = check_filters(c, q)
                if why:
                    skipped.append({"id": c.id, "reason": why})
                elif len(keep) < q.limit:
                    keep.append(c)
    return SearchResult(candidates=keep, source="hub", endpoint=s.url, skipped=skipped,
                        message=None if len(items) else "the Hub returned no model for these filters")


def search(q: SearchQuery, settings: HubSettings | None = None, store: Store | None = None,
           offline: bool | None = None) -> SearchResult:
    """Hub search, or — when the Hub is off or unreachable — the installed catalog, with one line saying why."""
    s = settings or HubSettings()
    why = "offline mode requested" if offline else (None if offline is False else offline_reason())
    if why:
        msg = f"{why}: Hub search skipped, showing installed models instead"
        log.info(msg)  # the result carries it; the caller shows it once
        return search_catalog(q, message=msg)
    try:
        return hub_search(q, s, store)
    except HubError as exc:
        msg = f"Hub unavailable at {s.url} ({exc}): showing installed models instead"
        log.info(msg)  # the result carries it; the caller shows it once
        res = search_catalog(q, message=msg)
        res.endpoint = s.url
        return res


# --------------------------------------------------------------- download
def local_snapshot(repo_id: str) -> Path | None:
    """The cached snapshot folder of a downloaded repo (config + safetensors present), else None."""
    from .assets import hub_snapshot

    found = hub_snapshot(repo_id)
    return Path(found) if found else None


def download(repo_id: str, settings: HubSettings | None = None, store: Store | None = None) -> Path:
    """Fetch a candidate's safetensors, config and tokenizer into the HF cache; never remote code.

    Afterwards ``repo_id`` works as ``FinetuneConfig.model`` / ``PromptConfig.model``:
    ``assets.resolve_model`` maps a downloaded id to this snapshot folder, so training reads
    the files on disk even under ``HF_HUB_OFFLINE=1``.
    """
    from .assets import ASSETS, resolve_model

    for asset in ASSETS.values():
        if repo_id in (asset.hub_id, asset.name):  # shipped offline already: nothing to download
            return Path(resolve_model(asset.name))
    s = settings or HubSettings()
    why = offline_reason()
    if why:
        local = local_snapshot(repo_id)
        if local:
            return local
        raise ValueError(f"{why}: cannot download {repo_id} and it is not in the local HF cache")
    try:
        c = model_details(repo_id, s, store, refresh=True)
    except HubError as exc:
        if exc.status in (401, 404):
            raise ValueError(f"{repo_id}: no such model on {s.url} (or it is private)") from exc
        raise
    if not c.runnable:
        raise ValueError(f"{repo_id} cannot be used here: {'; '.join(c.reasons)}. "
                         "The workbench never runs code from a model repo (trust_remote_code stays off).")
    from huggingface_hub import snapshot_download

    path = run_with_deadline(
        lambda: snapshot_download(repo_id, endpoint=s.url, allow_patterns=DOWNLOAD_PATTERNS,
                                  ignore_patterns=["*/*", "*.py", "*.bin", "*.pt", "*.pth", "*.ckpt"],
                                  etag_timeout=s.read_timeout_s, token=s.token, max_workers=4),
        s.download_deadline_s, f"downloading {repo_id}")
    folder = Path(path)
    if not (folder / "config.json").is_file() or not any(folder.glob("*.safetensors")):
        raise ValueError(f"{repo_id}: the download has no config.json or no safetensors weights")
    if list(folder.glob("*.py")):
        raise ValueError(f"{repo_id}: python files were downloaded; refusing to use the folder")
    log.info("downloaded %s into %s", repo_id, folder)
    return folder
