"""The background indexer: edits reach search within moments, one owner per repository, takeover."""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from collections.abc import Set as AbstractSet
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import anyio.abc
import asyncpg
import pytest

from mcp_server.config import Settings
from mcp_server.db.pool import Database, open_database
from mcp_server.embed.model import Embedder
from mcp_server.errors import IndexBusy
from mcp_server.index.discover import scan_paths
from mcp_server.indexer import repositories
from mcp_server.indexer.lease import LeaseManager, current_owner
from mcp_server.indexer.pipeline import index_paths, index_repository
from mcp_server.indexer.watcher import BackgroundIndexer, WatchStatus
from mcp_server.search.filters import Filters
from mcp_server.search.hybrid import search_code

from .conftest import database_of_its_own

RETRY = 0.2  # seconds between lease attempts in these tests
DEADLINE = 5.0


@pytest.fixture(scope="module")
async def wsettings(settings: Settings) -> AsyncIterator[Settings]:
    """A database of its own: a watcher claims every repository it finds, so other modules' must not be there."""
    yield await database_of_its_own(settings, f"pgcode_watcher_{os.getpid()}")


@pytest.fixture(scope="module")
async def wdb(wsettings: Settings) -> AsyncIterator[Database]:
    async with open_database(wsettings) as database:
        yield database


@pytest.fixture(autouse=True)
async def _forget_repositories(wdb: Database) -> AsyncIterator[None]:
    yield
    async with wdb.pool.acquire() as conn:
        await conn.execute("DELETE FROM repositories")


def _write_repo(root: Path) -> Path:
    (root / "app").mkdir(parents=True)
    (root / "app" / "__init__.py").write_text("")
    (root / "app" / "billing.py").write_text(
        "def compute_invoice_total(items):\n    return sum(items)\n\n\n"
        "def old_rounding_rule(x):\n    return round(x, 2)\n"
    )
    (root / "app" / "views.py").write_text(
        "from .billing import compute_invoice_total\n\n\n"
        "def invoice_view(items):\n    return compute_invoice_total(items)\n"
    )
    (root / "README.md").write_text("# demo\n")
    return root


async def eventually(check: Callable[[], Awaitable[bool]], what: str, timeout: float = DEADLINE) -> float:
    """Poll `check` until it holds; returns the seconds it took."""
    started = time.perf_counter()
    while True:
        if await check():
            return time.perf_counter() - started
        if time.perf_counter() - started > timeout:
            pytest.fail(f"not within {timeout}s: {what}")
        await anyio.sleep(0.02)


async def _found(db: Database, repository_id: int, name: str) -> bool:
    result = await search_code(db.pool, None, name, filters=Filters(repository_id=repository_id), mode="keyword")
    return any(name in (h.symbol or "") or name in h.snippet for h in result.results)


async def _symbol_names(db: Database, repository_id: int) -> set[str]:
    async with db.pool.acquire() as conn:
        return {r[0] for r in await conn.fetch("SELECT name FROM symbols WHERE repository_id = $1", repository_id)}


async def _paths(db: Database, repository_id: int) -> set[str]:
    async with db.pool.acquire() as conn:
        return {r[0] for r in await conn.fetch("SELECT path FROM files WHERE repository_id = $1", repository_id)}


@asynccontextmanager
async def running(
    db: Database, settings: Settings, embedder: Embedder | None = None
) -> AsyncIterator[BackgroundIndexer]:
    indexer = BackgroundIndexer(db, settings, embedder, lease_retry_seconds=RETRY, heartbeat_seconds=RETRY)
    async with anyio.create_task_group() as tg:
        await tg.start(indexer.run)
        try:
            yield indexer
        finally:
            tg.cancel_scope.cancel()


async def _indexed(db: Database, settings: Settings, root: Path) -> int:
    report = await index_repository(db, settings, root)
    async with db.pool.acquire() as conn:
        return (await repositories.find(conn, report.repository)).id


async def _watching(indexer: BackgroundIndexer, repository_id: int) -> None:
    async def check() -> bool:
        return indexer.status(repository_id).state == "watching"

    await eventually(check, f"watching repository {repository_id}")


