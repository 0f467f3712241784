"""The driver process of tests/test_ray_executor.py and bench/executors.py.

``python -m tests.ray_driver TEMP_DIR [worker flags…]`` (from the repo root), run inside a loopback-only network
namespace (Ray probes outside addresses at start-up). It registers the tests' ``majority``
kind, starts a small private Ray (2 CPUs, no dashboard, its sockets under the short
TEMP_DIR) and then runs the real ``python -m pipelines worker --executor ray`` command, which
reuses that Ray instead of starting its own. It prints ``RAY-READY <seconds>`` once Ray is up.
"""

from __future__ import annotations

import sys
import time

import ray

import tests.kind_majority  # noqa: F401 - registers the test kind (the tasks import it by name)
from pipelines.cli import main

if __name__ == "__main__":
    started = time.monotonic()
    ray.init(num_cpus=2, include_dashboard=False, _temp_dir=sys.argv[1], logging_level="WARNING")
    print(f"RAY-READY {time.monotonic() - started:.2f}", flush=True)
    try:
        code = main(["worker", "--executor", "ray", *sys.argv[2:]])
    finally:
        ray.shutdown()
    raise SystemExit(code)
