"""The predictor service: a long-lived process that keeps run predictors warm for the dashboard.

Why a separate process: the dashboard must never import torch/transformers, and a Streamlit
rerun must never load a model. So live predictions (Playground) and tokenizer statistics
(Data page) go over HTTP to this process, which loads each run's predictor once through
``predictor.load_run_predictor`` and keeps it in memory.

- Binds 127.0.0.1 only, on a free port chosen by the OS; the address is recorded in the store
  (kv namespace ``service``, key ``predictor``) so any dashboard session finds it.
- Models stay warm under a memory budget; when a new one does not fit, the least recently
  used ones are evicted first (a model's cost is measured as the resident-memory growth while
  it loaded, floored at its weight files' size).
- The models of one request run side by side, one torch/ORT thread each (on a busy 2-core
  machine torch's spinning pool made a MiniLM forward 25x slower, 720 vs 29 ms): on 2 cores
  the answer costs about the slowest model, not the sum. While a job runs, at most ``threads.service_share`` models run at once, and the service records when
  it last answered so the job cedes that core (:mod:`pipelines.threads`). Each model has its
  own lock (a predictor is not re-entrant) and loading/eviction happen under the pool's lock,
  so concurrent requests never load a model twice. Answers name their ``backend`` (torch, or
  an encoder run's checked ONNX export: :mod:`pipelines.onnx_backend`).
- It exits by itself after ``idle_exit_s`` without requests (and on SIGTERM), removing its
  record from the store.

Endpoints (JSON in, JSON out): ``GET /health``; ``POST /predict`` ``{"runs": [...], "texts":
[...]}``; ``POST /warm`` ``{"runs": [...]}``; ``POST /token-lengths`` ``{"model": ..., "texts":
[...]}``; ``POST /shutdown``.

Who may call it: binding 127.0.0.1 is not enough, since any web page the user visits can send
requests to localhost (a "simple" cross-origin ``text/plain`` POST needs no preflight). So
every POST must carry the per-start secret (header :data:`SECRET_HEADER`, the value written
only into the service's store record, which the dashboard reads), a JSON content type, no
foreign ``Origin`` and a loopback ``Host`` (against DNS rebinding). ``/token-lengths`` loads
only tokenizers of catalog or downloaded models, never an arbitrary local path.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import signal
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np

from . import threads
from .model_pool import DEFAULT_BUDGET_MB, ModelPool, rss_mb, store_loader
from .serve_guard import SECRET_HEADER, Forbidden, check_request, check_tokenizer_model
from .store import Store

__all__ = ["SECRET_HEADER", "ModelPool", "PredictorService", "serve", "store_loader"]

log = logging.getLogger(__name__)

KV_NAMESPACE = "service"
KV_KEY = "predictor"
DEFAULT_IDLE_EXIT_S = 1800.0
DEFAULT_THREADS = 1
MAX_TEXTS = 256  # per request: the playground sends one text, tests a handful
MAX_BODY_BYTES = 8 << 20
ANNOUNCE_S = 5.0


class PredictorService:
    """The state behind the HTTP handler: the pool, tokenizers, the inference lock, idleness."""

    def __init__(self, store: Store, budget_mb: float = DEFAULT_BUDGET_MB,
                 loader: Callable[[str], tuple[Any, float]] | None = None, workers: int | None = None):
        self.store = store
        self.pool = ModelPool(loader or store_loader(store), budget_mb)
        self.lock = threading.Lock()  # the pool (load/evict) and the tokenizer cache
        self._model_locks: dict[str, threading.Lock] = {}
        self.busy = 0  # requests in flight (the idle timer waits for them)
        self._busy_lock = threading.Lock()
        self.workers = max(1, workers or min(4, os.cpu_count() or 1))
        self._executor = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="predict")
        self.last_request = time.monotonic()
        self.started_at = time.time()
        self._tokenizers: OrderedDict[str, Any] = OrderedDict()
        self._announced = 0.0

    def touch(self) -> None:
        self.last_request = time.monotonic()

    def begin(self) -> None:
        with self._busy_lock:
            self.busy += 1
        self.touch()
        self._announce()

    def _announce(self) -> None:
        """Tell jobs the service is active (at most every ANNOUNCE_S; a locked store only delays it)."""
        if time.time() - self._announced >= ANNOUNCE_S:
            self._announced = time.time()
            with contextlib.suppress(Exception):
                self.store.put(threads.KV, "service", {"pid": os.getpid(), "last_request": self._announced})

    def end(self) -> None:
        with self._busy_lock:
            self.busy -= 1
        self.touch()

    def health(self) -> dict[str, Any]:
        return {"ok": True, "pid": os.getpid(), "started_at": self.started_at, "loaded": self.pool.loaded(),
                "used_mb": round(self.pool.used_mb(), 1), "budget_mb": self.pool.budget_mb,
                "rss_mb": round(rss_mb(), 1), "evictions": list(self.pool.evictions)}

    def _model(self, run_id: str) -> tuple[Any, float, threading.Lock]:
        with self.lock:
            predictor, load_ms = self.pool.get(run_id)
            lock = self._model_locks.setdefault(run_id, threading.Lock())
        return predictor, load_ms, lock

    def _predict_one(self, run_id: str, texts: list[str], load_ms: float,
                     slots: threading.Semaphore | None = None) -> dict[str, Any]:
        predictor, _, lock = self._model(run_id)
        with slots or contextlib.nullcontext(), lock:
            t0 = time.perf_counter()
            proba = np.asarray(predictor.predict_proba(texts), dtype="float64")
            latency_ms = (time.perf_counter() - t0) * 1e3
        return {"run_id": run_id, "labels": list(predictor.labels),
                "multi_label": bool(getattr(predictor, "multi_label", False)),
                "proba": proba.tolist(), "pred": predictor.decide(proba),
                "latency_ms": latency_ms, "load_ms": load_ms, "backend": getattr(predictor, "backend", None)}

    def predict(self, run_ids: Sequence[str], texts: Sequence[str]) -> dict[str, Any]:
        """Every run's probabilities for every text; a run that fails reports its own error."""
        if not run_ids:
            raise ValueError("no runs given: pass 'runs': [run ids]")
        texts = _check_texts(texts)
        run_ids = list(dict.fromkeys(run_ids))
        # Load first, in order (under the pool lock), so the LRU order follows the request and
        # a model evicted for the next one is not needed again within this request.
        errors: dict[str, str] = {}
        load_ms: dict[str, float] = {}
        for run_id in run_ids:
            try:
                load_ms[run_id] = self._model(run_id)[1]
            except Exception as exc:  # one broken run must not hide the others' answers
                log.exception("loading %s failed", run_id)
                errors[run_id] = f"{type(exc).__name__}: {exc}"
        ok = [r for r in run_ids if r not in errors]
        slots = threading.Semaphore(threads.service_concurrency(self.store))  # fewer at once while a job runs
        futures = {r: self._executor.submit(self._predict_one, r, texts, load_ms[r], slots) for r in ok}
        results = []
        for run_id in ok:
            try:
                results.append(futures[run_id].result())
            except Exception as exc:
                log.exception("predict failed for %s", run_id)
                errors[run_id] = f"{type(exc).__name__}: {exc}"
        return {"results": results, "errors": errors}

    def warm(self, run_ids: Sequence[str]) -> dict[str, Any]:
        errors = {}
        for run_id in run_ids:
            try:
                self._model(run_id)
            except Exception as exc:
                errors[run_id] = f"{type(exc).__name__}: {exc}"
        return {"loaded": self.pool.loaded(), "errors": errors}

    def token_lengths(self, model: str, texts: Sequence[str]) -> dict[str, Any]:
        """Token counts of ``texts`` under ``model``'s tokenizer (catalog name, folder or Hub id)."""
        texts = _check_texts(texts, limit=20_000)
        with self.lock:
            tok = self._tokenizer(model)
            enc = tok(list(texts), add_special_tokens=True, truncation=False)["input_ids"]
        return {"model": model, "lengths": [len(x) for x in enc]}

    def _tokenizer(self, model: str) -> Any:
        check_tokenizer_model(model)
        if model not in self._tokenizers:
            from transformers import AutoTokenizer

            from .assets import resolve_model

            self._tokenizers[model] = AutoTokenizer.from_pretrained(resolve_model(model))
            while len(self._tokenizers) > 4:
                self._tokenizers.popitem(last=False)
        self._tokenizers.move_to_end(model)
        return self._tokenizers[model]


