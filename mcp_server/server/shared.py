"""Find, start and reach the shared server of a data dir: one process with the model, the pool and the watcher for every local stdio session with the same settings."""

from __future__ import annotations

import dataclasses
import errno
import fcntl
import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from socket import MSG_DONTWAIT, MSG_PEEK

import anyio
import structlog
from anyio.abc import SocketAttribute, SocketListener, SocketStream
from anyio.streams.buffered import BufferedByteReceiveStream

from .. import __version__
from ..config import CONFIG_ENV, ENV_PREFIX, Settings
from ..errors import SharedServerFailed
from .stdio_wire import MAX_LINE

log = structlog.get_logger(__name__)

START_SECONDS = 120.0  # for a shared server to open the database and listen
HELLO = "pgcode-shared"  # the first line a shared server sends on each connection
_HELLO_SECONDS = 10.0
_POLL_SECONDS = 0.05
_SOCKET_PATH_MAX = 100  # sun_path holds 104 to 108 bytes, depending on the platform
# Variables besides the settings that change what a server does (the model's files and cache, the
# home folder the read boundary protects): sessions that differ in them do not share a server.
_ENV_PREFIXES = ("PGCODE_", "HF_", "FASTEMBED_")


@dataclass(frozen=True, slots=True)
class Place:
    """Where the shared server for one configuration listens, and its start lock and log."""

    socket: Path
    lock: Path
    log: Path


def place_for(settings: Settings, *, watch: bool, env: Mapping[str, str] | None = None) -> Place:
    """The shared server's place for these settings (folders created, owner-only)."""
    key = _key(settings, watch, os.environ if env is None else env)
    run = run_dir(settings)
    sock = run / f"{key}.sock"
    if len(os.fsencode(sock)) > _SOCKET_PATH_MAX:
        sock = _private_dir(Path("/tmp") / f"pgcode-{os.getuid()}") / f"{key}.sock"
    return Place(socket=sock, lock=run / f"{key}.lock", log=run / f"{key}.log")


def place_of(settings: Settings, socket: Path) -> Place:
    """The place whose socket is `socket` (what a shared server is told when started)."""
    run = run_dir(settings)
    return Place(socket=socket, lock=run / f"{socket.stem}.lock", log=run / f"{socket.stem}.log")


def run_dir(settings: Settings) -> Path:
    return _private_dir(Path(settings.data_dir).absolute() / "run")


def _private_dir(path: Path) -> Path:
    """`path`, a folder only this user can enter: the sockets in it are the server's only door."""
    try:
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        st = os.lstat(path)
    except OSError as exc:
        raise SharedServerFailed(f"cannot create {path} for the shared server: {exc.strerror or exc}") from None
    if not os.path.isdir(path) or os.path.islink(path) or st.st_uid != os.getuid():
        raise SharedServerFailed(f"{path} is not a folder of this user; remove it so pgcode can make its own")
    if st.st_mode & 0o077:
        path.chmod(0o700)
    return path


def settings_env(settings: Settings) -> dict[str, str]:
    """Every setting as a PGCODE_* variable: a shared server runs with exactly the settings of the
    session that started it, whatever file, variables or flags they came from."""
    env: dict[str, str] = {}
    for f in dataclasses.fields(Settings):
        value = getattr(settings, f.name)
        if value is None:
            text = ""  # database_url: an explicit "" asks for the embedded server
        elif isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, Path):
            text = str(value.absolute())  # the shared server runs from /
        else:
            text = str(value)
        env[ENV_PREFIX + f.name.upper()] = text
    return env


def _key(settings: Settings, watch: bool, env: Mapping[str, str]) -> str:
    outside = sorted((k, v) for k, v in env.items() if k.startswith(_ENV_PREFIXES) or k == "HOME")
    digest = hashlib.sha256()
    for part in (
        __version__,
        _code_fingerprint(),
        str(watch),
        json.dumps(sorted(settings_env(settings).items())),
        json.dumps(outside),
    ):
        digest.update(part.encode() + b"\0")
    return digest.hexdigest()[:16]


def _code_fingerprint() -> str:
    """The package's files as they are now: an upgraded or edited pgcode never relays to a server
    still running the old code."""
    root = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        if path.suffix in (".py", ".sql"):
            st = path.stat()
            digest.update(f"{path.relative_to(root)}:{st.st_mtime_ns}:{st.st_size}\n".encode())
    return digest.hexdigest()


class Upstream:
    """One connection to a shared server: one MCP session, JSON-RPC lines both ways."""

    def __init__(self, stream: SocketStream, pid: int = 0) -> None:
        self._stream = stream
        self._buffered = BufferedByteReceiveStream(stream)
        self.pid = pid

    async def receive_line(self) -> bytes:
        """The next line (with its newline); anyio.IncompleteRead once the server closed the connection."""
        return await self._buffered.receive_until(b"\n", MAX_LINE) + b"\n"

    async def send(self, data: bytes) -> None:
        await self._stream.send(data)

    def hung_up(self) -> bool:
        """Whether the server has closed the connection, as the kernel knows it now (the reader may
        not have seen it yet; a send would not say so either: it is buffered)."""
        raw = self._stream.extra(SocketAttribute.raw_socket)
        try:
            return raw.recv(1, MSG_PEEK | MSG_DONTWAIT) == b""
        except BlockingIOError:
            return False
        except OSError:
            return True

    async def send_eof(self) -> None:
        await self._stream.send_eof()

    async def aclose(self) -> None:
        await self._stream.aclose()


