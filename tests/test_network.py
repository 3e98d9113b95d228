"""The HTTP transport against hostile networks: slow and silent clients, and Host/Origin checks beyond loopback."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import anyio
import httpx2
import pytest
from anyio.abc import SocketStream

from mcp_server.indexer.pipeline import IndexReport
from tests.mcp_harness import TOKEN, HttpServer, connect, start_http_server

DEADLINE = 8  # the server's request_timeout_seconds in these tests
SLOW, SILENT = 150, 50
INITIALIZE = json.dumps(
    {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-06-18",
            "capabilities": {},
            "clientInfo": {"name": "network-test", "version": "1"},
        },
    }
)
MCP_HEADERS = {
    "Authorization": f"Bearer {TOKEN}",
    "Content-Type": "application/json",
    "Accept": "application/json, text/event-stream",
}


@pytest.fixture(scope="module")
def guarded_server(
    pg_dsn: str, tmp_path_factory: pytest.TempPathFactory, indexed_sample: IndexReport
) -> Iterator[HttpServer]:
    server = start_http_server(
        pg_dsn,
        tmp_path_factory.mktemp("network"),
        extra_args=("--no-watch",),
        env={"PGCODE_TOKENS": TOKEN, "PGCODE_REQUEST_TIMEOUT_SECONDS": str(DEADLINE)},
    )
    yield server
    server.stop()


async def _closed_by_server(stream: SocketStream) -> None:
    """Returns once the server closes the connection (it never answers these clients)."""
    try:
        while await stream.receive():
            pass
    except (anyio.EndOfStream, anyio.BrokenResourceError, ConnectionError, OSError):
        pass


async def _hang_on(port: int, payload: bytes, closed_at: list[float]) -> None:
    """One slowloris client: `payload` (a request head that never ends) a byte a second; nothing at
    all if it is empty. Records when the server closed the connection."""
    started = time.monotonic()
    async with await anyio.connect_tcp("127.0.0.1", port) as stream:
        async with anyio.create_task_group() as tg:

            async def trickle() -> None:
                for byte in payload:
                    try:
                        await stream.send(bytes([byte]))
                    except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
                        return
                    await anyio.sleep(1)

            tg.start_soon(trickle)
            await _closed_by_server(stream)
            tg.cancel_scope.cancel()
    closed_at.append(time.monotonic() - started)


async def test_slow_and_silent_clients_neither_starve_others_nor_stay_for_ever(
    guarded_server: HttpServer,
) -> None:
    port = guarded_server.port
    head = (
        b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + TOKEN.encode() + b"\r\nX-Pad: " + b"a" * 60
    )
    closed_at: list[float] = []
    async with anyio.create_task_group() as tg:
        for i in range(SLOW + SILENT):
            tg.start_soon(_hang_on, port, head if i < SLOW else b"", closed_at)
        await anyio.sleep(1.5)  # every socket is open and trickling (or silent)

        # Meanwhile a normal client is served promptly: the probe, and a real tool call over MCP.
        with anyio.fail_after(5):
            async with httpx2.AsyncClient() as http:
                assert (await http.get(f"{guarded_server.base}/health")).status_code == 200
            async with connect("http", server=guarded_server) as client:
                hits = await client.call_tool(
                    "search_code", {"query": "apply_discount", "mode": "keyword", "repository": "shop-shared"}
                )
        assert not hits.is_error and hits.structured_content is not None
        assert hits.structured_content["results"][0]["symbol"] == "shop.pricing.apply_discount"
        assert not closed_at, "a slow client was cut off before its deadline"  # they all still hang on

        # A body that trickles in after a complete head is cut off as well, with 408.
        async with await anyio.connect_tcp("127.0.0.1", port) as body_stream:
            await body_stream.send(
                b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer "
                + TOKEN.encode()
                + b"\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\n"
                + b"Content-Length: 400\r\n\r\n{"
            )
            answer = b""
            with anyio.fail_after(DEADLINE + 5):
                while b"\r\n\r\n" not in answer:
                    await body_stream.send(b" ")
                    with anyio.move_on_after(1):
                        answer += await body_stream.receive()
            assert answer.startswith(b"HTTP/1.1 408"), answer[:200]

        # The server closes every hanging connection once its deadline has passed.
        with anyio.fail_after(DEADLINE + 10):
            while len(closed_at) < SLOW + SILENT:
                await anyio.sleep(0.2)
    assert min(closed_at) >= DEADLINE - 0.5 and max(closed_at) < DEADLINE + 8, (min(closed_at), max(closed_at))
    # ...and is still fine afterwards.
    assert httpx2.get(f"{guarded_server.base}/health", timeout=5).status_code == 200


def test_when_bound_beyond_loopback_foreign_origins_and_hosts_are_refused_and_its_own_names_accepted(
    pg_dsn: str, tmp_path: Path
) -> None:
    server = start_http_server(
        pg_dsn,
        tmp_path,
        extra_args=("--no-watch", "--host", "0.0.0.0", "--allowed-hosts", "code.example.org"),
        env={"PGCODE_TOKENS": TOKEN},
    )
    me = socket.gethostname()
    port = server.port

    def initialize(host: str, origin: str | None = None) -> httpx2.Response:
        headers = {**MCP_HEADERS, "Host": host, **({"Origin": origin} if origin else {})}
        return httpx2.post(f"{server.base}/mcp", content=INITIALIZE, headers=headers, timeout=30)

    try:
        # A page on another site, served from a name rebound to this machine, is refused.
        assert initialize(f"127.0.0.1:{port}", "http://evil.example").status_code == 403
        assert initialize(f"{me}:{port}", f"http://evil.example:{port}").status_code == 403
        assert initialize(f"evil.example:{port}", f"http://evil.example:{port}").status_code == 421
        assert initialize("10.99.1.2").status_code == 421  # not an address of this machine
        # This machine's own name (Host and Origin), loopback and a configured name are served.
        for host, origin in (
            (f"{me}:{port}", f"http://{me}:{port}"),
            (f"127.0.0.1:{port}", None),
            ("code.example.org", "https://code.example.org"),
        ):
            accepted = initialize(host, origin)
            assert accepted.status_code == 200, (host, origin, accepted.status_code, accepted.text)
            assert "serverInfo" in accepted.text
    finally:
        server.stop()