async def test_a_saved_edit_is_searchable_and_the_old_code_is_gone(
    wdb: Database, wsettings: Settings, tmp_path: Path
) -> None:
    root = _write_repo(tmp_path / "edit")
    rid = await _indexed(wdb, wsettings, root)
    async with running(wdb, wsettings) as indexer:
        await _watching(indexer, rid)
        billing = root / "app" / "billing.py"
        billing.write_text(billing.read_text().replace("old_rounding_rule", "banker_rounding_rule"))

        async def swapped() -> bool:
            names = await _symbol_names(wdb, rid)
            return await _found(wdb, rid, "banker_rounding_rule") and "old_rounding_rule" not in names

        took = await eventually(swapped, "the renamed function replaces the old one in the index")
        assert took < 3
        # The new rows are visible as soon as the file's transaction commits; the batch (edge
        # resolution) finishes a moment later, and only then is the watcher idle again.
        await _watching(indexer, rid)
        status = indexer.status(rid)
        assert status.state == "watching" and status.files_pending == 0 and status.errors is None
        assert status.last_event_at is not None and status.last_indexed_at is not None
        assert not await _found(wdb, rid, "old_rounding_rule")
        async with wdb.pool.acquire() as conn:
            target = await conn.fetchval(
                """SELECT t.qualified_name FROM edges e JOIN symbols s ON s.id = e.source_id
                   JOIN symbols t ON t.id = e.target_id
                   WHERE s.qualified_name = 'app.views.invoice_view' AND e.kind = 'calls'"""
            )
        # The caller's edge into the re-stored file was re-resolved to the new symbol row.
        assert target == "app.billing.compute_invoice_total"


async def test_an_edit_that_keeps_size_and_mtime_is_still_indexed(
    wdb: Database, wsettings: Settings, tmp_path: Path
) -> None:
    root = _write_repo(tmp_path / "racy")
    rid = await _indexed(wdb, wsettings, root)
    billing = root / "app" / "billing.py"
    before = billing.stat()
    async with running(wdb, wsettings) as indexer:
        await _watching(indexer, rid)
        # Two saves within one tick of the file system's clock look like this: same size, same mtime.
        billing.write_text(billing.read_text().replace("old_rounding_rule", "new_rounding_rule"))
        os.utime(billing, ns=(before.st_atime_ns, before.st_mtime_ns))

        async def renamed() -> bool:
            return "new_rounding_rule" in await _symbol_names(wdb, rid)

        await eventually(renamed, "the same-size edit is indexed")


async def test_added_files_and_folders_appear_and_deleted_ones_vanish(
    wdb: Database, wsettings: Settings, tmp_path: Path
) -> None:
    root = _write_repo(tmp_path / "add")
    rid = await _indexed(wdb, wsettings, root)
    async with running(wdb, wsettings) as indexer:
        await _watching(indexer, rid)
        (root / "app" / "refunds.py").write_text("def issue_refund_now(amount):\n    return -amount\n")
        # A new folder written at once: its files can predate the watch on the folder itself.
        (root / "app" / "reports").mkdir()
        (root / "app" / "reports" / "__init__.py").write_text("")
        (root / "app" / "reports" / "daily.py").write_text("class DailyLedgerReport:\n    pass\n")

        async def added() -> bool:
            names = await _symbol_names(wdb, rid)
            return {"issue_refund_now", "DailyLedgerReport"} <= names

        await eventually(added, "new files' symbols are indexed")
        assert await _found(wdb, rid, "issue_refund_now")
        async with wdb.pool.acquire() as conn:
            qname = await conn.fetchval(
                "SELECT qualified_name FROM symbols WHERE repository_id = $1 AND name = 'DailyLedgerReport'", rid
            )
        assert qname == "app.reports.daily.DailyLedgerReport"

        (root / "app" / "views.py").unlink()
        os.rename(root / "app" / "reports", tmp_path / "elsewhere")  # a folder moved out whole

        async def deleted() -> bool:
            paths = await _paths(wdb, rid)
            return "app/views.py" not in paths and not any(p.startswith("app/reports/") for p in paths)

        await eventually(deleted, "deleted files leave the index")
        async with wdb.pool.acquire() as conn:
            orphans = await conn.fetchval(
                "SELECT count(*) FROM symbols WHERE repository_id = $1"
                " AND name IN ('invoice_view', 'DailyLedgerReport')",
                rid,
            )
        assert orphans == 0
        assert "compute_invoice_total" in await _symbol_names(wdb, rid)


