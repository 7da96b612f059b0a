"""A stand-in Hugging Face hub on loopback: serves one model folder as a hub repository, logging every request.

The check gives the runtimes HF_ENDPOINT=http://127.0.0.1:PORT and `model: p4-check/tiny-llama`, so the real
loading code downloads through huggingface_hub into the Hugging Face cache on the stand-in Drive (run 1), and
a later runtime with no network must load from that cache (run 2: the server is out of its reach). Only what
`from_pretrained` asks for is served: file metadata and contents (`resolve`), and the repository listings.
"""

from __future__ import annotations

import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlparse

COMMIT = "0123456789abcdef0123456789abcdef01234567"


class Hub:
    """`with Hub(folder, "owner/name", log) as url:` serves the folder at `url` until the block ends."""

    def __init__(self, folder: Path, repo_id: str, log: Path):
        self.folder, self.repo_id, self.log = folder, repo_id, log

    def __enter__(self) -> str:
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # requests go to the hub's own log instead
                pass

            def do_HEAD(self):
                hub.answer(self, body=False)

            def do_GET(self):
                hub.answer(self, body=True)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    def files(self) -> list[str]:
        return sorted(str(p.relative_to(self.folder)) for p in self.folder.rglob("*") if p.is_file())

    def answer(self, request: BaseHTTPRequestHandler, body: bool) -> None:
        path = unquote(urlparse(request.path).path)
        with open(self.log, "a") as log:
            log.write(f"{request.command} {path}\n")
        resolve = f"/{self.repo_id}/resolve/"
        api = f"/api/models/{self.repo_id}"
        if path.startswith(resolve):
            name = path[len(resolve):].split("/", 1)[1] if "/" in path[len(resolve):] else ""
            file = self.folder / name
            if name and file.is_file():
                data = file.read_bytes()
                return self.send(request, 200, data if body else b"", {
                    "ETag": f'"{hashlib.sha256(data).hexdigest()}"', "X-Repo-Commit": COMMIT,
                    "Content-Length": str(len(data)), "Content-Type": "application/octet-stream"}, length=len(data))
            return self.send(request, 404, b"", {"X-Error-Code": "EntryNotFound", "X-Repo-Commit": COMMIT})
        if path.startswith(f"{api}/tree/"):
            sub = path[len(f"{api}/tree/"):].split("/", 1)[1] if "/" in path[len(f"{api}/tree/"):] else ""
            entries = [{"type": "file", "path": f, "size": (self.folder / f).stat().st_size, "oid": COMMIT}
                       for f in self.files() if f.startswith(sub.rstrip("/") + "/" if sub else "")]
            if sub and not entries:
                return self.send(request, 404, b"", {"X-Error-Code": "EntryNotFound"})
            return self.json(request, entries, body)
        if path == api or path.startswith(f"{api}/revision/"):
            return self.json(request, {"id": self.repo_id, "modelId": self.repo_id, "sha": COMMIT, "private": True,
                                       "siblings": [{"rfilename": f} for f in self.files()]}, body)
        return self.send(request, 404, b"", {"X-Error-Code": "RepoNotFound"})

    def json(self, request, payload, body: bool) -> None:
        data = json.dumps(payload).encode()
        self.send(request, 200, data if body else b"", {"Content-Type": "application/json",
                                                         "Content-Length": str(len(data)), "X-Repo-Commit": COMMIT},
                  length=len(data))

    @staticmethod
    def send(request, status: int, data: bytes, headers: dict, length: int | None = None) -> None:
        request.send_response(status)
        for key, value in headers.items():
            request.send_header(key, value)
        if "Content-Length" not in headers:
            request.send_header("Content-Length", str(length if length is not None else len(data)))
        request.end_headers()
        if data:
            request.wfile.write(data)
