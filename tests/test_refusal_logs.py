"""Requests refused for a foreign Host or Origin (DNS rebinding) are answered and logged as one line each."""

from __future__ import annotations

import time
from pathlib import Path

import httpx2

from tests.mcp_harness import TOKEN, start_http_server

INITIALIZE = (
    '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18",'
    '"capabilities":{},"clientInfo":{"name":"refusal-test","version":"1"}}}'
)


def test_a_refused_host_or_origin_logs_one_line_and_no_traceback(pg_dsn: str, tmp_path: Path) -> None:
    server = start_http_server(pg_dsn, tmp_path, extra_args=("--no-watch",), env={"PGCODE_TOKENS": TOKEN})
    auth = {"Authorization": f"Bearer {TOKEN}"}
    post = {**auth, "Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
    port = server.port
    foreign_host = {"Host": f"evil.example:{port}", "Origin": f"http://evil.example:{port}"}
    foreign_origin = {"Host": f"127.0.0.1:{port}", "Origin": "http://evil.example"}
    requests = [
        ("GET", "/sse", {**auth, **foreign_host}, 421),
        ("GET", "/sse", {**auth, **foreign_origin}, 403),
        ("POST", "/mcp", {**post, **foreign_host}, 421),
        ("POST", "/mcp", {**post, **foreign_origin}, 403),
        ("GET", "/mcp", {**auth, "Accept": "text/event-stream", **foreign_host}, 421),
        ("POST", "/messages/?session_id=0123456789abcdef0123456789abcdef", {**post, **foreign_origin}, 403),
    ] * 3
    try:
        before = server.log.read_text().splitlines()
        for method, path, headers, status in requests:
            response = httpx2.request(
                method,
                server.base + path,
                headers=headers,
                timeout=30,
                content=INITIALIZE if method == "POST" else None,
            )
            assert response.status_code == status, (method, path, response.status_code, response.text)
        # The refusals change nothing for a client that is this server's own.
        assert httpx2.post(f"{server.base}/mcp", headers=post, content=INITIALIZE, timeout=30).status_code == 200
        deadline = time.monotonic() + 10
        while True:
            lines = server.log.read_text().splitlines()[len(before) :]
            refused = [line for line in lines if "request_refused" in line]
            if len(refused) >= len(requests) or time.monotonic() > deadline:
                break
            time.sleep(0.1)
    finally:
        server.stop()
    logged = "\n".join(lines)
    assert "Traceback" not in logged, logged[:3000]
    # One line per refusal and nothing else: the SDK's own warning is not repeated beside it.
    assert len(refused) == len(requests) and len(lines) == len(requests), logged[:3000]
    assert all("evil.example" in line and ("status=421" in line or "status=403" in line) for line in refused)
