"""The deploy guide's topology for real: a primary, a hot standby (pg_basebackup -R), PgBouncer 1.18 with deploy's pgbouncer.ini in front of the standby, `pgcode worker` on the primary, two read-only servers through PgBouncer; edits, lag, faults, failover."""

from __future__ import annotations

import os
import re
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import asyncpg
import httpx2
import pytest
import yaml

from tests import replica_topology
from tests.conftest import write_sample_repo
from tests.mcp_harness import TOKEN, HttpServer, connect
from tests.replica_topology import Team, start_team
from tests.test_ops import _data, _metrics, _samples, _start_worker, _stop, _wait_http

ROOT = Path(__file__).parent.parent
REPO = "shop"
LAG_NOTE_SECONDS = 2  # the readers' replica_lag_note_seconds
SEARCHABLE_WITHIN = 20.0  # seconds from a saved edit to a hit on every reader (measured: about 1 s)
UNREACHABLE_WITHIN = 2.0  # seconds for a reader to say its replica does not answer
RECOVER_WITHIN = 30.0
READER_ENV = {"PGCODE_REPLICA_LAG_NOTE_SECONDS": str(LAG_NOTE_SECONDS)}


@pytest.fixture(scope="module")
def team(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Team]:
    """One topology for every test of this file: they run in order, the failover last."""
    folder = tmp_path_factory.mktemp("replica")
    with start_team(folder, write_sample_repo(folder / REPO), REPO, reader_env=READER_ENV) as started:
        yield started


async def _call(server: HttpServer, tool: str, arguments: dict[str, Any]) -> Any:
    async with connect("http", server=server) as client:
        return await client.call_tool(tool, arguments)


async def _found_everywhere(team: Team, name: str, *, timeout: float = SEARCHABLE_WITHIN) -> float:
    """Seconds until a keyword search for `name` finds it on every reader."""
    started = time.monotonic()
    pending = list(team.readers)
    while pending:
        server = pending[0]
        result = await _call(server, "search_code", {"query": name, "mode": "keyword", "repository": REPO})
        if not result.is_error and any(h["symbol"].endswith(name) for h in _data(result)["results"]):
            pending.pop(0)
            continue
        assert time.monotonic() - started < timeout, f"{name} not searchable on {server.base} within {timeout}s"
        await anyio.sleep(0.1)
    return time.monotonic() - started


async def _primary(team: Team) -> asyncpg.Connection:
    return await asyncpg.connect(team.topology.writer_url())


def _edit(team: Team, n: int) -> str:
    name = f"replica_probe_{n}_{os.getpid()}"
    (team.root / "shop" / f"probe_{n}.py").write_text(f'def {name}(total):\n    """Probe {n}."""\n    return total\n')
    return name


# --- the topology answers --------------------------------------------------------------------------


async def test_both_readers_serve_search_and_graph_from_the_standby_and_edits_reach_them(team: Team) -> None:
    assert replica_topology.pgbouncer_version() >= (1, 18)
    assert team.topology.standby.sql("SELECT pg_is_in_recovery()") == "t"
    for server in team.readers:
        assert httpx2.post(f"{server.base}/mcp", json={}).status_code == 401  # bearer tokens required
        hits = _data(
            await _call(
                server,
                "search_code",
                {"query": "sign a cookie value with a secret key", "repository": REPO, "limit": 3},
            )
        )
        assert hits["results"][0]["symbol"] == "shop.session.sign_cookie"
        assert hits["freshness"]["notes"] == []  # caught up: no lag to state
        callers = _data(await _call(server, "find_callers", {"symbol": "shop.pricing.apply_discount"}))
        assert "shop.cart.DiscountCart.total" in {e["source"] for e in callers["edges"]}
        status = _data(await _call(server, "index_status", {"repository": REPO}))
        assert status["replica_lag_seconds"] is not None and status["replica_lag_seconds"] < LAG_NOTE_SECONDS
        assert status["notes"] == [] and status["repositories"][0]["files"] >= 16
        # A write tool on a reader: refused with a sentence, nothing written.
        refused = await _call(server, "index_repository", {"path": str(team.root), "name": "again"})
        assert refused.is_error and "read-only" in refused.content[0].text
        assert "pgcode worker" in refused.content[0].text
        removed = await _call(server, "remove_repository", {"repository": REPO})
        assert removed.is_error and "read-only" in removed.content[0].text

    # A new module written on disk is indexed by the worker on the primary and replayed to both readers.
    package = team.root / "shop" / "loyalty"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "points.py").write_text(
        "from shop.pricing import apply_discount\n\n\n"
        "def award_loyalty_points(order_total):\n"
        '    """Points a customer earns for an order."""\n'
        "    return int(apply_discount(order_total, 0) // 10)\n"
    )
    await _found_everywhere(team, "award_loyalty_points")
    for server in team.readers:
        callers = _data(await _call(server, "find_callers", {"symbol": "shop.pricing.apply_discount"}))
        assert "shop.loyalty.points.award_loyalty_points" in {e["source"] for e in callers["edges"]}

    seconds = [await _found_everywhere(team, _edit(team, n)) for n in range(3)]
    assert max(seconds) < SEARCHABLE_WITHIN, seconds
    log = team.worker.log.read_text()
    assert "Traceback" not in log


