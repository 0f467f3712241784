"""A fake Hugging Face Hub on 127.0.0.1 for the candidate-search tests.

It answers the real ``huggingface_hub`` client (pointed at it with ``HF_ENDPOINT`` /
``endpoint=``) with JSON shaped like the real API (DESIGN.md §3):

- ``GET /api/models`` with ``search``, ``filter`` (all must be tags), ``pipeline_tag``,
  ``author``, ``sort`` + ``direction``, ``limit``, ``expand`` / ``full``;
- ``GET /api/models/{repo}[/revision/{rev}]`` (``blobs=true`` adds file sizes);
- ``GET /api/models/{repo}/tree/{rev}`` and ``HEAD/GET /{repo}/resolve/{rev}/{file}`` with
  ``X-Repo-Commit``, ``ETag`` and ``Content-Length`` (enough for ``snapshot_download``);
- ``GET /api/whoami-v2``, ``POST /api/repos/create``, ``.../preupload/{rev}`` and
  ``.../commit/{rev}`` (enough for ``upload_folder``; every file is a "regular" upload).

Failure modes (``hub.mode``): ``normal``, ``429-then-ok`` (the first ``fail_first`` API
requests get 429), ``always-500``. ``HangServer`` accepts connections and never answers;
``unreachable_url()`` is a port nobody listens on.
"""

from __future__ import annotations

import base64
import hashlib
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

LIST_DEFAULT_FIELDS = ("_id", "id", "likes", "trendingScore", "private", "downloads", "tags", "pipeline_tag",
                       "library_name", "createdAt", "modelId")
SORT_FIELDS = {"downloads", "likes", "trendingScore", "lastModified", "createdAt"}
TOKEN = "hf_fake_token_for_tests_0123456789"