async def test_ignoring_a_file_in_gitignore_removes_it(wdb: Database, wsettings: Settings, tmp_path: Path) -> None:
    root = _write_repo(tmp_path / "ignore")
    (root / "app" / "generated_client.py").write_text("def generated_endpoint_call():\n    pass\n")
    rid = await _indexed(wdb, wsettings, root)
    assert "app/generated_client.py" in await _paths(wdb, rid)
    async with running(wdb, wsettings) as indexer:
        await _watching(indexer, rid)
        (root / ".gitignore").write_text("generated_*.py\n")

        async def gone() -> bool:
            return "app/generated_client.py" not in await _paths(wdb, rid)

        await eventually(gone, "the newly ignored file leaves the index")
        # Edits to an ignored file are not indexed either.
        (root / "app" / "generated_client.py").write_text("def regenerated_endpoint_call():\n    pass\n")
        (root / "app" / "billing.py").write_text("def after_ignore_marker():\n    pass\n")

        async def billing_done() -> bool:
            return "after_ignore_marker" in await _symbol_names(wdb, rid)

        await eventually(billing_done, "a later edit is indexed")
        assert "regenerated_endpoint_call" not in await _symbol_names(wdb, rid)


async def test_a_file_it_cannot_read_is_counted_and_watching_goes_on(
    wdb: Database, wsettings: Settings, tmp_path: Path
) -> None:
    root = _write_repo(tmp_path / "binary")
    rid = await _indexed(wdb, wsettings, root)
    async with running(wdb, wsettings) as indexer:
        await _watching(indexer, rid)
        (root / "app" / "billing.py").write_bytes(b"\x00\x01\x02 compiled, not source")

        async def counted() -> bool:
            return indexer.status(rid).skipped.get("binary", 0) >= 1

        await eventually(counted, "the binary file is counted as skipped")
        assert "app/billing.py" not in await _paths(wdb, rid)  # what it held before is stale
        (root / "app" / "views.py").write_text("def still_watching_after_binary():\n    pass\n")

        async def later() -> bool:
            return "still_watching_after_binary" in await _symbol_names(wdb, rid)

        await eventually(later, "the next edit is still indexed")

        async def watching() -> bool:  # the pass stores its rows a moment before it says it is done
            return indexer.status(rid).state == "watching"

        await eventually(watching, "watching again after the pass")


async def test_changes_made_while_nobody_watched_are_caught_up_on_start(
    wdb: Database, wsettings: Settings, tmp_path: Path
) -> None:
    root = _write_repo(tmp_path / "catchup")
    rid = await _indexed(wdb, wsettings, root)
    (root / "app" / "offline_edit.py").write_text("def written_while_offline():\n    pass\n")
    (root / "README.md").unlink()
    async with running(wdb, wsettings) as indexer:
        assert indexer.status(rid).state in ("catching_up", "watching")

        async def caught_up() -> bool:
            paths = await _paths(wdb, rid)
            return "app/offline_edit.py" in paths and "README.md" not in paths

        await eventually(caught_up, "the start-up pass indexes what changed meanwhile")
        await _watching(indexer, rid)


async def test_one_owner_per_repository_and_the_other_takes_over_when_it_stops(
    wdb: Database, wsettings: Settings, tmp_path: Path
) -> None:
    root = _write_repo(tmp_path / "shared")
    rid = await _indexed(wdb, wsettings, root)
    async with open_database(wsettings) as other_db, anyio.create_task_group() as tg:
        owner = BackgroundIndexer(wdb, wsettings, None, lease_retry_seconds=RETRY, heartbeat_seconds=RETRY)
        standby = BackgroundIndexer(other_db, wsettings, None, lease_retry_seconds=RETRY, heartbeat_seconds=RETRY)
        owner_scope = await _start(tg, owner)
        await _start(tg, standby)
        await _watching(owner, rid)
        assert standby.status(rid).state == "owned_elsewhere"

        async def owner_known() -> bool:
            return standby.status(rid).owner == owner.leases.owner

        await eventually(owner_known, "the standby says who owns the repository")
        async with wdb.pool.acquire() as conn:
            held = await current_owner(conn, rid)
        assert held is not None and held.owner == owner.leases.owner
        await anyio.sleep(3 * RETRY)  # several retries: the standby must not steal it
        assert standby.status(rid).state == "owned_elsewhere"
        assert owner.status(rid).state == "watching"

        owner_scope.cancel()  # the owner stops; its lease goes with it
        took = await eventually(lambda: _is_watching(standby, rid), "the standby takes over")
        assert took < 2 + 5 * RETRY
        assert owner.status(rid).state == "stopped"
        (root / "app" / "billing.py").write_text("def written_after_failover():\n    pass\n")

        async def reflected() -> bool:
            return await _found(wdb, rid, "written_after_failover")

        await eventually(reflected, "the new owner indexes edits")
        tg.cancel_scope.cancel()


