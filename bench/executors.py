"""Executor benchmark: ``python bench/executors.py [--jobs 20]``.

The same tiny jobs (the tests' ``majority`` kind: a real job through the real store,
CodeCarbon phases, run folder and scoring, about a second each) run three ways on this
machine's cores, each in a fresh queue of one temporary workspace:

0. no executor: one process claims and ``jobs.execute``s them in turn (the jobs' own cost);
1. the local worker (``worker --once``), one job at a time, as the dashboard starts it;
2. the Ray executor with ``--max-concurrent 1`` (the same one-at-a-time schedule, so the
   difference per job to (0) is the executor's overhead: task submission, shipping the
   split and the run folder, relaying progress; target ≤ 2 s per job);
3. the Ray executor with 2 concurrent jobs (Ray started with 2 CPUs).

Times are the queue's own: from the first job's claim to the last job's end (store
timestamps), so Python and Ray start-up are printed apart, not mixed in. Ray runs inside a
loopback-only network namespace (``unshare -n``, as in the tests: Ray probes outside
addresses at start-up). Prints the ratios measured in this run and appends a line to
``bench/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TARGET_OVERHEAD_S = 2.0


def _queue(n: int, dataset: str, tag: str, sleep_s: float = 0.0) -> list[int]:
    from pipelines.jobs import submit
    from pipelines.store import Store

    store = Store()
    return [submit(store, "majority", {"dataset": dataset, "run_name": f"{tag}-{i}", "sleep_s": sleep_s})
            for i in range(n)]


def _span(ids: list[int]) -> dict[str, float]:
    from pipelines.store import Store

    jobs = [Store().job(i) for i in ids]
    bad = [(j["id"], j["status"], (j["error"] or "")[:200]) for j in jobs if j["status"] != "done"]
    if bad:
        raise SystemExit(f"jobs did not finish: {bad}")
    per_job = [j["finished_at"] - j["started_at"] for j in jobs]
    return {"span_s": max(j["finished_at"] for j in jobs) - min(j["started_at"] for j in jobs),
            "mean_job_s": sum(per_job) / len(per_job)}


def _env() -> dict[str, str]:
    return {**os.environ, "RAY_USAGE_STATS_ENABLED": "0", "RAY_AUTH_MODE": "disabled", "PYTHONUNBUFFERED": "1",
            "HF_HUB_OFFLINE": "1", "HF_HUB_DISABLE_TELEMETRY": "1",
            "WORKBENCH_KIND_MODULES": "tests.kind_majority"}  # every process knows the test kind


def run_inline(ids: list[int]) -> dict[str, float]:
    code = ("from pipelines.store import Store; from pipelines.jobs import execute; s = Store()\n"
            "while (job := s.claim_next()) is not None: execute(s, job)")
    t0 = time.monotonic()
    subprocess.run([sys.executable, "-c", code], cwd=REPO, env=_env(), check=True, capture_output=True)
    return {**_span(ids), "process_s": time.monotonic() - t0}


def run_local(ids: list[int]) -> dict[str, float]:
    code = "import tests.kind_majority; from pipelines.worker import worker_loop; worker_loop(once=True)"
    t0 = time.monotonic()
    subprocess.run([sys.executable, "-c", code], cwd=REPO, env=_env(), check=True, capture_output=True)
    return {**_span(ids), "process_s": time.monotonic() - t0}


def run_ray(ids: list[int], concurrent: int) -> dict[str, float]:
    temp = tempfile.mkdtemp(prefix="rb", dir="/tmp")
    cmd = (f"ip link set lo up && exec {sys.executable} -m tests.ray_driver {temp} --once "
           f"--max-concurrent {concurrent}")
    t0 = time.monotonic()
    out = subprocess.run(["unshare", "-n", "sh", "-c", cmd], cwd=REPO, env=_env(), capture_output=True, text=True)
    wall = time.monotonic() - t0
    shutil.rmtree(temp, ignore_errors=True)
    if out.returncode != 0:
        raise SystemExit(f"the Ray driver failed:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}")
    ready = next(float(line.split()[1]) for line in out.stdout.splitlines() if line.startswith("RAY-READY"))
    return {**_span(ids), "process_s": wall, "ray_start_s": ready}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=20)
    parser.add_argument("--sleep-s", type=float, default=0.0,
                        help="pretend training per job (waiting, not CPU): shows the overlap 2 slots give on a "
                             "machine whose cores other work keeps busy")
    args = parser.parse_args()
    if subprocess.run(["unshare", "-n", "true"], capture_output=True).returncode != 0:
        print("`unshare -n` is refused here (needs root or CAP_SYS_ADMIN); Ray must not probe outside addresses")
        return 2
    home = tempfile.mkdtemp(prefix="bench-executors-")
    os.environ["WORKBENCH_HOME"] = home
    os.environ.setdefault("WORKBENCH_MODEL_CACHE", str(REPO / "models" / "cache"))
    sys.path.insert(0, str(REPO))  # tests.kind_majority
    import tests.kind_majority  # noqa: F401
    from pipelines.data import prepare

    ds = prepare("rotten_tomatoes", name="rt_bench", max_rows=1200)
    n = args.jobs
    print(f"{n} majority jobs on {os.cpu_count()} cores; workspace {home}", flush=True)
    inline = run_inline(_queue(n, ds.id, "inline", args.sleep_s))
    print(f"no executor:         {inline['span_s']:6.1f} s for {n} jobs ({inline['mean_job_s']:.2f} s/job)", flush=True)
    local = run_local(_queue(n, ds.id, "local", args.sleep_s))
    print(f"local worker:        {local['span_s']:6.1f} s for {n} jobs ({local['mean_job_s']:.2f} s/job)", flush=True)
    ray1 = run_ray(_queue(n, ds.id, "ray1", args.sleep_s), 1)
    print(f"ray, 1 at a time:    {ray1['span_s']:6.1f} s ({ray1['mean_job_s']:.2f} s/job; Ray start "
          f"{ray1['ray_start_s']:.1f} s not counted)", flush=True)
    ray2 = run_ray(_queue(n, ds.id, "ray2", args.sleep_s), 2)
    print(f"ray, 2 at once:      {ray2['span_s']:6.1f} s ({ray2['mean_job_s']:.2f} s/job; Ray start "
          f"{ray2['ray_start_s']:.1f} s not counted)", flush=True)
    overhead = (ray1["span_s"] - inline["span_s"]) / n
    local_overhead = (local["span_s"] - inline["span_s"]) / n
    print(f"Ray overhead per job: {overhead:+.2f} s (target ≤ {TARGET_OVERHEAD_S:.0f} s: "
          f"{'met' if overhead <= TARGET_OVERHEAD_S else 'MISSED'}); local worker's: {local_overhead:+.2f} s; "
          f"ratio Ray×1/local {ray1['span_s'] / local['span_s']:.2f}")
    print(f"speed-up with 2 concurrent jobs: {ray1['span_s'] / ray2['span_s']:.2f}x over Ray one at a time, "
          f"{local['span_s'] / ray2['span_s']:.2f}x over the local worker")
    line = (f"| {time.strftime('%Y-%m-%d')} | executors | {os.cpu_count()} cores, load avg {os.getloadavg()[0]:.1f}, "
            f"Python {platform.python_version()}, ray {metadata.version('ray')} | {n} majority jobs, sleep_s "
            f"{args.sleep_s:g}: no executor {inline['span_s']:.1f} s, local worker {local['span_s']:.1f} s "
            f"({local_overhead:+.2f} s/job), Ray×1 {ray1['span_s']:.1f} s (overhead {overhead:+.2f} s/job, target ≤ 2), "
            f"Ray×2 {ray2['span_s']:.1f} s (speed-up {ray1['span_s'] / ray2['span_s']:.2f}× vs Ray×1, "
            f"{local['span_s'] / ray2['span_s']:.2f}× vs the local worker); Ray start {ray1['ray_start_s']:.1f} s |\n")
    results = REPO / "bench" / "RESULTS.md"
    if not results.exists():
        results.write_text("# Benchmark results\n\n| date | bench | machine | result |\n|---|---|---|---|\n")
    with results.open("a") as fh:
        fh.write(line)
    print(f"appended to {results}")
    shutil.rmtree(home, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