async def test_a_replica_behind_its_primary_says_so_in_index_status_and_every_answer(team: Team) -> None:
    standby = team.topology.standby
    standby.sql("SELECT pg_wal_replay_pause()")
    try:
        name = _edit(team, 100)
        conn = await _primary(team)
        try:  # stored on the primary...
            deadline = time.monotonic() + SEARCHABLE_WITHIN
            while not await conn.fetchval("SELECT count(*) FROM symbols WHERE name = $1", name):
                assert time.monotonic() < deadline, "the worker never stored the edit"
                await anyio.sleep(0.1)
        finally:
            await conn.close()
        # ...not replayed: past the threshold, each answer states the lag.
        reader = team.readers[0]
        deadline = time.monotonic() + 20
        while True:
            status = _data(await _call(reader, "index_status", {}))
            if status["replica_lag_seconds"] > LAG_NOTE_SECONDS and status["notes"]:
                break
            assert time.monotonic() < deadline, status
            await anyio.sleep(0.3)
        assert "behind its primary" in status["notes"][0] and "replay is paused" in status["notes"][0]
        search = _data(await _call(reader, "search_code", {"query": name, "mode": "keyword", "repository": REPO}))
        assert not any(h["symbol"].endswith(name) for h in search["results"])  # the reader has not seen it
        assert any("behind its primary" in n for n in search["freshness"]["notes"])
        graph = _data(await _call(reader, "find_callers", {"symbol": "shop.pricing.apply_discount"}))
        assert any("behind its primary" in n for n in graph["notes"])
        context = await _call(reader, "get_context", {"query": "apply a discount", "budget_tokens": 600})
        assert "behind its primary" in context.content[0].text
        scraped = _metrics(reader.base)
        assert _samples(scraped, "pgcode_replica_lag_seconds")[""] > LAG_NOTE_SECONDS
    finally:
        standby.sql("SELECT pg_wal_replay_resume()")
    await _found_everywhere(team, name)
    deadline = time.monotonic() + 10  # caught up: the note goes (the lag is read at most once a second)
    while True:
        status = _data(await _call(team.readers[0], "index_status", {}))
        if status["notes"] == [] and status["replica_lag_seconds"] < LAG_NOTE_SECONDS:
            break
        assert time.monotonic() < deadline, status
        await anyio.sleep(0.3)


async def test_every_series_the_alert_rules_read_is_exported_by_a_reader_or_the_worker(team: Team) -> None:
    scraped = _metrics(team.readers[1].base) + _metrics(team.worker.base)
    exported = {line.split("{")[0].split(" ")[0] for line in scraped.splitlines() if line and not line.startswith("#")}
    groups = yaml.safe_load((ROOT / "deploy" / "prometheus" / "alerts.yml").read_text())["groups"]
    used = {
        name
        for group in groups
        for rule in group["rules"]
        for name in re.findall(r"\b(pgcode_[a-z_]+|process_[a-z_]+)\b", rule["expr"])
    }
    assert {"pgcode_replica_lag_seconds", "pgcode_db_pool_max_size"} <= used
    assert used <= exported, f"alert rules read series nobody exports: {sorted(used - exported)}"
    assert _samples(scraped, "pgcode_db_pool_max_size")[""] == 8


