"""stdout is the protocol: in stdio mode nothing but JSON-RPC ever reaches it, however the session ends."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.shared_harness import INITIALIZE, RawSession

# `pgcode serve` with a server of its own, and relaying to the shared server of its data dir.
MODES = {"own": "false", "shared": "true"}


def _serve(pg_dsn: str, tmp_path: Path, mode: str) -> RawSession:
    # An empty model cache: the model is still being built when a short session ends.
    return RawSession(
        ["--database-url", pg_dsn],
        tmp_path / "data",
        {"PGCODE_SHARED_SERVER": MODES[mode], "PGCODE_CACHE_DIR": str(tmp_path / "cache")},
    )


@pytest.mark.parametrize("mode", MODES)
def test_a_session_that_ends_before_the_model_loads_writes_only_json_rpc(
    pg_dsn: str, tmp_path: Path, mode: str
) -> None:
    session = _serve(pg_dsn, tmp_path, mode)
    session.send(INITIALIZE)
    received = session.finish()
    assert [m.get("id") for m in received] == [1]
    assert received[0]["result"]["serverInfo"]["name"] == "pgcode"


@pytest.mark.parametrize("mode", MODES)
def test_a_whole_session_writes_only_json_rpc(pg_dsn: str, tmp_path: Path, mode: str) -> None:
    session = _serve(pg_dsn, tmp_path, mode)
    session.send(INITIALIZE)
    assert session.answer(1)["result"]["serverInfo"]["name"] == "pgcode"
    session.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
    assert len(session.request(2, "tools/list")["result"]["tools"]) > 10
    listed = session.request(3, "tools/call", {"name": "list_repositories", "arguments": {}})
    assert listed["result"]["isError"] is False
    refused = session.request(4, "tools/call", {"name": "find_symbol", "arguments": {"name": "x", "limit": -5}})
    assert refused["result"]["isError"] is True
    assert [m.get("id") for m in session.finish()] == [1, 2, 3, 4]