def _check_texts(texts: Any, limit: int = MAX_TEXTS) -> list[str]:
    if not isinstance(texts, list) or not texts:
        raise ValueError("no texts given: pass 'texts': [one or more strings]")
    if len(texts) > limit:
        raise ValueError(f"{len(texts)} texts in one request; send at most {limit}")
    bad = [i for i, t in enumerate(texts) if not isinstance(t, str) or not t.strip()]
    if bad:
        raise ValueError(f"text #{bad[0] + 1} is empty or not a string; every text needs some words")
    return texts


def _make_handler(service: PredictorService, server_ref: dict[str, ThreadingHTTPServer], secret: str) -> type:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt: str, *args: Any) -> None:  # route http.server's access log to logging
            log.debug("%s " + fmt, self.address_string(), *args)

        def _send(self, code: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            if self.path.rstrip("/") in ("/health", ""):
                self._send(200, service.health())
            else:
                self._send(404, {"error": f"unknown path {self.path}"})

        def do_POST(self) -> None:  # noqa: N802
            service.begin()
            try:
                check_request(self.headers, secret, server_ref["server"].server_address[1])
                length = int(self.headers.get("Content-Length") or 0)
                if length > MAX_BODY_BYTES:
                    raise ValueError(f"request body of {length} bytes exceeds {MAX_BODY_BYTES}")
                body = json.loads(self.rfile.read(length) or b"{}")
                route = self.path.rstrip("/")
                if route == "/predict":
                    out = service.predict(list(body.get("runs") or []), body.get("texts"))
                elif route == "/warm":
                    out = service.warm(list(body.get("runs") or []))
                elif route == "/token-lengths":
                    out = service.token_lengths(str(body.get("model") or ""), body.get("texts"))
                elif route == "/shutdown":
                    threading.Thread(target=server_ref["server"].shutdown, daemon=True).start()
                    out = {"ok": True}
                else:
                    self._send(404, {"error": f"unknown path {self.path}"})
                    return
                self._send(200, out)
            except Forbidden as exc:
                log.warning("refused a request: %s", exc)
                self.close_connection = True  # the body was not read: do not parse it as the next request
                self._send(403, {"error": str(exc)})
            except (ValueError, KeyError, FileNotFoundError) as exc:
                self._send(400, {"error": str(exc.args[0] if isinstance(exc, KeyError) and exc.args else exc)})
            except Exception as exc:
                log.exception("request failed")
                self._send(500, {"error": f"{type(exc).__name__}: {exc}"})
            finally:
                service.end()

    return Handler


def serve(store: Store | None = None, port: int = 0, budget_mb: float = DEFAULT_BUDGET_MB,
          idle_exit_s: float | None = DEFAULT_IDLE_EXIT_S, warm: Sequence[str] = (),
          n_threads: int | None = DEFAULT_THREADS) -> None:
    """Run the service until idle for ``idle_exit_s`` (None: forever), SIGTERM or /shutdown."""
    store = store or Store()
    if n_threads:  # per model; torch is loaded first so its pool is sized before the first model
        import torch  # noqa: F401

        threads.apply(n_threads)
    service = PredictorService(store, budget_mb)
    server_ref: dict[str, ThreadingHTTPServer] = {}
    secret = secrets.token_urlsafe(32)  # new at every start; only the store record holds it
    try:
        server = ThreadingHTTPServer(("127.0.0.1", port), _make_handler(service, server_ref, secret))
    except OSError as exc:
        raise ValueError(f"cannot listen on 127.0.0.1:{port} ({exc.strerror or exc}); pick another --port, "
                         "or 0 for a free one") from exc
    server.daemon_threads = True
    server_ref["server"] = server
    real_port = server.server_address[1]
    record = {"pid": os.getpid(), "port": real_port, "url": f"http://127.0.0.1:{real_port}",
              "started_at": time.time(), "budget_mb": budget_mb, "idle_exit_s": idle_exit_s, "secret": secret}

    def _stop(signum: int, _frame: Any) -> None:
        log.info("predictor service got signal %s; shutting down", signum)
        threading.Thread(target=server.shutdown, daemon=True).start()

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)

    def _idle_watch() -> None:
        while idle_exit_s is not None:
            time.sleep(min(5.0, max(0.2, idle_exit_s / 4)))
            if time.monotonic() - service.last_request > idle_exit_s and service.busy <= 0:
                log.info("predictor service idle for %.0f s; exiting", idle_exit_s)
                server.shutdown()
                return

    if warm:
        log.info("warming %s", ", ".join(warm))
        service.warm(list(warm))
    store.put(KV_NAMESPACE, KV_KEY, record)
    log.info("predictor service on %s (pid %s, budget %.0f MB, idle exit %s s)", record["url"], os.getpid(),
             budget_mb, idle_exit_s)
    threading.Thread(target=_idle_watch, daemon=True, name="idle-watch").start()
    try:
        server.serve_forever(poll_interval=0.2)
    finally:
        server.server_close()
        current = store.get(KV_NAMESPACE, KV_KEY)
        if current and current.get("pid") == os.getpid():
            store.delete(KV_NAMESPACE, KV_KEY)
        log.info("predictor service stopped")
