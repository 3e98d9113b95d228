"""Load: 20 MCP clients over SSE and streamable HTTP on two servers and a worker sharing one database, while code is edited and indexed."""

from __future__ import annotations

import time
from pathlib import Path

import anyio

from bench import _load_driver as load
from mcp_server.config import Settings
from mcp_server.db.pool import open_database
from mcp_server.embed.model import Embedder
from mcp_server.indexer.pipeline import index_repository
from tests.conftest import write_sample_repo
from tests.test_ops import scratch_database

SECONDS = 12
CLIENTS = 20


async def test_twenty_clients_on_two_servers_and_a_worker_get_answers_while_code_changes(
    pg_dsn: str, tmp_path: Path, embedder: Embedder
) -> None:
    async with scratch_database(pg_dsn, "pgcode_load") as dsn:
        watched = write_sample_repo(tmp_path / "watched")
        side = write_sample_repo(tmp_path / "side")
        settings = Settings.load({"database_url": dsn, "data_dir": str(tmp_path / "data")}, env={})
        async with open_database(settings) as db:
            await index_repository(db, settings, watched, name="watched", embedder=embedder)
        workload = await load.build_workload(dsn, "watched")
        log = await load.postgres_log(dsn)
        log_offset = log.stat().st_size if log else 0

        with load.cluster(dsn, tmp_path, load.client_tokens(CLIENTS), index_roots=[side]) as cluster:
            deadline = time.monotonic() + 60
            while True:  # one of the three processes has claimed the watched repository
                watch = load.LeaseWatch()
                await load.watch_leases(dsn, time.monotonic() + 0.01, watch)
                if watch.holders.get("watched") == [1]:
                    break
                assert time.monotonic() < deadline, watch.summary()
                await anyio.sleep(0.2)
            before = await load.deadlocks(dsn)
            outcome = await load.run(
                load.Plan(
                    dsn=dsn,
                    cluster=cluster,
                    workload=workload,
                    watched_root=watched,
                    edit_paths=["shop/pricing.py", "shop/cart.py", "shop/session.py"],
                    side_root=side,
                    side_name="side",
                    seconds=SECONDS,
                    clients=CLIENTS,
                )
            )
            cluster.stop()  # exiting backends flush their statistics
            problems = cluster.log_problems()
        after = await load.deadlocks(dsn)

    recorder = outcome.recorder
    assert recorder.errors == 0, recorder.first_errors()
    transports = {r["transport"]: r["calls"] for r in recorder.rows("transport")}
    assert transports["http"] >= 50 and transports["sse"] >= 50, transports
    calls = {r["tool"]: r["calls"] for r in recorder.rows("tool")}
    assert len(set(calls) & set(load.MIX)) >= 12 and calls["search_code"] >= 20, calls
    assert calls["index_repository"] >= 1 and calls["remove_repository"] >= 1, calls
    assert outcome.index_rounds >= 1 and len(outcome.edits) >= SECONDS  # both kept going all along
    # The last edit, saved as the clients stopped, is searchable through both servers.
    assert set(outcome.edit_visible_s) == {s.base for s in cluster.servers}

    leases = outcome.leases.summary()
    assert leases["watched"]["samples"] >= 10
    assert leases["watched"]["one_owner"] == leases["watched"]["samples"], leases
    assert len(leases["watched"]["owners_seen"]) == 1, leases  # never handed over mid-run
    assert all(r["several_owners"] == 0 for r in leases.values()), leases
    assert leases["side"]["one_owner"] >= 1, leases  # the indexing was seen holding its lease

    assert after == before, f"{after - before} deadlocks during the run"
    assert load.log_lines_since(log, log_offset, "deadlock detected") == []
    assert problems == []
