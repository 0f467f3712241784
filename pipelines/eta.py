"""When each job in the queue will be done: one ETA per queued or running job.

Why: the queue runs cheapest first so a comparison appears within minutes, but a user
looking at six queued jobs still wants to know *when* each result lands. The Runs page, Home
and ``python -m pipelines jobs list`` all show what :func:`queue_etas` returns, so they agree.

- A running job: its remaining time from its progress rate (elapsed × (1 − p) / p). Early on,
  while loading, progress says little, so until ``TRUST_PROGRESS`` the rate is blended with
  the job's estimate minus the time already spent.
- A queued job: its own estimate (:func:`pipelines.estimate.estimate`: throughput measured by
  earlier runs on this machine, scaled to the job's data) plus everything ahead of it, in the
  order the worker claims jobs (running first, then cheapest ``priority``, then oldest).
- Where nothing was measured here, the estimate is the run kind's built-in figure, and the
  ETA says it is a rough guess. A job whose kind or config this version cannot read has no
  estimate: its ETA, and that of every job behind it, says "unknown".

The local worker runs one job at a time, so times add up; with several executors running in
parallel the queued jobs' ETAs are upper bounds.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from . import estimate

TRUST_PROGRESS = 0.2  # from this fraction done on, the progress rate alone gives the remaining time
MIN_ELAPSED_S = 3.0  # a rate over less than this is noise

BASIS_WORDS = {"progress": "its progress rate", "measured": "runs measured here",
               "measured (other model)": "runs of other models measured here",
               "rough": "rough guess (built-in table, nothing measured here yet)", "unknown": "unknown"}


@dataclass(frozen=True)
class JobEta:
    """One job's ETA. Seconds are from ``now``; None where unknown."""

    job_id: int
    status: str
    own_s: float | None  # this job's remaining (running) or whole (queued) duration
    done_in_s: float | None  # until this job is done, counting the jobs ahead of it
    basis: str  # a key of BASIS_WORDS: how own_s was found
    rough: bool  # own_s or a job ahead is a rough guess

    @property
    def text(self) -> str:
        """One short phrase for a job line: ``ETA 3 min`` / ``ETA 6 min (2 min itself), rough guess``."""
        if self.done_in_s is None:
            return "ETA unknown" + ("" if self.own_s is None else " (a job ahead has no estimate)")
        if self.status == "running":
            words = "ETA: finishing" if self.done_in_s < 1 else f"ETA {estimate.words(self.done_in_s)}"
        else:
            words = f"ETA {estimate.words(self.done_in_s)} ({estimate.words(self.own_s or 0)} itself)"
        return words + (", rough guess" if self.rough else "")

    @property
    def source(self) -> str:
        """Where the number comes from, in words (the CLI's column, the job line's tooltip)."""
        return BASIS_WORDS.get(self.basis, self.basis)


def queue_order(jobs: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Queued and running jobs in the order the worker takes them (``Store.claim_next``'s order)."""
    active = [j for j in jobs if j["status"] in ("queued", "running")]
    return sorted(active, key=lambda j: (j["status"] != "running", float(j.get("priority") or 0.0), j["id"]))


def running_remaining(job: Mapping[str, Any], expected_s: float | None, now: float) -> tuple[float | None, str]:
    """(remaining seconds, basis) of a running job: its progress rate, blended with the estimate early on."""
    p = min(max(float(job.get("progress") or 0.0), 0.0), 1.0)
    elapsed = max(0.0, now - float(job.get("started_at") or now))
    by_rate = elapsed * (1.0 - p) / p if p > 0 and elapsed >= MIN_ELAPSED_S else None
    by_estimate = max(0.0, expected_s - elapsed) if expected_s is not None else None
    if by_rate is not None and (p >= TRUST_PROGRESS or by_estimate is None):
        return by_rate, "progress"
    if by_rate is None:
        return by_estimate, "estimate"
    w = p / TRUST_PROGRESS
    return w * by_rate + (1 - w) * by_estimate, "progress"


def job_estimate(store: Any, job: Mapping[str, Any],
                 found: Callable[[str], list[estimate.Sample]] | None = None) -> estimate.Estimate | None:
    """The job's whole duration before it starts (None when its kind or config is unreadable)."""
    from . import kinds

    try:
        kind = kinds.get(job["kind"])
        config = kind.normalise(dict(job["config"]))
    except (KeyError, ValueError, TypeError):
        return None
    ds = config.get("dataset")
    if ds and estimate.dataset_info(str(ds)) is None and (store is None or store.dataset(str(ds)) is None):
        # not prepared yet (the demo's prepare job is ahead): the sizes are unknown, the kind's figure stands in
        return estimate.Estimate(float(kind.cost(config)), "rough", "the dataset is not prepared yet")
    samples = found(job["kind"]) if found else None
    return estimate.estimate(store, job["kind"], config, found=samples)


def queue_etas(store: Any, jobs: Iterable[Mapping[str, Any]], now: float | None = None,
               found: Callable[[str], list[estimate.Sample]] | None = None) -> dict[int, JobEta]:
    """ETA of every queued or running job in ``jobs``, by job id.

    ``found(kind)`` returns the measured samples of a kind (the dashboard passes a cached
    reader); by default each kind's finished runs are read once per call.
    """
    now = time.time() if now is None else now
    cache: dict[str, list[estimate.Sample]] = {}

    def samples(kind: str) -> list[estimate.Sample]:
        if kind not in cache:
            cache[kind] = found(kind) if found else (estimate.samples(store, kind) if store is not None else [])
        return cache[kind]

    out: dict[int, JobEta] = {}
    ahead: float | None = 0.0
    rough_ahead = False
    for job in queue_order(jobs):
        est = job_estimate(store, job, samples)
        expected = est.seconds if est else None
        basis, rough = (est.basis, est.basis == "rough") if est else ("unknown", False)
        if job["status"] == "running":
            own, how = running_remaining(job, expected, now)
            if how == "progress":
                basis, rough = "progress", False
        else:
            own = expected
        done_in = None if own is None or ahead is None else ahead + own
        out[job["id"]] = JobEta(job["id"], job["status"], own, done_in, basis if own is not None else "unknown",
                                rough or rough_ahead)
        ahead = done_in
        rough_ahead = rough_ahead or rough
    return out