async def test_when_the_owners_connection_dies_exactly_one_process_owns_the_repository_again(
    wdb: Database, wsettings: Settings, tmp_path: Path
) -> None:
    root = _write_repo(tmp_path / "crash")
    rid = await _indexed(wdb, wsettings, root)
    async with open_database(wsettings) as other_db, anyio.create_task_group() as tg:
        first = BackgroundIndexer(wdb, wsettings, None, lease_retry_seconds=RETRY, heartbeat_seconds=RETRY)
        second = BackgroundIndexer(other_db, wsettings, None, lease_retry_seconds=RETRY, heartbeat_seconds=RETRY)
        await _start(tg, first)
        await _start(tg, second)
        await _watching(first, rid)
        async with wdb.pool.acquire() as conn:
            # What a crash looks like from the database: the lease connection is gone, and its lock too.
            killed = await conn.fetchval(
                "SELECT pg_terminate_backend(backend_pid) FROM index_leases WHERE repository_id = $1", rid
            )
        assert killed

        async def lost() -> bool:
            return "lost the lease" in (first.status(rid).errors or "")

        await eventually(lost, "the first owner notices its lease is gone")

        async def settled() -> bool:
            states = sorted([first.status(rid).state, second.status(rid).state])
            return states == ["owned_elsewhere", "watching"]

        await eventually(settled, "one process watches and the other stands by")
        owner = first if first.status(rid).state == "watching" else second
        async with wdb.pool.acquire() as conn:
            held = await current_owner(conn, rid)
        assert held is not None and held.owner == owner.leases.owner
        (root / "app" / "billing.py").write_text("def written_after_crash():\n    pass\n")

        async def reflected() -> bool:
            return "written_after_crash" in await _symbol_names(wdb, rid)

        await eventually(reflected, "the surviving owner indexes edits")
        tg.cancel_scope.cancel()


async def test_the_watcher_survives_the_database_dropping_every_connection(
    wdb: Database, wsettings: Settings, tmp_path: Path
) -> None:
    root = _write_repo(tmp_path / "outage")
    rid = await _indexed(wdb, wsettings, root)
    async with running(wdb, wsettings) as indexer:
        await _watching(indexer, rid)
        admin = await asyncpg.connect(wdb.dsn)
        try:
            # A database restart, as the clients see it: every session of this process is cut.
            await admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        finally:
            await admin.close()
        (root / "app" / "views.py").write_text("def written_during_outage():\n    pass\n")

        async def indexed() -> bool:
            try:
                return "written_during_outage" in await _symbol_names(wdb, rid)
            except (asyncpg.PostgresConnectionError, asyncpg.InterfaceError, asyncpg.InternalClientError):
                return False  # the test's own pooled connection was cut too

        await eventually(indexed, "the edit made while connections were cut is indexed")
        await _watching(indexer, rid)
        assert indexer.leases.holds(rid)


async def test_a_burst_of_changes_runs_one_whole_pass(wdb: Database, wsettings: Settings, tmp_path: Path) -> None:
    root = _write_repo(tmp_path / "burst")
    rid = await _indexed(wdb, wsettings, root)
    async with wdb.pool.acquire() as conn:
        passed_before = await conn.fetchval("SELECT indexed_at FROM repositories WHERE id = $1", rid)
    indexer = BackgroundIndexer(wdb, wsettings, None, lease_retry_seconds=RETRY, burst_paths=3)
    async with anyio.create_task_group() as tg:
        await tg.start(indexer.run)
        await _watching(indexer, rid)
        for i in range(8):  # a checkout: more files at once than the burst threshold
            (root / "app" / f"branch_{i}.py").write_text(f"def from_branch_{i}():\n    pass\n")

        async def all_in() -> bool:
            return {f"from_branch_{i}" for i in range(8)} <= await _symbol_names(wdb, rid)

        await eventually(all_in, "every file of the burst is indexed")
        async with wdb.pool.acquire() as conn:
            passed_after = await conn.fetchval("SELECT indexed_at FROM repositories WHERE id = $1", rid)
        assert passed_after > passed_before  # a whole pass ran (the fast path leaves indexed_at alone)
        tg.cancel_scope.cancel()