async def test_the_metrics_an_operator_runs_on_exist_and_move_with_real_traffic(team: Team) -> None:
    reader, worker = team.readers[0], team.worker
    before = _metrics(reader.base)
    worker_before = _metrics(worker.base)
    for _ in range(3):
        _data(await _call(reader, "search_code", {"query": "apply_discount", "mode": "keyword", "repository": REPO}))
    missing = await _call(reader, "search_code", {"query": "apply_discount", "repository": "no-such-repository"})
    assert missing.is_error
    bad = await _call(reader, "get_symbol", {"symbol": "shop.no_such_symbol"})
    assert bad.is_error
    name = _edit(team, 150)
    await _found_everywhere(team, name)

    # Indexing stalls (the files table is locked on the primary): the repository's index lag grows...
    blocker = await asyncpg.connect(team.topology.primary.url())
    try:
        async with blocker.transaction():
            await blocker.execute("LOCK TABLE files IN ACCESS EXCLUSIVE MODE")
            (team.root / "shop" / "stalled.py").write_text("def stalled_edit():\n    return 1\n")
            deadline = time.monotonic() + 20
            while _samples(_metrics(worker.base), "pgcode_index_lag_seconds")[f'{{repository="{REPO}"}}'] < 1:
                assert time.monotonic() < deadline, "the index lag never grew while indexing was blocked"
                await anyio.sleep(0.2)
    finally:
        await blocker.close()
    deadline = time.monotonic() + 30
    while True:  # ...and falls back to 0 once the change is stored and embedded
        worker_after = _metrics(worker.base)
        embedded = _samples(worker_after, "pgcode_embed_chunks_total")[""]
        if (
            _samples(worker_after, "pgcode_index_lag_seconds")[f'{{repository="{REPO}"}}'] == 0
            and embedded > _samples(worker_before, "pgcode_embed_chunks_total")[""]
        ):
            break
        assert time.monotonic() < deadline, worker_after
        await anyio.sleep(0.3)
    after = _metrics(reader.base)

    def moved(text: str, old: str, metric: str, labels: str) -> float:
        return _samples(text, metric)[labels] - _samples(old, metric).get(labels, 0.0)

    assert moved(after, before, "pgcode_tool_latency_seconds_count", '{tool="search_code"}') >= 3
    assert moved(after, before, "pgcode_tool_errors_total", '{kind="not_found",tool="search_code"}') == 1
    assert moved(after, before, "pgcode_tool_errors_total", '{kind="invalid_argument",tool="get_symbol"}') == 1
    assert _samples(after, "pgcode_replica_lag_seconds")[""] >= 0  # it moves: see the paused-replay test
    assert _samples(after, "pgcode_replica_receiving")[""] == 1
    assert _samples(after, "pgcode_db_pool_in_use")[""] >= 0 and _samples(after, "pgcode_db_pool_max_size")[""] == 8
    assert _samples(after, "pgcode_db_pool_waiting")[""] == 0  # idle now (tests/test_ops.py makes it move)
    assert moved(worker_after, worker_before, "pgcode_embed_seconds_total", "") > 0  # throughput: chunks / seconds
    assert f'{{repository="{REPO}"}}' in _samples(worker_after, "pgcode_vectors_pending")
    assert _samples(worker_after, "pgcode_watcher_state")[f'{{repository="{REPO}",state="watching"}}'] == 1
    assert _samples(worker_after, "pgcode_watcher_state")[f'{{repository="{REPO}",state="paused"}}'] == 0


# --- faults -----------------------------------------------------------------------------------------


async def test_a_stopped_standby_is_a_clear_tool_error_within_two_seconds_and_readers_recover(team: Team) -> None:
    standby = team.topology.standby
    standby.stop()
    try:
        for server in team.readers:
            for tool, arguments in (
                ("search_code", {"query": "apply_discount", "mode": "keyword", "repository": REPO}),
                ("find_callers", {"symbol": "shop.pricing.apply_discount"}),
            ):
                started = time.monotonic()
                result = await _call(server, tool, arguments)
                took = time.monotonic() - started
                assert result.is_error, result
                assert result.content[0].text.count("replica unreachable: ") == 1, result.content[0].text
                assert took < UNREACHABLE_WITHIN, (tool, took)
            ready = httpx2.get(f"{server.base}/ready", timeout=10)
            assert ready.status_code == 503 and ready.json()["checks"]["database"]["ok"] is False
    finally:
        standby.start()
    replica_topology.wait_streaming(standby)
    started = time.monotonic()
    for server in team.readers:  # by themselves: no restart of the readers or of PgBouncer
        while True:
            result = await _call(server, "search_code", {"query": "apply_discount", "mode": "keyword"})
            if not result.is_error:
                break
            assert time.monotonic() - started < RECOVER_WITHIN, result.content[0].text
            await anyio.sleep(0.2)
        _wait_http(server.process, f"{server.base}/ready", server.log, timeout=RECOVER_WITHIN)


async def test_readers_recover_from_a_pgbouncer_restart(team: Team) -> None:
    bouncer = team.topology.bouncer
    bouncer.stop()
    result = await _call(team.readers[0], "find_symbol", {"name": "apply_discount"})
    assert result.is_error and result.content[0].text.count("replica unreachable: ") == 1
    bouncer.start()
    started = time.monotonic()
    for server in team.readers:
        while True:
            result = await _call(server, "find_symbol", {"name": "apply_discount"})
            if not result.is_error:
                break
            assert time.monotonic() - started < RECOVER_WITHIN, result.content[0].text
            await anyio.sleep(0.2)
    assert bouncer.starts == 2


