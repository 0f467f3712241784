"""Sweeps: one job per point of a grid over config fields, grouped so Compare can fold them.

``finetune --grid learning_rate=1e-4,3e-4,1e-3 --grid method=full,lora`` queues the six
points of that grid as ordinary jobs of one sweep (the ``sweep`` column of jobs and runs).
The *best point* is chosen on validation — the score the run's own training selected on —
never on the test split, which would turn the comparison into a search over the test set.

Retention: a sweep may keep only its best point's weights (``keep="best"``), or none
(``keep="none"``: a learning curve's points are measurements, not models anyone deploys).
Once every point has finished, the other points' ``model/`` folders are replaced by a small
note; their metrics and predictions stay, so Compare and Errors still show every point.

Two sweeps are groups rather than searches, marked in their meta (kv ``sweeps``): a *seed
group* (``"seeds": True``, the same config over seeds: Compare and the verdict read its
spread, :func:`seed_groups`) and a *learning curve* (``"curve": True``, a sweep over
``max_train_samples`` on nested subsets: :mod:`pipelines.curves`).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
import shutil
import time
from collections.abc import Callable
from typing import Any

from .configs import config_fields
from .runfolder import RunFolder, write_json
from .store import FINAL, Store

log = logging.getLogger(__name__)

KV = "sweeps"
KEEP = ("all", "best", "none")
DROPPED_NOTE = "weights_dropped.json"


def parse_grid(specs: list[str], config_cls: type) -> dict[str, list[Any]]:
    """``["learning_rate=1e-4,3e-4", "method=full,lora"]`` → typed values per field (checked by name)."""
    fields = {f.name: f for f in config_fields(config_cls)}
    grid: dict[str, list[Any]] = {}
    for spec in specs:
        name, sep, values = spec.partition("=")
        name = name.strip().replace("-", "_")
        if not sep or not values.strip():
            raise ValueError(f"--grid {spec!r}: write FIELD=V1,V2,… (e.g. learning_rate=1e-4,3e-4)")
        if name not in fields:
            raise ValueError(f"--grid {spec!r}: {config_cls.__name__} has no field {name!r}; "
                             f"fields: {', '.join(sorted(fields))}")
        if name in grid:
            raise ValueError(f"--grid names {name!r} twice")
        grid[name] = [_convert(fields[name], v.strip(), spec) for v in values.split(",") if v.strip()]
    return grid


def _convert(field: Any, text: str, spec: str) -> Any:
    if field.optional and text.lower() in ("none", "default"):
        return None
    try:
        if field.type is bool:
            if text.lower() not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError(text)
            return text.lower() in ("true", "1", "yes")
        return field.type(text) if field.type in (int, float, str) else text
    except ValueError:
        raise ValueError(f"--grid {spec!r}: {text!r} is not a valid {field.name} ({field.type.__name__})") from None


def points(base: dict[str, Any], grid: dict[str, list[Any]]) -> list[dict[str, Any]]:
    """Every combination of the grid on top of ``base``, in grid order."""
    names = list(grid)
    return [{**base, **dict(zip(names, combo))} for combo in itertools.product(*(grid[n] for n in names))]


def _point_words(point: dict[str, Any]) -> str:
    return ", ".join(f"{n}={v}" for n, v in point.items())


def queue_sweep(store: Store, kind: str, base: dict[str, Any], grid: dict[str, list[Any]],
                keep: str = "all", name: str | None = None, meta: dict[str, Any] | None = None,
                point_label: Callable[[dict[str, Any]], str] = _point_words) -> tuple[str, list[int]]:
    """Validate every point first (nothing is queued if one is invalid), then queue them as one sweep.

    ``meta`` is stored with the sweep (``{"seeds": True}`` marks a seed group, ``{"curve":
    True}`` a learning curve). Each point is named "<base run name or the grid> · <point>",
    ``point_label`` saying how a point reads ("seed=43", "250 labels").
    """
    from . import kinds  # the kind registry imports every kind: only needed to queue
    from .jobs import submit

    if keep not in KEEP:
        raise ValueError(f"keep must be one of {', '.join(KEEP)}, got {keep!r}")
    k = kinds.get(kind)
    configs = [k.normalise(p) for p in points(base, grid)]
    blob = json.dumps({"kind": kind, "base": base, "grid": grid, "at": time.time()}, sort_keys=True, default=str)
    sweep_id = f"sweep-{time.strftime('%Y%m%d-%H%M%S')}-{hashlib.sha1(blob.encode()).hexdigest()[:6]}"
    label = name or base.get("run_name") or ", ".join(f"{n}={'/'.join(map(str, v))}" for n, v in grid.items())
    for cfg, point in zip(configs, points({}, grid)):
        cfg["run_name"] = f"{label} · {point_label(point)}"  # a base name alone would name every point alike
    store.put(KV, sweep_id, {"kind": kind, "grid": grid, "keep": keep, "name": label, "created_at": time.time(),
                             **(meta or {})})
    return sweep_id, [submit(store, kind, cfg, sweep=sweep_id) for cfg in configs]


def seed_matters(kind: str, config: dict[str, Any]) -> bool:
    """Whether a run's seed can move its score, so that repeating it over seeds means something: not a
    full-data TF-IDF fit, not LLM zero-shot label scoring (nothing drawn or sampled); a few-shot
    run's seed draws its examples, a generate-mode run's seeds its sampled retries."""
    if kind == "tfidf":
        return False
    return not (kind == "prompt" and config.get("mode", "zero") == "zero" and config.get("scoring", "label") == "label")


def queue_seeds(store: Store, kind: str, base: dict[str, Any], n_seeds: int,
                keep: str = "all") -> tuple[str, list[int]]:
    """The same config over ``n_seeds`` consecutive seeds from its own, as one seed group."""
    from . import kinds

    if n_seeds < 2:
        raise ValueError(f"a seed group needs at least 2 seeds, got {n_seeds}")
    cfg = kinds.get(kind).normalise(base)
    start = int(cfg["seed"])
    how = cfg.get("method") or (f"{cfg['mode']}-shot" if cfg.get("mode") else kind)
    name = base.get("run_name") or " ".join(dict.fromkeys(str(w) for w in (cfg.get("model") or (
        "LLM" if kind == "prompt" else None), how) if w))  # "minilm full", "minilm probe", "LLM few-shot"
    return queue_sweep(store, kind, base, {"seed": [start + i for i in range(n_seeds)]}, keep=keep, name=name,
                       meta={"seeds": True})


def seed_groups(store: Store, run_rows: list[dict[str, Any]]) -> dict[str, list[str]]:
    """sweep id → run ids of the seed groups among these store rows (groups of two or more runs)."""
    by_sweep: dict[str, list[str]] = {}
    for row in run_rows:
        if row.get("sweep"):
            by_sweep.setdefault(row["sweep"], []).append(row["id"])
    return {sw: ids for sw, ids in by_sweep.items() if len(ids) >= 2 and (store.get(KV, sw) or {}).get("seeds")}


def seed_groups_among(store: Store, run_ids: list[str], rows: list[dict[str, Any]] | None = None
                      ) -> dict[str, list[str]]:
    """The seed groups among these runs (``rows``: the store's run rows when already read, e.g. cached)."""
    wanted = set(run_ids)
    return seed_groups(store, [r for r in (store.runs() if rows is None else rows) if r["id"] in wanted])


def validation_score(metrics: dict[str, Any]) -> float | None:
    """The validation macro-F1 a run was selected on (fine-tune: the best evaluation), or None."""
    val = metrics.get("validation") or {}
    score = val.get("macro_f1", (metrics.get("train") or {}).get("best_val_macro_f1"))
    return None if score is None else float(score)


def best_runs(store: Store, run_rows: list[dict[str, Any]]) -> dict[str, str]:
    """sweep id → id of its run with the best validation score (runs without one never win)."""
    best: dict[str, tuple[float, str]] = {}
    for row in run_rows:
        sweep = row.get("sweep")
        if not sweep:
            continue
        try:
            score = validation_score(RunFolder(row["path"]).read_metrics())
        except (OSError, ValueError):
            score = None
        if score is not None and (sweep not in best or score > best[sweep][0]):
            best[sweep] = (score, row["id"])
    return {sweep: run_id for sweep, (_, run_id) in best.items()}


def collapse(store: Store, run_rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows with each sweep folded to its best point on validation (other runs unchanged)."""
    winners = set(best_runs(store, run_rows).values())
    return [r for r in run_rows if not r.get("sweep") or r["id"] in winners]


def apply_retention(store: Store, sweep_id: str) -> list[str]:
    """Once every job of a ``keep="best"`` (``"none"``) sweep is final, drop the other (all) points' weights.

    Returns the run ids whose weights were dropped. Only ``model/`` folders inside run
    folders this workbench made are touched.
    """
    meta = store.get(KV, sweep_id) or {}
    jobs = [j for j in store.jobs(limit=100_000) if j.get("sweep") == sweep_id]
    if meta.get("keep") not in ("best", "none") or not jobs or any(j["status"] not in FINAL for j in jobs):
        return []
    rows = [r for r in store.runs() if r.get("sweep") == sweep_id]
    winner = best_runs(store, rows).get(sweep_id) if meta["keep"] == "best" else None
    dropped = []
    for row in rows:
        folder = RunFolder(row["path"])
        if row["id"] == winner or not folder.model.is_dir() or (folder.model / DROPPED_NOTE).exists():
            continue
        why = ("sweep retention keeps only the best point's weights" if winner else
               "this sweep keeps no weights (a learning curve's points are measurements)")
        note = {"dropped_at": time.time(), "sweep": sweep_id, "best_run": winner,
                "why": why + "; metrics and predictions are kept"}
        shutil.rmtree(folder.model)
        folder.model.mkdir()
        write_json(folder.model / DROPPED_NOTE, note)
        dropped.append(row["id"])
    if dropped:
        log.info("sweep %s: dropped the weights of %d point(s), kept %s", sweep_id, len(dropped), winner or "none")
    return dropped


def weights_dropped(run_dir: Any) -> bool:
    return (RunFolder(run_dir).model / DROPPED_NOTE).exists()