async def _start(tg: anyio.abc.TaskGroup, indexer: BackgroundIndexer) -> anyio.CancelScope:
    """Run `indexer` in `tg` under a scope of its own, so that it can be stopped alone."""
    scope = anyio.CancelScope()

    async def body(*, task_status: anyio.abc.TaskStatus[None]) -> None:
        with scope:
            await indexer.run(task_status=task_status)

    await tg.start(body)
    return scope


async def _is_watching(indexer: BackgroundIndexer, repository_id: int) -> bool:
    return indexer.status(repository_id).state == "watching"


async def test_index_repository_in_the_watching_process_shares_its_lease(
    wdb: Database, wsettings: Settings, tmp_path: Path
) -> None:
    root = _write_repo(tmp_path / "reentrant")
    rid = await _indexed(wdb, wsettings, root)
    async with running(wdb, wsettings) as indexer:
        await _watching(indexer, rid)
        (root / "app" / "explicit.py").write_text("def explicit_pass_found():\n    pass\n")
        with anyio.fail_after(DEADLINE):
            await index_repository(wdb, wsettings, root)
        assert "explicit_pass_found" in await _symbol_names(wdb, rid)
        # The explicit run gave back only its own hold: the watcher still owns the repository.
        assert indexer.leases.holds(rid)
        outsider = LeaseManager(wdb.dsn, owner="outsider:1")
        assert not await outsider.try_acquire(rid)
        await outsider.aclose()
        (root / "app" / "views.py").write_text("def watched_after_explicit_pass():\n    pass\n")

        async def indexed() -> bool:
            return "watched_after_explicit_pass" in await _symbol_names(wdb, rid)

        await eventually(indexed, "the watcher goes on after the explicit pass")


async def test_index_repository_from_another_process_is_refused_while_one_owns_it(
    wdb: Database, wsettings: Settings, tmp_path: Path
) -> None:
    root = _write_repo(tmp_path / "busy")
    rid = await _indexed(wdb, wsettings, root)
    async with running(wdb, wsettings) as indexer:
        await _watching(indexer, rid)
        async with open_database(wsettings) as other_db:
            with pytest.raises(IndexBusy, match=indexer.leases.owner):
                await index_repository(other_db, wsettings, root)
            async with other_db.pool.acquire() as conn:
                repo = await repositories.find(conn, str(root))
            with pytest.raises(IndexBusy):
                await index_paths(other_db, wsettings, repo, ["app/views.py"])


async def test_a_vanished_root_is_reported_and_watched_again_when_it_returns(
    wdb: Database, wsettings: Settings, tmp_path: Path
) -> None:
    root = _write_repo(tmp_path / "moving")
    rid = await _indexed(wdb, wsettings, root)
    async with running(wdb, wsettings) as indexer:
        await _watching(indexer, rid)
        os.rename(root, tmp_path / "moved-away")

        async def missing() -> bool:
            return indexer.status(rid).state == "root_missing"

        await eventually(missing, "the watcher notices the root is gone")
        assert "app/billing.py" in await _paths(wdb, rid)  # an unmounted disk must not empty the index
        os.rename(tmp_path / "moved-away", root)
        await _watching(indexer, rid)
        (root / "app" / "views.py").write_text("def back_from_the_void():\n    pass\n")

        async def indexed() -> bool:
            return "back_from_the_void" in await _symbol_names(wdb, rid)

        await eventually(indexed, "edits flow again once the root is back")


async def test_vectors_follow_in_the_background(
    wdb: Database, wsettings: Settings, embedder: Embedder, tmp_path: Path
) -> None:
    root = _write_repo(tmp_path / "vectors")
    rid = await _indexed(wdb, wsettings, root)
    async with running(wdb, wsettings, embedder) as indexer:

        async def embedded() -> bool:
            return (await indexer.refresh_status(rid)).vectors_pending == 0

        await eventually(embedded, "the start-up embeds what the explicit pass left", timeout=30)
        (root / "app" / "views.py").write_text("def semantic_freshness_probe():\n    return 42\n")

        async def probe_indexed() -> bool:
            return "semantic_freshness_probe" in await _symbol_names(wdb, rid)

        await eventually(probe_indexed, "the edit is indexed lexically")
        await eventually(embedded, "its vectors follow", timeout=30)