# Shared servers this process started: it is their parent, so it must collect their exit status
# when they die, or each would linger as a zombie for as long as this session lasts.
_started: list[subprocess.Popen[bytes]] = []


def reap() -> None:
    """Collect the exit status of the shared servers this process started that have ended."""
    _started[:] = [process for process in _started if process.poll() is None]


async def connect(settings: Settings, *, watch: bool) -> Upstream:
    """A new session on the shared server for these settings, which is started first if none runs."""
    # Before a successor starts: a dead predecessor left as a zombie would look alive to it.
    reap()
    place = place_for(settings, watch=watch)
    upstream = await reach(place.socket)
    if upstream is not None:
        return upstream
    deadline = anyio.current_time() + START_SECONDS
    fd = os.open(place.lock, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        await _lock(fd, deadline, place)
        # Another session may have started one while this one waited for the lock.
        upstream = await reach(place.socket)
        return upstream if upstream is not None else await _start(place, settings, watch, fd, deadline)
    finally:
        os.close(fd)  # the lock is free once the server (which holds a copy until it listens) lets go too


async def reach(socket: Path) -> Upstream | None:
    """A session on the server listening at `socket`, or None if none answers there."""
    try:
        stream = await anyio.connect_unix(socket)
    except OSError as exc:
        if exc.errno in (errno.ENOENT, errno.ECONNREFUSED, errno.ENOTSOCK):
            return None
        raise SharedServerFailed(f"cannot connect to the shared server at {socket}: {exc.strerror or exc}") from None
    upstream = Upstream(stream)
    try:
        with anyio.fail_after(_HELLO_SECONDS):
            hello = json.loads(await upstream.receive_line())
        if isinstance(hello, dict) and hello.get("pgcode") == HELLO:
            upstream.pid = int(hello.get("pid", 0))
            return upstream
    except (TimeoutError, ValueError, anyio.IncompleteRead, anyio.EndOfStream, anyio.BrokenResourceError, OSError):
        pass  # retiring, or not a pgcode server: either way, not one to use
    await upstream.aclose()
    return None


async def _lock(fd: int, deadline: float, place: Place) -> None:
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            if anyio.current_time() > deadline:
                raise SharedServerFailed(
                    f"another pgcode session has been starting the shared server for {START_SECONDS:g} s; "
                    f"its log is {place.log}"
                ) from None
            await anyio.sleep(_POLL_SECONDS)


async def _start(place: Place, settings: Settings, watch: bool, lock_fd: int, deadline: float) -> Upstream:
    process = _spawn(place, settings, watch, lock_fd)
    _started.append(process)
    log.info("shared_server_starting", pid=process.pid, socket=str(place.socket))
    while True:
        upstream = await reach(place.socket)
        if upstream is not None:
            return upstream
        code = process.poll()
        if code is not None:
            raise SharedServerFailed(_failure(place, code))
        if anyio.current_time() > deadline:
            raise SharedServerFailed(
                f"the shared pgcode server (pid {process.pid}) did not start serving within "
                f"{START_SECONDS:g} s; its log is {place.log}"
            )
        await anyio.sleep(_POLL_SECONDS)


def _spawn(place: Place, settings: Settings, watch: bool, lock_fd: int) -> subprocess.Popen[bytes]:
    """A detached `pgcode serve` for shared use: its own session (a client ending this one's process
    group does not end it), no stdin or stdout, stderr to its log, the start lock passed on."""
    args = [
        sys.executable,
        "-m",
        "mcp_server",
        "serve",
        "--shared-socket",
        str(place.socket),
        "--shared-lock-fd",
        str(lock_fd),
    ]
    if not watch:
        args.append("--no-watch")
    env = {k: v for k, v in os.environ.items() if k != CONFIG_ENV} | settings_env(settings)
    # Appending: a predecessor still shutting down writes after this start's lines, not over them.
    log_fd = os.open(place.log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o600)
    try:
        return subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=log_fd,
            env=env,
            cwd="/",
            start_new_session=True,
            pass_fds=(lock_fd,),
        )
    finally:
        os.close(log_fd)


def _failure(place: Place, code: int) -> str:
    """What a shared server that exited before serving said: its error, as `pgcode serve` would print it."""
    try:
        lines = place.log.read_text(errors="replace").splitlines()
    except OSError:
        lines = []
    errors = [line.removeprefix("error: ") for line in lines if line.startswith("error: ")]
    if errors:
        return f"{errors[-1]} (its log: {place.log})"
    tail = "\n".join(lines[-15:])
    return f"the shared pgcode server exited with code {code} before serving; the end of its log {place.log}:\n{tail}"


async def listen(place: Place) -> tuple[SocketListener, int]:
    """The shared server's listener at its place (owner-only), and the socket file's inode."""
    listener = await anyio.create_unix_listener(place.socket, mode=0o600)
    return listener, os.stat(place.socket).st_ino


def withdraw(place: Place, inode: int) -> bool:
    """Take the socket away, unless a session is being started right now (its lock is held): True
    once new sessions can no longer reach this server. Only this server's own socket is removed,
    never one a successor has put in its place."""
    fd = os.open(place.lock, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        try:
            if os.stat(place.socket).st_ino == inode:
                place.socket.unlink()
        except FileNotFoundError:
            pass
        return True
    finally:
        os.close(fd)
