"""Who may call the predictor service, and what it may be asked to load.

Binding 127.0.0.1 is not enough: any web page the user visits can send requests to
localhost, and a "simple" cross-origin ``text/plain`` POST (to ``/shutdown``, say) needs no
CORS preflight. So every POST carries the per-start secret (only the service's store record
holds it; the dashboard reads it there), a JSON content type, no foreign ``Origin`` and a
loopback ``Host`` (a rebound DNS name would send its own). Tokenizers come only from catalog
or downloaded models, so a request cannot make the service read a path it names.
"""

from __future__ import annotations

import hmac
from typing import Any

SECRET_HEADER = "X-Workbench-Secret"


class Forbidden(Exception):
    """A request that did not come from the dashboard (no secret, foreign origin, wrong content type)."""


def check_tokenizer_model(model: str) -> None:
    """Only catalog models and Hub ids already downloaded: a request must not make us read any path it names."""
    from .assets import ASSETS, hub_snapshot

    if model in ASSETS or any(model == a.hub_id for a in ASSETS.values()):
        return
    if model.count("/") == 1 and not model.startswith((".", "/", "~")) and hub_snapshot(model):
        return
    raise ValueError(f"tokenizer {model[:80]!r} is not a catalog or downloaded model; use one of: "
                     f"{', '.join(ASSETS)}")


def check_request(headers: Any, secret: str, port: int) -> None:
    """Raise Forbidden unless a POST carries the secret, JSON, no foreign Origin and a loopback Host."""
    given = headers.get(SECRET_HEADER) or ""
    if not secret or not hmac.compare_digest(given.encode(), secret.encode()):
        raise Forbidden(f"missing or wrong {SECRET_HEADER} header: only the workbench dashboard may call this service")
    own = {f"http://127.0.0.1:{port}", f"http://localhost:{port}"}
    origin = headers.get("Origin")
    if origin is not None and origin not in own:
        raise Forbidden(f"cross-origin request from {origin[:80]!r} refused")
    host = (headers.get("Host") or "").lower()
    if host not in (f"127.0.0.1:{port}", f"localhost:{port}"):
        raise Forbidden(f"request for host {host[:80]!r} refused: only 127.0.0.1:{port} is served")
    ctype = (headers.get("Content-Type") or "").split(";")[0].strip().lower()
    if ctype != "application/json":
        raise Forbidden(f"content type {ctype[:40] or '(none)'!r} refused: send application/json")