# --- failover ---------------------------------------------------------------------------------------


async def _snapshot(conn: asyncpg.Connection) -> dict[str, tuple[int, Any]]:
    rows = await conn.fetch(
        "SELECT f.path, f.id, f.indexed_at FROM files f JOIN repositories r ON r.id = f.repository_id WHERE r.name = $1",
        REPO,
    )
    return {r["path"]: (r["id"], r["indexed_at"]) for r in rows}


_DUPLICATES = """
SELECT (SELECT count(*) FROM (SELECT file_id, qualified_name, start_line FROM symbols
                              GROUP BY 1, 2, 3 HAVING count(*) > 1) s)
     + (SELECT count(*) FROM (SELECT file_id, start_line, end_line, content_hash FROM chunks
                              GROUP BY 1, 2, 3, 4 HAVING count(*) > 1) c)
"""


async def test_the_standby_promoted_takes_the_worker_without_a_reindex_or_duplicate_rows(team: Team) -> None:
    topology = team.topology
    conn = await _primary(team)
    try:
        before = await _snapshot(conn)
        symbols_before = await conn.fetchval("SELECT count(*) FROM symbols")
    finally:
        await conn.close()

    timeline: dict[str, float] = {}
    started = time.monotonic()
    topology.primary.stop()  # the primary is lost (a clean stop: every commit reached the standby)
    timeline["primary_stopped"] = time.monotonic() - started
    # Before the promotion the readers still answer, and say the replica is cut off from its primary.
    deadline = time.monotonic() + 15  # once its WAL receiver has given up on the primary
    while True:
        cut_off = _data(await _call(team.readers[0], "search_code", {"query": "apply_discount", "mode": "keyword"}))
        if any("not receiving WAL" in n for n in cut_off["freshness"]["notes"]):
            break
        assert time.monotonic() < deadline, cut_off["freshness"]
        await anyio.sleep(0.2)
    timeline["readers_say_cut_off"] = time.monotonic() - started
    topology.standby.promote()
    timeline["promoted"] = time.monotonic() - started
    name = _edit(team, 200)
    await _found_everywhere(team, name, timeout=60)  # the worker found the new primary in its URL list
    timeline["edit_searchable"] = time.monotonic() - started

    conn = await asyncpg.connect(topology.standby.url())
    try:
        assert await conn.fetchval("SELECT pg_is_in_recovery()") is False
        after = await _snapshot(conn)
        assert await conn.fetchval(_DUPLICATES) == 0
        new = await conn.fetchval("SELECT count(*) FROM symbols") - symbols_before
        in_probe = await conn.fetch(
            "SELECT s.kind, s.name FROM symbols s JOIN files f ON f.id = s.file_id WHERE f.path = 'shop/probe_200.py'"
        )
        leases = await conn.fetchval("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted")
    finally:
        await conn.close()
    # The only new rows are the new file's; the worker holds its lease on the new primary.
    assert new == len(in_probe) and [r["name"] for r in in_probe if r["kind"] == "function"] == [name]
    assert leases >= 1
    # Nothing re-indexed: every file stored before the failover kept its row and its time.
    assert {p: v for p, v in after.items() if p in before} == before
    assert set(after) - set(before) == {"shop/probe_200.py"}
    for server in team.readers:  # on a primary now: no lag to state (once the last reading, 1 s at most, is old)
        deadline = time.monotonic() + 10
        while True:
            status = _data(await _call(server, "index_status", {"repository": REPO}))
            if status["replica_lag_seconds"] is None and status["notes"] == []:
                break
            assert time.monotonic() < deadline, status
            await anyio.sleep(0.3)
    print(f"failover timeline (s): {timeline}")
    assert "Traceback" not in team.worker.log.read_text()


async def test_a_second_worker_takes_over_when_the_first_dies(team: Team) -> None:
    standby_worker = _start_worker(team.topology.writer_url(), team.folder, env={"PGCODE_TOKENS": TOKEN})
    try:
        _wait_http(standby_worker.process, f"{standby_worker.base}/ready", standby_worker.log)
        killed = time.monotonic()
        team.worker.process.send_signal(signal.SIGKILL)
        team.worker.process.wait(10)
        took = await _found_everywhere(team, _edit(team, 300), timeout=60)
        print(f"edit searchable {took:.1f} s after the first worker was killed")
        assert time.monotonic() - killed < 30
        assert _stop(standby_worker.process) == 0
    finally:
        standby_worker.stop()