async def test_remove_repository_gives_the_lease_back(wdb: Database, wsettings: Settings, tmp_path: Path) -> None:
    root = _write_repo(tmp_path / "removed")
    rid = await _indexed(wdb, wsettings, root)
    async with running(wdb, wsettings) as indexer:
        await _watching(indexer, rid)
        await indexer.remove_repository(rid)
        assert indexer.status(rid) == WatchStatus(rid, "stopped", None, 0, None, None, None, None, None)
        assert not indexer.leases.holds(rid)
        await anyio.sleep(3 * RETRY)  # the supervisor must not take it back
        assert not indexer.leases.holds(rid)


def test_scan_paths_applies_discovery_rules_to_single_paths(tmp_path: Path) -> None:
    root = _write_repo(tmp_path / "scan")
    (root / ".gitignore").write_text("secret_*.py\nout_dir/\n")
    (root / "app" / "secret_key.py").write_text("KEY = 1\n")
    (root / "out_dir").mkdir()
    (root / "out_dir" / "x.py").write_text("x = 1\n")
    (root / "node_modules" / "m").mkdir(parents=True)
    (root / "node_modules" / "m" / "i.js").write_text("1\n")
    (root / "logo.png").write_bytes(b"\x89PNG")
    scan = scan_paths(
        root,
        [
            "app/billing.py",
            "app/secret_key.py",
            "out_dir/x.py",
            "node_modules/m/i.js",
            "logo.png",
            "gone.py",
            "app",
            "../escape.py",
        ],
        1_000_000,
    )
    assert [f.path for f in scan.files] == ["app/__init__.py", "app/billing.py", "app/views.py"]
    assert scan.scanned == [
        "app/billing.py",
        "app/secret_key.py",
        "out_dir/x.py",
        "node_modules/m/i.js",
        "logo.png",
        "gone.py",
        "app",
    ]
    assert scan.skipped["unsupported_type"] == 1 and scan.skipped["ignored"] == 2


class _Recorder:
    """An events subscriber that keeps what it was told, in order."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, int, frozenset[str], frozenset[str]]] = []

    def queued(self, repository_id: int, paths: AbstractSet[str]) -> None:
        self.seen.append(("queued", repository_id, frozenset(paths), frozenset()))

    def batch_started(self, repository_id: int, paths: AbstractSet[str]) -> None:
        self.seen.append(("batch_started", repository_id, frozenset(paths), frozenset()))

    def batch_done(self, repository_id: int, paths_done: AbstractSet[str], still_pending: AbstractSet[str]) -> None:
        self.seen.append(("batch_done", repository_id, frozenset(paths_done), frozenset(still_pending)))

    def dropped(self, repository_id: int) -> None:
        self.seen.append(("dropped", repository_id, frozenset(), frozenset()))


async def test_subscribers_hear_of_queued_paths_batches_and_dropped_queues(
    wdb: Database, wsettings: Settings, tmp_path: Path
) -> None:
    root = _write_repo(tmp_path / "events")
    rid = await _indexed(wdb, wsettings, root)
    events = _Recorder()
    indexer = BackgroundIndexer(wdb, wsettings, None, lease_retry_seconds=RETRY, heartbeat_seconds=RETRY, events=events)
    async with anyio.create_task_group() as tg:
        await tg.start(indexer.run)
        await _watching(indexer, rid)
        billing = root / "app" / "billing.py"
        billing.write_text(billing.read_text().replace("old_rounding_rule", "evented_rounding_rule"))

        async def stored() -> bool:
            return any(kind == "batch_done" and "app/billing.py" in done for kind, _, done, _ in events.seen)

        await eventually(stored, "the edit's batch is reported done")
        kinds = [(kind, paths) for kind, r, paths, _ in events.seen if r == rid and "app/billing.py" in paths]
        assert [k for k, _ in kinds][:3] == ["queued", "batch_started", "batch_done"], events.seen
        tg.cancel_scope.cancel()
    assert events.seen[-1][:2] == ("dropped", rid), "stopping discards the queue, and says so"
