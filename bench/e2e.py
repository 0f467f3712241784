"""End to end: empty workspace → the default demo done. Wall time, and where it goes.

    python bench/e2e.py                  # the default demo, reusing this machine's model cache
    python bench/e2e.py --cold-models    # a model cache of its own: converting the models counts
    python bench/e2e.py --profile full   # the full-size comparison (~22 min on 2 idle cores)

The steps are ``make run``'s, as subprocesses in a new temporary workspace: prepare the
dataset (``data prepare``), the models (``prepare-models``), queue the demo (``demo``), then
one local worker (``worker --once``) runs the queue, each job in its own process as always.
Printed: each step's wall time, each job's wall time (the store's start/finish times) and CPU
time (the job's tracked phases: training, scoring, the LLM's inference), the time until the
first finished run (from the worker's start, which is when ``make run`` opens the dashboard,
and from the empty workspace), and the ratios against the targets: whole demo ≤ 10 min on 2
cores, first run ≤ 2 min. The machine may be shared: the load average is sampled during the
run and printed beside the timings; under load, the CPU times are the figures that compare.
Results are appended to ``bench/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "RESULTS.md"
TARGET_TOTAL_S, TARGET_FIRST_S = 600.0, 120.0
MODELS = ["minilm", "mpnet", "smollm2"]


class LoadSampler(threading.Thread):
    """While the benchmark runs: the 1-minute load average (the machine is shared), and each job
    process's CPU time read from /proc (``run-job ID`` processes of this workspace only), which
    counts what the tracked phases leave out: the process start, imports, model loading."""

    def __init__(self, home: Path, every_s: float = 2.0) -> None:
        super().__init__(daemon=True)
        self.home, self.every_s, self.samples, self.stop = str(home), every_s, [], threading.Event()
        self.job_cpu: dict[int, float] = {}
        self.tick = os.sysconf("SC_CLK_TCK")

    def run(self) -> None:
        while not self.stop.wait(self.every_s):
            self.samples.append(os.getloadavg()[0])
            self._jobs()

    def _jobs(self) -> None:
        for pid in (p for p in os.listdir("/proc") if p.isdigit()):
            try:
                argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
                if b"run-job" not in argv:
                    continue
                if f"WORKBENCH_HOME={self.home}".encode() not in Path(f"/proc/{pid}/environ").read_bytes().split(b"\0"):
                    continue
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                job_id = int(argv[argv.index(b"run-job") + 1])
            except (OSError, ValueError, IndexError):
                continue  # gone, or not ours
            self.job_cpu[job_id] = (int(fields[11]) + int(fields[12])) / self.tick  # utime + stime

    def summary(self) -> str:
        s = self.samples or [os.getloadavg()[0]]
        return f"{sum(s) / len(s):.1f} mean, {max(s):.1f} max"


def step(name: str, args: list[str], env: dict[str, str], timings: list[tuple[str, float]]) -> None:
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "pipelines", *args], env=env, cwd=REPO, capture_output=True,
                          text=True)
    timings.append((name, time.perf_counter() - t))
    if proc.returncode != 0:
        raise SystemExit(f"{name} failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")


def job_rows(home: Path, process_cpu: dict[int, float]) -> list[dict]:
    """Every job with its wall time, CPU time (tracked phases; whole process) and run name."""
    os.environ["WORKBENCH_HOME"] = str(home)
    from pipelines.runfolder import RunFolder
    from pipelines.store import Store

    store = Store()
    out = []
    for j in sorted(store.jobs(limit=1000), key=lambda j: j["started_at"] or 0):
        cpu = None
        run = store.run(j["run_id"]) if j["run_id"] else None
        if run:
            try:
                phases = (RunFolder(run["path"]).read_metrics().get("emissions") or {}).get("phases") or []
                cpu = sum(float(p.get("cpu_seconds") or 0) for p in phases)
            except (OSError, ValueError):
                pass
        cfg = j["config"]
        out.append({"id": j["id"], "kind": j["kind"], "status": j["status"],
                    "name": cfg.get("run_name") or cfg.get("source") or j["kind"],
                    "started": j["started_at"], "finished": j["finished_at"],
                    "wall": (j["finished_at"] or 0) - (j["started_at"] or 0), "cpu": cpu,
                    "process_cpu": process_cpu.get(j["id"]), "run": j["run_id"]})
    return out


def _num(x: float | None) -> str:
    return "–" if x is None else f"{x:.0f}"


def versions() -> str:
    import torch
    import transformers

    return f"Python {platform.python_version()}, torch {torch.__version__}, transformers {transformers.__version__}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--profile", default="default", help="demo profile (default, full, tiny)")
    ap.add_argument("--cold-models", action="store_true",
                    help="a model cache of the workspace's own (cold: the models are converted inside the timing); "
                         "default: reuse this machine's cache (models/cache, as the tests do)")
    ap.add_argument("--home", help="workspace (default: a new temporary folder); it must be empty")
    ap.add_argument("--no-append", action="store_true", help="print only, do not append to bench/RESULTS.md")
    args = ap.parse_args()

    home = Path(args.home or tempfile.mkdtemp(prefix="bench-e2e-"))
    if home.exists() and any(home.iterdir()):
        raise SystemExit(f"{home} is not empty: the benchmark starts from an empty workspace")
    cache = home / "models" / "cache" if args.cold_models else Path(
        os.environ.get("WORKBENCH_MODEL_CACHE") or REPO / "models" / "cache")
    env = {**os.environ, "WORKBENCH_HOME": str(home), "WORKBENCH_MODEL_CACHE": str(cache),
           "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    load_before = os.getloadavg()
    sampler = LoadSampler(home)
    sampler.start()
    cpu0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    timings: list[tuple[str, float]] = []
    t0 = time.time()
    step("data prepare", ["data", "prepare", "rotten_tomatoes"], env, timings)
    step("prepare-models", ["prepare-models", *MODELS], env, timings)
    step("demo (queue)", ["demo", "--profile", args.profile], env, timings)
    worker_start = time.time()
    step("worker (runs the queue)", ["worker", "--once"], env, timings)
    total = time.time() - t0
    sampler.stop.set()
    cpu1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_all = (cpu1.ru_utime + cpu1.ru_stime) - (cpu0.ru_utime + cpu0.ru_stime)

    jobs = job_rows(home, sampler.job_cpu)
    runs_done = [j for j in jobs if j["run"] and j["status"] == "done"]
    first = min((j["finished"] for j in runs_done), default=None)
    failed = [j for j in jobs if j["status"] != "done"]

    print(f"\nworkspace {home}; model cache {cache} ({'cold, its own' if args.cold_models else 'reused'})")
    print(f"{'step':<26} {'wall s':>7}")
    for name, secs in timings:
        print(f"{name:<26} {secs:>7.1f}")
    print(f"\n{'job':<40} {'kind':<9} {'status':<7} {'wall s':>7} {'CPU s':>7} {'tracked':>7}")
    for j in jobs:
        print(f"#{j['id']} {j['name'][:36]:<37} {j['kind']:<9} {j['status']:<7} {j['wall']:>7.1f} "
              f"{_num(j['process_cpu']):>7} {_num(j['cpu']):>7}")
    gaps = timings[-1][1] - sum(j["wall"] for j in jobs)
    print(f"between jobs (process start, claiming): {gaps:.1f} s")
    first_w = first - worker_start if first else float("nan")
    first_0 = first - t0 if first else float("nan")
    load = sampler.summary()
    print(f"\ntotal {total:.0f} s = {total / 60:.1f} min ({total / TARGET_TOTAL_S:.2f}× the 10-min target); "
          f"first finished run {first_w:.0f} s after the worker started ({first_w / TARGET_FIRST_S:.2f}× the "
          f"2-min target), {first_0:.0f} s after the empty workspace")
    print(f"CPU time of every step and job: {cpu_all:.0f} s ({cpu_all / total:.2f} cores busy on average); "
          f"load average before {load_before[0]:.1f}, during {load}")
    if failed:
        print("NOT DONE: " + ", ".join(f"#{j['id']} {j['name']} ({j['status']})" for j in failed))

    if not args.no_append:
        when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M")
        lines = [f"\n## e2e — {when} UTC\n",
                 f"Empty workspace → `{args.profile}` demo done, model cache "
                 f"{'cold (its own)' if args.cold_models else 'reused (warm)'}; {os.cpu_count()} cores, load "
                 f"average {load_before[0]:.1f} before, {load} during (shared machine); {versions()}\n",
                 "| step / job | wall s | CPU s (job process) | CPU s (tracked phases) |", "|---|---|---|---|"]
        lines += [f"| {name} | {secs:.1f} | | |" for name, secs in timings]
        for j in jobs:
            note = "" if j["status"] == "done" else f" ({j['status']})"
            lines.append(f"| #{j['id']} {j['kind']}: {j['name']}{note} | {j['wall']:.1f} | {_num(j['process_cpu'])} "
                         f"| {_num(j['cpu'])} |")
        lines.append(f"\nTotal {total:.0f} s ({total / 60:.1f} min, {total / TARGET_TOTAL_S:.2f}× the 10-min "
                     f"target); first finished run {first_w:.0f} s after the worker started "
                     f"({first_w / TARGET_FIRST_S:.2f}× the 2-min target); CPU time of everything {cpu_all:.0f} s "
                     f"({cpu_all / total:.2f} cores busy on average).\n")
        with RESULTS.open("a") as fh:
            fh.write("\n".join(lines))
        print(f"appended to {RESULTS.relative_to(REPO)}")
    summary = {"total_s": total, "first_run_s": first_w, "load": load, "jobs": jobs}
    (home / "e2e.json").write_text(json.dumps(summary, indent=1, default=str))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
