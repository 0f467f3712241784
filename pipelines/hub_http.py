"""Bounded calls to the Hugging Face Hub: timeouts, retries with back-off, deadlines, offline mode.

Why not call ``HfApi.list_models``/``model_info`` directly: ``list_models`` retries 5xx for
~23 s with ``timeout=None`` (a server that accepts and never answers blocks it forever) and
``model_info`` neither retries nor tolerates a partial JSON entry. :func:`get_json` sends a
request through huggingface_hub's own session and headers, and :func:`call_bounded` bounds
it: connect/read timeouts, a few retries with back-off on 429/5xx (honouring
``Retry-After``) and an overall deadline. Calls without a timeout of their own
(``snapshot_download``, ``upload_folder``) run under :func:`run_with_deadline`.

Every failure becomes a :class:`HubError` with a one-line message for the user. Used by the
candidate search (:mod:`pipelines.hub`) and the model-card upload (:mod:`pipelines.modelcard`).
huggingface_hub is imported inside functions so the dashboard can import this module cheaply.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")

DEFAULT_ENDPOINT = "https://huggingface.co"
RETRY_STATUS = (408, 429, 500, 502, 503, 504)


class HubError(RuntimeError):
    """The Hub did not answer usefully; the message is one line meant for the user."""

    def __init__(self, message: str, status: int | None = None, attempts: int = 0):
        super().__init__(message)
        self.status = status
        self.attempts = attempts


@dataclass
class HubSettings:
    """Bounds on every Hub call. Defaults keep a dead endpoint under ~7 s before the fallback."""

    endpoint: str | None = None  # default: $HF_ENDPOINT, else https://huggingface.co
    connect_timeout_s: float = 3.0
    read_timeout_s: float = 5.0
    retries: int = 2  # extra attempts after the first, on 429/5xx/timeouts/connection errors
    backoff_s: float = 0.5  # first wait; doubles each retry (a Retry-After header wins)
    deadline_s: float = 6.0  # overall bound for the listing (and for one details lookup)
    details_budget_s: float = 30.0  # overall bound for all details of one search
    details_ttl_s: float = 24 * 3600.0
    workers: int = 4  # details fetched in parallel
    download_deadline_s: float = 1800.0
    token: str | bool | None = None  # None: the saved token if any (never printed or stored)

    @property
    def url(self) -> str:
        return (self.endpoint or os.environ.get("HF_ENDPOINT") or DEFAULT_ENDPOINT).rstrip("/")


def _is_true(v: str | None) -> bool:
    return (v or "").strip().lower() in {"1", "true", "yes", "on"}


def offline_reason() -> str | None:
    """Why the Hub must not be contacted (None = allowed). Mirrors huggingface_hub's own rule."""
    if _is_true(os.environ.get("HF_HUB_OFFLINE") or os.environ.get("TRANSFORMERS_OFFLINE")):
        return "HF_HUB_OFFLINE=1"
    from huggingface_hub import constants

    if constants.HF_HUB_OFFLINE:
        return "HF_HUB_OFFLINE was set when huggingface_hub was imported"
    return None


def _retry_after(response: Any) -> float | None:
    try:
        return max(0.0, float(response.headers.get("Retry-After")))
    except (TypeError, ValueError, AttributeError):
        return None


def call_bounded(fn: Callable[[Any], T], what: str, s: HubSettings, deadline: float) -> T:
    """Run ``fn(timeout)`` with retries on 429/5xx/timeouts/connection errors, never past ``deadline``.

    ``deadline`` is a ``time.monotonic()`` value; each attempt's timeouts shrink to fit it.
    Raises ``HubError`` (with ``status`` and ``attempts``) when it gives up.
    """
    import httpx2
    from huggingface_hub.errors import HfHubHTTPError, OfflineModeIsEnabled

    attempt, last, status, start = 0, "no attempt made", None, time.monotonic()

    def give_up() -> HubError:
        took = time.monotonic() - start
        return HubError(f"{what}: {last}, gave up after {attempt} attempt{'s' * (attempt != 1)} in {took:.1f} s",
                        status, attempt)

    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0.05:
            raise give_up()
        attempt += 1
        timeout = httpx2.Timeout(min(s.read_timeout_s, remaining), connect=min(s.connect_timeout_s, remaining))
        wait = s.backoff_s * 2 ** (attempt - 1)
        try:
            return fn(timeout)
        except OfflineModeIsEnabled as exc:
            raise HubError(f"{what}: offline mode is enabled (HF_HUB_OFFLINE)", None, attempt) from exc
        except HfHubHTTPError as exc:
            status = exc.response.status_code if exc.response is not None else None
            if status not in RETRY_STATUS:
                raise HubError(f"{what}: HTTP {status} ({str(exc).splitlines()[0][:160]})", status, attempt) from exc
            last = f"HTTP {status}"
            ra = _retry_after(exc.response)
            wait = ra if ra is not None else wait
        except httpx2.TimeoutException:
            last, status = "no answer", None
        except httpx2.ConnectError as exc:
            last, status = f"cannot connect ({exc})", None
        except (httpx2.NetworkError, httpx2.RemoteProtocolError) as exc:
            last, status = f"connection broken ({exc})", None
        except ValueError as exc:  # a body that is not JSON
            raise HubError(f"{what}: malformed answer ({exc})", None, attempt) from exc
        if attempt > s.retries:
            raise give_up()
        log.info("%s: %s; retry %d/%d in %.1f s", what, last, attempt, s.retries, wait)
        time.sleep(max(0.0, min(wait, deadline - time.monotonic())))


def get_json(url: str, params: Any, token: str | bool | None, timeout: Any) -> tuple[Any, Any]:
    """One GET through huggingface_hub's shared session (its headers, offline guard and hooks)."""
    from huggingface_hub.utils import build_hf_headers, get_session, hf_raise_for_status

    r = get_session().get(url, params=params, headers=build_hf_headers(token=token), timeout=timeout,
                          follow_redirects=True)
    hf_raise_for_status(r)
    return r.json(), r


def run_with_deadline(fn: Callable[[], T], seconds: float, what: str) -> T:
    """Run a call that has no timeout of its own in a daemon thread; give up after ``seconds``.

    Used for ``snapshot_download``/``upload_folder``, whose internal listing calls pass
    ``timeout=None``. On timeout the thread is abandoned (daemon: it cannot block exit).
    """
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # re-raised in the caller's thread
            box["error"] = exc

    th = threading.Thread(target=target, daemon=True, name=f"hub-{what[:20]}")
    th.start()
    th.join(seconds)
    if th.is_alive():
        raise HubError(f"{what}: not finished within {seconds:.0f} s")
    if "error" in box:
        raise box["error"]
    return box["value"]


def has_token(s: HubSettings) -> bool:
    """Whether calls with these settings carry a token (given, or saved by `hf auth login`)."""
    if isinstance(s.token, str):
        return bool(s.token)
    if s.token is False:
        return False
    from huggingface_hub import get_token

    return get_token() is not None