def _sha(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()


def fake_model(repo_id: str, *, downloads: int, likes: int, trending: int, modified: str, task: str = "fill-mask",
               license: str | None = "apache-2.0", languages: tuple[str, ...] = ("en",), params: int | None = None,
               dtype: str = "F32", arch: str = "BertForMaskedLM", model_type: str = "bert",
               files: tuple[str, ...] = ("config.json", "model.safetensors", "tokenizer.json"),
               extra_tags: tuple[str, ...] = (), **extra: Any) -> dict[str, Any]:
    """A model entry as the real ``/api/models/{id}?blobs=true`` returns it."""
    width = {"F32": 4, "F16": 2, "BF16": 2}[dtype]
    sha = _sha(repo_id)
    siblings = []
    for f in files:
        size = params * width if (f.endswith(".safetensors") and params) else 1000
        sib: dict[str, Any] = {"rfilename": f, "size": size, "blobId": _sha(repo_id + f)}
        if f.endswith((".safetensors", ".bin")):
            sib["lfs"] = {"sha256": hashlib.sha256(f.encode()).hexdigest(), "size": size, "pointerSize": 134}
        siblings.append(sib)
    tags = ["transformers", model_type, task, *languages, *extra_tags]
    if any(f.endswith(".safetensors") for f in files):
        tags.append("safetensors")
    if license:
        tags.append(f"license:{license}")
    m: dict[str, Any] = {
        "_id": sha[:24], "id": repo_id, "modelId": repo_id, "author": repo_id.split("/")[0], "sha": sha,
        "lastModified": f"{modified}T12:00:00.000Z", "createdAt": "2022-01-01T00:00:00.000Z", "private": False,
        "disabled": False, "gated": False, "pipeline_tag": task, "library_name": "transformers", "tags": tags,
        "downloads": downloads, "likes": likes, "trendingScore": trending,
        "config": {"architectures": [arch], "model_type": model_type},
        "cardData": {"license": license, "language": list(languages)} if license else {"language": list(languages)},
        "transformersInfo": {"auto_model": "AutoModelForMaskedLM", "pipeline_tag": task, "processor": "AutoTokenizer"},
        "siblings": siblings, "spaces": [], "usedStorage": sum(s["size"] for s in siblings),
    }
    if params and any(f.endswith(".safetensors") for f in files):
        m["safetensors"] = {"parameters": {dtype: params}, "total": params}
    m.update(extra)
    return m


def fixture_models() -> list[dict[str, Any]]:
    """Ten repos whose fields differ so that every filter and sort order changes the answer."""
    remote = fake_model("acme/remote-code-bert", downloads=30000, likes=40, trending=1, modified="2024-06-01",
                        params=80_000_000, extra_tags=("custom_code",),
                        files=("config.json", "model.safetensors", "modeling_acme.py", "tokenizer.json"))
    remote["config"]["auto_map"] = {"AutoModel": "modeling_acme.AcmeModel"}
    bare = {"_id": "b" * 24, "id": "acme/bare", "pipeline_tag": "fill-mask", "tags": ["transformers", "fill-mask"],
            "downloads": 40000, "likes": 3, "trendingScore": 0,
            # malformed blocks the real client's parser would choke on
            "siblings": [{"size": 5}, {"rfilename": "model.safetensors", "lfs": {"size": 1}}],
            "safetensors": {"total": 5}, "cardData": None}
    return [
        fake_model("acme/bert-base-en", downloads=90000, likes=300, trending=10, modified="2024-01-01",
                   params=110_000_000),
        fake_model("acme/distil-en", downloads=50000, likes=800, trending=50, modified="2025-03-01",
                   license="mit", params=66_000_000, dtype="F16", arch="DistilBertForMaskedLM",
                   model_type="distilbert"),
        fake_model("acme/roberta-large", downloads=70000, likes=100, trending=5, modified="2023-05-01",
                   license="mit", params=355_000_000, arch="RobertaForMaskedLM", model_type="roberta"),
        fake_model("acme/bert-fr", downloads=10000, likes=20, trending=80, modified="2025-09-01",
                   license="cc-by-4.0", languages=("fr",), params=110_000_000),
        remote,
        fake_model("acme/gated-bert", downloads=20000, likes=60, trending=2, modified="2024-02-01",
                   params=40_000_000, gated="manual"),
        bare,
        fake_model("acme/bin-only", downloads=15000, likes=10, trending=4, modified="2022-06-01", license="mit",
                   files=("config.json", "pytorch_model.bin", "vocab.txt")),
        fake_model("acme/gpt-small", downloads=60000, likes=200, trending=20, modified="2024-09-01",
                   task="text-generation", params=124_000_000, arch="GPT2LMHeadModel", model_type="gpt2"),
    ]


def served_model(repo_id: str, folder: Path, *, downloads: int, likes: int, trending: int, modified: str,
                 extra_files: dict[str, bytes] | None = None) -> tuple[dict[str, Any], dict[str, bytes]]:
    """A model entry whose files really exist (a checkpoint folder), plus those files."""
    from pipelines.model_files import safetensors_params

    files = {p.name: p.read_bytes() for p in sorted(Path(folder).iterdir()) if p.is_file()}
    files.update(extra_files or {})
    counts = safetensors_params(folder) or {}
    config = json.loads(files["config.json"])
    m = fake_model(repo_id, downloads=downloads, likes=likes, trending=trending, modified=modified,
                   params=None, arch=config["architectures"][0], model_type=config["model_type"], files=())
    m["siblings"] = [{"rfilename": name, "size": len(data), "blobId": hashlib.sha1(data).hexdigest()}
                     for name, data in files.items()]
    m["safetensors"] = {"parameters": counts, "total": sum(counts.values())}
    m["config"] = {"architectures": config["architectures"], "model_type": config["model_type"]}
    return m, files


class FakeHub:
    """Threaded HTTP server holding fixture models, served files and a request log."""

    def __init__(self, models: list[dict[str, Any]], files: dict[str, dict[str, bytes]] | None = None):
        self.models = {m["id"]: m for m in models}
        self.files = files or {}
        self.extra_list_items: list[Any] = []  # raw entries appended to listings (malformed ones)
        self.uploads: dict[str, dict[str, bytes]] = {}
        self.mode = "normal"
        self.fail_first = 1
        self.requests: list[tuple[str, str]] = []
        self._failed = 0
        self._lock = threading.Lock()
        hub = self

        class Handler(_Handler):
            pass

        Handler.hub = hub
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True, name="fake-hub")
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def reset(self, mode: str = "normal", fail_first: int = 1) -> None:
        with self._lock:
            self.mode, self.fail_first, self._failed = mode, fail_first, 0
            self.requests.clear()
            self.uploads.clear()
            self.extra_list_items.clear()

    def count(self, method: str, path_prefix: str) -> int:
        return sum(1 for m, p in list(self.requests) if m == method and p.split("?")[0].startswith(path_prefix))

    def listings(self) -> int:
        """How many ``GET /api/models`` listing requests arrived."""
        return sum(1 for m, p in list(self.requests) if m == "GET" and p.split("?")[0] == "/api/models")

    def should_fail(self) -> int | None:
        with self._lock:
            if self.mode == "always-500":
                return 500
            if self.mode == "429-then-ok" and self._failed < self.fail_first:
                self._failed += 1
                return 429
        return None

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _first(qs: dict[str, list[str]], key: str, default: str | None = None) -> str | None:
    vals = qs.get(key) or qs.get(key + "[]")
    return vals[0] if vals else default


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    hub: FakeHub

    def log_message(self, *args: Any) -> None:  # keep pytest output clean
        pass

    # ------------------------------------------------------------ plumbing
    def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None,
              content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, data: Any, status: int = 200, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(data).encode(), headers)

    def _error(self, status: int, message: str) -> None:
        self._json({"error": message}, status, {"X-Error-Message": message})

    def _route(self) -> None:
        hub = self.hub
        with hub._lock:
            hub.requests.append((self.command, self.path))
        fail = hub.should_fail()
        if fail:
            return self._error(fail, "rate limited" if fail == 429 else "internal error")
        parts = urlsplit(self.path)
        path, qs = unquote(parts.path), parse_qs(parts.query)
        seg = [s for s in path.split("/") if s]
        if self.command == "POST":
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            return self._post(seg, qs, body)
        if seg[:2] == ["api", "models"] and len(seg) == 2:
            return self._list(qs)
        if seg[:2] == ["api", "whoami-v2"]:
            if self.headers.get("Authorization") == f"Bearer {TOKEN}":
                return self._json({"type": "user", "name": "tester", "orgs": []})
            return self._error(401, "Invalid credentials in Authorization header")
        if seg[:2] == ["api", "models"] and len(seg) >= 4:
            repo = "/".join(seg[2:4])
            rest = seg[4:]
            if repo not in hub.models:
                return self._error(404, "Repository not found")
            if not rest or rest[0] == "revision":
                return self._info(repo, qs)
            if rest[0] == "tree":
                return self._tree(repo)
        if len(seg) >= 5 and seg[2] == "resolve":
            return self._resolve("/".join(seg[:2]), "/".join(seg[4:]))
        return self._error(404, f"no route for {path}")

    do_GET = do_HEAD = do_POST = _route  # noqa: N815

    # ------------------------------------------------------------ API
    def _list(self, qs: dict[str, list[str]]) -> None:
        models = list(self.hub.models.values())
        if (search := _first(qs, "search")) is not None:
            models = [m for m in models if search.lower() in m["id"].lower()]
        for f in qs.get("filter", []) + qs.get("filter[]", []):
            models = [m for m in models if f.lower() in [str(t).lower() for t in m.get("tags") or []]]
        if (task := _first(qs, "pipeline_tag")) is not None:
            models = [m for m in models if m.get("pipeline_tag") == task]
        if (author := _first(qs, "author")) is not None:
            models = [m for m in models if m["id"].startswith(author + "/")]
        sort = _first(qs, "sort")
        if sort:
            if sort not in SORT_FIELDS:
                return self._error(400, f"invalid sort {sort}")
            desc = _first(qs, "direction", "-1") == "-1"
            present = [m for m in models if m.get(sort) is not None]
            missing = [m for m in models if m.get(sort) is None]
            models = sorted(present, key=lambda m: m[sort], reverse=desc) + missing
        limit = int(_first(qs, "limit", "1000") or 1000)
        expand = qs.get("expand", []) + qs.get("expand[]", [])
        full = _first(qs, "full") in ("True", "true", "1")
        out = []
        for m in models[:limit]:
            if expand:
                item = {k: m[k] for k in ("_id", "id", *expand) if k in m}
            elif full:
                item = {k: v for k, v in m.items() if k not in ("config", "cardData", "safetensors")}
                if "siblings" in item:
                    item["siblings"] = [{"rfilename": s["rfilename"]} for s in m["siblings"]
                                        if isinstance(s, dict) and "rfilename" in s]
            else:
                item = {k: m[k] for k in LIST_DEFAULT_FIELDS if k in m}
            out.append(item)
        self._json(out + list(self.hub.extra_list_items))

    def _info(self, repo: str, qs: dict[str, list[str]]) -> None:
        m = dict(self.hub.models[repo])
        expand = qs.get("expand", []) + qs.get("expand[]", [])
        if expand:
            m = {k: m[k] for k in ("_id", "id", *expand) if k in m}
        elif _first(qs, "blobs") not in ("True", "true", "1") and isinstance(m.get("siblings"), list):
            m["siblings"] = [{k: v for k, v in s.items() if k == "rfilename"} for s in m["siblings"]]
        self._json(m)

    def _tree(self, repo: str) -> None:
        files = self.hub.files.get(repo, {})
        self._json([{"type": "file", "oid": hashlib.sha1(data).hexdigest(), "size": len(data), "path": name}
                    for name, data in files.items()])

    def _resolve(self, repo: str, filename: str) -> None:
        files = self.hub.files.get(repo)
        if repo not in self.hub.models or files is None:
            return self._error(404, "Repository not found")
        if filename not in files:
            return self._send(404, b'{"error": "Entry not found"}', {"X-Error-Code": "EntryNotFound"})
        data = files[filename]
        self._send(200, data, {"X-Repo-Commit": self.hub.models[repo]["sha"],
                               "ETag": f'"{hashlib.sha1(data).hexdigest()}"'}, "application/octet-stream")

    # ------------------------------------------------------------ upload
    def _post(self, seg: list[str], qs: dict[str, list[str]], body: bytes) -> None:
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            return self._error(401, "Invalid credentials in Authorization header")
        if seg == ["api", "validate-yaml"]:
            import re

            import yaml

            content = json.loads(body).get("content", "")
            m = re.match(r"^---\n(.*?)\n---\n", content, re.S)
            try:
                meta = yaml.safe_load(m.group(1)) if m else None
            except yaml.YAMLError as exc:
                return self._json({"errors": [{"message": f"invalid YAML: {exc}"}]}, 400)
            if not isinstance(meta, dict) or "license" not in meta:
                return self._json({"errors": [{"message": "metadata must be a mapping with a license"}]}, 400)
            return self._json({"errors": [], "warnings": []})
        if seg == ["api", "repos", "create"]:
            req = json.loads(body)
            repo = f"{req['organization']}/{req['name']}" if req.get("organization") else req["name"]
            if "/" not in repo:
                repo = f"tester/{repo}"
            self.hub.uploads.setdefault(repo, {})
            return self._json({"url": f"{self.hub.url}/{repo}", "name": repo, "id": repo})
        if len(seg) >= 6 and seg[:2] == ["api", "models"] and seg[4] == "preupload":
            req = json.loads(body)
            return self._json({"files": [{"path": f["path"], "uploadMode": "regular", "shouldIgnore": False}
                                         for f in req["files"]]})
        if len(seg) >= 6 and seg[:2] == ["api", "models"] and seg[4] == "commit":
            repo = "/".join(seg[2:4])
            store = self.hub.uploads.setdefault(repo, {})
            for line in body.splitlines():
                if not line.strip():
                    continue
                op = json.loads(line)
                if op["key"] == "file":
                    store[op["value"]["path"]] = base64.b64decode(op["value"]["content"])
            oid = _sha(repo + str(time.time()))
            return self._json({"commitUrl": f"{self.hub.url}/{repo}/commit/{oid}", "commitOid": oid,
                               "success": True})
        return self._error(404, f"no POST route for {'/'.join(seg)}")


class HangServer:
    """Accepts TCP connections and never answers (the case that blocks ``list_models`` forever)."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(32)
        self.sock.settimeout(0.2)
        self.conns: list[socket.socket] = []
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._accept, daemon=True, name="hang-server")
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.sock.getsockname()[1]}"

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
                self.conns.append(conn)  # hold it open, read nothing, write nothing
            except OSError:
                continue

    def close(self) -> None:
        self._stop.set()
        self.thread.join(2)
        for c in self.conns:
            c.close()
        self.sock.close()


def unreachable_url() -> str:
    """A loopback port nobody listens on (connection refused at once)."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return f"http://127.0.0.1:{port}"
