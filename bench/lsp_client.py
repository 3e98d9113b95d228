"""A language server over plain JSON-RPC on stdio: requests with a deadline each, restarted after a crash or hang."""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlparse

# A server that needs more restarts than this in one run is broken, not flaky: stop asking it.
MAX_RESTARTS = 50


class LspError(Exception):
    """The server answered the request with an error."""


class LspTimeout(Exception):
    """No answer within the request's deadline (the server is restarted)."""


class LspCrashed(Exception):
    """The server's process ended while a request was waiting (it is restarted)."""


def path_uri(path: Path) -> str:
    return "file://" + quote(str(path.resolve()))


def uri_path(uri: str) -> Path | None:
    parsed = urlparse(uri)
    return Path(unquote(parsed.path)) if parsed.scheme == "file" else None


class LanguageServer:
    """One server process for one workspace root. `request` blocks until the answer, an error or
    the deadline; a timeout or crash restarts the process (the documents are opened again) so the
    next request starts clean."""

    def __init__(
        self,
        argv: list[str],
        root: Path,
        language_id: str,
        env: dict[str, str] | None = None,
        init_options: dict[str, Any] | None = None,
        stderr_log: Path | None = None,
    ) -> None:
        self.argv = argv
        self.root = root.resolve()
        self.language_id = language_id
        self.env = {**os.environ, **(env or {})}
        self.init_options = init_options or {}
        self.stderr_log = stderr_log
        self.restarts = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self._lock = threading.Lock()
        self._pending: dict[int, dict[str, Any]] = {}
        self._next_id = 0
        self._opened: set[Path] = set()
        self._write = threading.Lock()
        self.start_seconds = 0.0
        self._ready: Callable[[LanguageServer], None] | None = None
        self._progress: set[Any] = set()  # work-done tokens begun and not yet ended
        self._progress_seen = threading.Event()

    # --- process ---------------------------------------------------------------------------------

    def start(self, ready: Callable[[LanguageServer], None] | None = None) -> None:
        """Start the process and initialize it; `ready` (kept for restarts) then waits for it to load."""
        started = time.perf_counter()
        self._ready = ready
        err = open(self.stderr_log, "ab") if self.stderr_log else subprocess.DEVNULL
        self.proc = subprocess.Popen(
            self.argv, cwd=self.root, env=self.env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=err
        )
        self._opened.clear()
        self._progress.clear()
        self._progress_seen.clear()
        threading.Thread(target=self._read, args=(self.proc,), daemon=True).start()
        uri = path_uri(self.root)
        caps = {
            "textDocument": {
                "references": {},
                "definition": {"linkSupport": False},
                "callHierarchy": {},
                "synchronization": {"didSave": False},
            },
            "workspace": {"workspaceFolders": True, "configuration": True},
            "window": {"workDoneProgress": True},
        }
        self.request(
            "initialize",
            {
                "processId": os.getpid(),
                "rootUri": uri,
                "rootPath": str(self.root),
                "workspaceFolders": [{"uri": uri, "name": self.root.name}],
                "capabilities": caps,
                "initializationOptions": self.init_options,
            },
            timeout=120,
            restart=False,
        )
        self.notify("initialized", {})
        if self._ready is not None:
            self._ready(self)
        self.start_seconds += time.perf_counter() - started

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.poll() is None:
            try:
                self._send(proc, {"jsonrpc": "2.0", "id": -1, "method": "shutdown", "params": None})
                self._send(proc, {"jsonrpc": "2.0", "method": "exit", "params": None})
                proc.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired, ValueError):
                proc.kill()
                proc.wait(timeout=10)
        self._fail_pending(LspCrashed("stopped"))

    def restart(self) -> None:
        self.restarts += 1
        if self.restarts > MAX_RESTARTS:
            raise LspCrashed(f"gave up after {MAX_RESTARTS} restarts")
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.proc = None
        self._fail_pending(LspCrashed("restarted"))
        self.start(self._ready)

    # --- wire --------------------------------------------------------------------------------------

    def _send(self, proc: subprocess.Popen[bytes], message: dict[str, Any]) -> None:
        body = json.dumps(message).encode()
        assert proc.stdin is not None
        with self._write:
            proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
            proc.stdin.flush()

    def _read(self, proc: subprocess.Popen[bytes]) -> None:
        out = proc.stdout
        assert out is not None
        try:
            while True:
                length = None
                while True:
                    header = out.readline()
                    if not header:
                        raise EOFError
                    header = header.strip()
                    if not header:
                        break
                    if header.lower().startswith(b"content-length:"):
                        length = int(header.split(b":", 1)[1])
                if length is None:
                    continue
                message = json.loads(out.read(length))
                self._dispatch(proc, message)
        except (EOFError, OSError, ValueError):
            if proc is self.proc:
                self._fail_pending(LspCrashed(f"server exited (code {proc.poll()})"))

    def _dispatch(self, proc: subprocess.Popen[bytes], message: dict[str, Any]) -> None:
        if "method" in message and "id" in message:
            # A request from the server: answer what a plain editor would.
            method = message["method"]
            result: Any = None
            if method == "workspace/configuration":
                result = [None for _ in message.get("params", {}).get("items", [])]
            elif method == "workspace/workspaceFolders":
                result = [{"uri": path_uri(self.root), "name": self.root.name}]
            try:
                self._send(proc, {"jsonrpc": "2.0", "id": message["id"], "result": result})
            except (OSError, ValueError):
                pass
            return
        if message.get("method") == "$/progress":
            params = message.get("params") or {}
            kind = (params.get("value") or {}).get("kind")
            with self._lock:
                if kind == "begin":
                    self._progress.add(params.get("token"))
                    self._progress_seen.set()
                elif kind == "end":
                    self._progress.discard(params.get("token"))
            return
        if "id" in message:
            with self._lock:
                slot = self._pending.get(message["id"])
            if slot is not None:
                slot["message"] = message
                slot["event"].set()

    def _fail_pending(self, exc: Exception) -> None:
        with self._lock:
            slots = list(self._pending.values())
        for slot in slots:
            slot["error"] = exc
            slot["event"].set()

    def notify(self, method: str, params: Any) -> None:
        if self.proc is None:
            raise LspCrashed("not running")
        self._send(self.proc, {"jsonrpc": "2.0", "method": method, "params": params})

    def request(self, method: str, params: Any, timeout: float = 20.0, restart: bool = True) -> Any:
        """The result of one request. Raises LspError (the server's error), LspTimeout or LspCrashed
        (after restarting the server when `restart`)."""
        if self.proc is None or self.proc.poll() is not None:
            if not restart:
                raise LspCrashed("not running")
            self.restart()
        proc = self.proc
        assert proc is not None
        with self._lock:
            self._next_id += 1
            rid = self._next_id
            slot: dict[str, Any] = {"event": threading.Event()}
            self._pending[rid] = slot
        try:
            self._send(proc, {"jsonrpc": "2.0", "id": rid, "method": method, "params": params})
            if not slot["event"].wait(timeout):
                if restart:
                    self.restart()
                raise LspTimeout(f"{method}: no answer in {timeout:.0f}s")
            if "error" in slot:
                if restart:
                    self.restart()
                raise slot["error"]
            message = slot["message"]
            if "error" in message:
                raise LspError(str(message["error"].get("message", message["error"]))[:300])
            return message.get("result")
        except (OSError, ValueError) as exc:
            if restart:
                self.restart()
            raise LspCrashed(str(exc)) from exc
        finally:
            with self._lock:
                self._pending.pop(rid, None)

    def wait_loaded(self, first: Path, appear: float = 8.0, timeout: float = 240.0) -> float:
        """Open `first` and wait until the server's work-done progress (loading the workspace or
        the project) has begun and ended: answers given while it loads are partial (tsserver's
        references right after the first didOpen list only the declaration). Seconds waited."""
        started = time.perf_counter()
        self.open(first)
        self._progress_seen.wait(appear)
        deadline = started + timeout
        while time.perf_counter() < deadline:
            with self._lock:
                busy = bool(self._progress)
            if not busy:
                break
            time.sleep(0.2)
        return time.perf_counter() - started

    # --- documents ---------------------------------------------------------------------------------

    def open(self, path: Path) -> str:
        """didOpen `path` once per process; its URI."""
        uri = path_uri(path)
        if path not in self._opened:
            self.notify(
                "textDocument/didOpen",
                {
                    "textDocument": {
                        "uri": uri,
                        "languageId": self.language_id,
                        "version": 1,
                        "text": path.read_text(encoding="utf-8", errors="replace"),
                    }
                },
            )
            self._opened.add(path)
        return uri

    def at(self, method: str, path: Path, line0: int, char0: int, timeout: float, **extra: Any) -> Any:
        uri = self.open(path)
        return self.request(
            method, {"textDocument": {"uri": uri}, "position": {"line": line0, "character": char0}, **extra}, timeout
        )
