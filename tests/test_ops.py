"""Operating pgcode with real processes: config layers, probes, metrics, limits, readers and the worker, PgBouncer, roles, partitions, shutdown."""

from __future__ import annotations

import dataclasses
import json
import os
import pwd
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

import anyio
import asyncpg
import httpx2
import pytest
from mcp.server.mcpserver.exceptions import ToolError

from mcp_server.config import Settings, resolve
from mcp_server.db.admin import schema_file
from mcp_server.db.pool import open_database
from mcp_server.embed.model import Embedder
from mcp_server.errors import ConfigError
from mcp_server.indexer.pipeline import IndexReport, index_repository
from mcp_server.server.errors import tool_errors
from mcp_server.server.metrics import Metrics
from tests._consistency import per_file as _per_file
from tests._consistency import postgres_processes as _postgres_for
from tests._consistency import scratch_database
from tests.conftest import write_sample_repo
from tests.mcp_harness import TOKEN, HttpServer, connect, free_port, server_env, start_http_server

OTHER_TOKEN = "second-token-91c2"
ROOT = Path(__file__).parent.parent
READY_SECONDS = 90


# --- helpers ----------------------------------------------------------------------------------


def _run(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mcp_server", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={**server_env(), **(env or {})},
        stdin=subprocess.DEVNULL,
    )


def _data(result: Any) -> dict[str, Any]:
    assert not result.is_error, result.content[0].text if result.content else result
    if result.structured_content is not None:
        return result.structured_content
    return json.loads(result.content[0].text)


def _with_database(dsn: str, database: str, *, user: str | None = None) -> str:
    parts = urlsplit(dsn)
    netloc = parts.netloc
    if user is not None:
        netloc = f"{user}:@{netloc.rsplit('@', 1)[1]}" if "@" in netloc else f"{user}:@{netloc}"
    return urlunsplit((parts.scheme, netloc, f"/{database}", parts.query, parts.fragment))


def _settings(dsn: str, tmp: Path, **extra: Any) -> Settings:
    return Settings.load({"database_url": dsn, "data_dir": tmp / "data", **extra}, env={})


async def _index_sample(dsn: str, root: Path, name: str, tmp: Path, embedder: Embedder | None) -> IndexReport:
    settings = _settings(dsn, tmp)
    async with open_database(settings) as db:
        return await index_repository(db, settings, root, name=name, embedder=embedder)


def _spawn(args: list[str], log: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    with open(log, "wb") as fh:
        return subprocess.Popen(
            [sys.executable, "-m", "mcp_server", *args],
            stdout=fh,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=server_env(env),
        )


def _wait_http(
    process: subprocess.Popen[bytes], url: str, log: Path, *, want: int = 200, timeout: float = READY_SECONDS
) -> httpx2.Response:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode}: {log.read_text()[-3000:]}")
        try:
            last = httpx2.get(url, timeout=3)
            if last.status_code == want:
                return last
        except httpx2.HTTPError as exc:
            last = exc
        time.sleep(0.2)
    raise AssertionError(
        f"{url} did not answer {want} within {timeout}s (last: {last}); log: {log.read_text()[-3000:]}"
    )


def _start_worker(dsn: str, tmp: Path, *, env: dict[str, str] | None = None) -> HttpServer:
    port = free_port()
    log = tmp / f"worker-{port}.log"
    process = _spawn(["--database-url", dsn, "worker", "--metrics-port", str(port)], log, env)
    worker = HttpServer(process, port, log)
    try:
        _wait_http(process, f"{worker.base}/health", log)
    except BaseException:
        worker.stop()
        raise
    return worker


def _stop(process: subprocess.Popen[bytes], *, within: float = 15) -> int:
    """SIGTERM, then the exit code, which must come within `within` seconds."""
    process.send_signal(signal.SIGTERM)
    try:
        return process.wait(within)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)
        raise AssertionError(f"the process did not stop within {within}s of SIGTERM") from None


def _samples(text: str, name: str) -> dict[str, float]:
    """Prometheus text -> {labels: value} for one metric name ('' for no labels)."""
    found: dict[str, float] = {}
    for line in text.splitlines():
        match = re.match(rf"^{re.escape(name)}(\{{[^}}]*\}})? (\S+)$", line)
        if match:
            found[match.group(1) or ""] = float(match.group(2))
    return found


def _metrics(base: str, token: str | None = TOKEN) -> str:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = httpx2.get(f"{base}/metrics", headers=headers, timeout=10)
    assert response.status_code == 200, response.text
    return response.text


# --- configuration layers ----------------------------------------------------------------------


def test_settings_layers_defaults_file_env_flags_and_name_the_source_of_errors(tmp_path: Path) -> None:
    config = tmp_path / "pgcode.toml"
    config.write_text(
        'hnsw_ef_search = 200\nport = 9000\nlog_level = "info"\ntokens = ["file-a", "file-b"]\n'
        '[pgcode]\ntoken_file = "tokens.txt"\nread_only = true\n'
    )
    env = {"PGCODE_PORT": "9100", "PGCODE_LOG_LEVEL": "error"}
    resolved = resolve({"log_level": "debug"}, env, config_file=config)
    s = resolved.settings
    assert (s.hnsw_ef_search, s.port, s.log_level, s.read_only) == (200, 9100, "debug", True)
    assert s.tokens == "file-a,file-b" and s.token_file == str(tmp_path / "tokens.txt")  # relative to the file
    assert s.hnsw_m == 16  # untouched default
    assert resolved.sources["hnsw_ef_search"] == f"file {config}"
    assert resolved.sources["port"] == "env PGCODE_PORT"
    assert resolved.sources["log_level"] == "flag --log-level"
    assert resolved.sources["hnsw_m"] == "default"
    # The file can also come from PGCODE_CONFIG; a flag-given file wins over it.
    assert Settings.load(env={"PGCODE_CONFIG": str(config)}).hnsw_ef_search == 200
    # The deploy kit's ConfigMap is a valid pgcode config file.
    configmap = (ROOT / "deploy" / "kubernetes" / "configmap.yaml").read_text()
    toml_text = configmap.split("pgcode.toml: |\n", 1)[1]
    k8s = tmp_path / "k8s.toml"
    k8s.write_text("\n".join(line[4:] for line in toml_text.splitlines()))
    assert Settings.load(env={}, config_file=k8s).host == "0.0.0.0"

    bad = tmp_path / "bad.toml"
    cases = [
        ("hnsw_ef_serch = 100\n", ["unknown setting 'hnsw_ef_serch'", str(bad)]),
        ('port = "8765"\n', ["port expects an integer", str(bad)]),
        ("hnsw_m = 1000\n", ["hnsw_m = 1000", "between 2 and 100", f"file {bad}"]),
        ("embedding_quantize = 1\n", ["embedding_quantize expects true or false"]),
        ("[elsewhere]\nport = 1\n", ["unknown setting 'elsewhere'"]),
        ("port = \n", ["not valid TOML"]),
    ]
    for text, needles in cases:
        bad.write_text(text)
        with pytest.raises(ConfigError) as caught:
            resolve({}, {}, config_file=bad)
        assert all(n in str(caught.value) for n in needles), (text, str(caught.value))
    with pytest.raises(ConfigError, match="env PGCODE_RATE_LIMIT_PER_MINUTE"):
        resolve({}, {"PGCODE_RATE_LIMIT_PER_MINUTE": "-1"})
    with pytest.raises(ConfigError, match="flag --max-request-bytes"):
        resolve({"max_request_bytes": 10}, {})
    with pytest.raises(ConfigError, match="does not exist"):
        resolve({}, {"PGCODE_CONFIG": str(tmp_path / "absent.toml")})


def test_config_show_prints_every_value_with_its_source_and_masks_secrets(tmp_path: Path) -> None:
    config = tmp_path / "pgcode.toml"
    config.write_text('hnsw_ef_search = 200\n[pgcode]\ntokens = "file-secret-1"\n')
    env = {
        "PGCODE_CONFIG": str(config),
        "PGCODE_HNSW_M": "24",
        "PGCODE_TOKENS": "env-secret-1,env-secret-2",
        "PGCODE_DATABASE_URL": "postgresql://loser:envpw@elsewhere/db",
    }  # the flag beats it
    url = "postgresql://pgcode_reader:hunter2pw@db.example:6432/pgcode?sslmode=require"
    shown = _run("--database-url", url, "config", "show", "--json", env=env)
    assert shown.returncode == 0, shown.stderr
    payload = json.loads(shown.stdout)
    rows = payload["settings"]
    assert payload["config_file"] == str(config)
    assert rows["hnsw_ef_search"] == {"value": 200, "source": f"file {config}"}
    assert rows["hnsw_m"] == {"value": 24, "source": "env PGCODE_HNSW_M"}
    assert rows["database_url"]["source"] == "flag --database-url"
    assert rows["database_url"]["value"] == "postgresql://pgcode_reader:***@db.example:6432/pgcode?sslmode=require"
    assert rows["tokens"] == {"value": "*** (2 tokens)", "source": "env PGCODE_TOKENS"}
    assert rows["port"] == {"value": 8765, "source": "default"}
    assert set(rows) == {f.name for f in dataclasses.fields(Settings)}  # every setting, none forgotten
    for secret in ("hunter2pw", "env-secret-1", "file-secret-1", "envpw"):
        assert secret not in shown.stdout

    text = _run("--database-url", url, "config", "show", env=env)
    assert text.returncode == 0 and "hunter2pw" not in text.stdout and "env-secret" not in text.stdout
    assert re.search(r"^hnsw_m\s+24\s+env PGCODE_HNSW_M$", text.stdout, re.MULTILINE)
    assert re.search(rf"^hnsw_ef_search\s+200\s+file {re.escape(str(config))}$", text.stdout, re.MULTILINE)
    assert re.search(r"^database_url\s+\S+\s+flag --database-url$", text.stdout, re.MULTILINE)

    config.write_text("hnsw_ef_search = 0\n")
    bad = _run("config", "show", env={"PGCODE_CONFIG": str(config)})
    assert bad.returncode == 2 and bad.stderr.startswith("error: ") and "hnsw_ef_search" in bad.stderr
    assert str(config) in bad.stderr and "Traceback" not in bad.stderr
    missing = _run("--config", str(tmp_path / "nope.toml"), "status")
    assert missing.returncode == 2 and "nope.toml" in missing.stderr and "Traceback" not in missing.stderr


def test_bad_operational_commands_exit_2_with_a_sentence(pg_dsn: str) -> None:
    pooled = _run("--database-url", pg_dsn, "--pgbouncer", "serve", "--transport", "http")
    assert pooled.returncode == 2 and "advisory locks" in pooled.stderr and "--read-only" in pooled.stderr
    worker = _run("--database-url", pg_dsn, "--pgbouncer", "worker")
    assert worker.returncode == 2 and "directly" in worker.stderr and "Traceback" not in worker.stderr
    index = _run("--database-url", pg_dsn, "index", ".", env={"PGCODE_READ_ONLY": "true"})
    assert index.returncode == 2 and "read_only" in index.stderr
    partitions = _run("--database-url", pg_dsn, "db", "partition", "--partitions", "0")
    assert partitions.returncode == 2 and "between 1 and 1024" in partitions.stderr


async def test_a_read_only_server_refuses_a_database_older_than_its_code(pg_dsn: str, tmp_path: Path) -> None:
    async with scratch_database(pg_dsn, "pgcode_ops_unmigrated") as dsn:
        started = time.monotonic()
        refused = await anyio.to_thread.run_sync(
            lambda: _run(
                "--database-url", dsn, "serve", "--read-only", "--transport", "http", "--port", str(free_port())
            )
        )
        assert refused.returncode == 2, refused.stderr
        assert "not migrated" in refused.stderr and "pgcode db migrate" in refused.stderr
        assert "Traceback" not in refused.stderr and time.monotonic() - started < 60
        migrated = await anyio.to_thread.run_sync(lambda: _run("--database-url", dsn, "db", "migrate"))
        assert migrated.returncode == 0, migrated.stderr


def test_ready_is_503_with_the_reason_while_the_model_cannot_load(
    pg_dsn: str, tmp_path: Path, indexed_sample: IndexReport
) -> None:
    server = start_http_server(
        pg_dsn, tmp_path, extra_args=("--no-watch",), env={"PGCODE_EMBEDDING_MODEL": "pgcode-test/no-such-model"}
    )
    try:
        deadline = time.monotonic() + READY_SECONDS
        while True:
            response = httpx2.get(f"{server.base}/ready", timeout=10)
            checks = response.json()["checks"]
            if checks["model"]["detail"] != "loading":
                break
            assert time.monotonic() < deadline
            time.sleep(0.2)
        assert response.status_code == 503 and response.json()["status"] == "not_ready"
        assert checks["model"]["ok"] is False and "no-such-model" in checks["model"]["detail"]
        assert checks["database"]["ok"] and checks["migrations"]["ok"]
        assert httpx2.get(f"{server.base}/health").status_code == 200
    finally:
        server.stop()


def test_a_statement_timeout_comes_back_as_a_tool_error(pg_dsn: str) -> None:
    @tool_errors
    async def slow_tool(server_side: bool) -> None:
        conn = await asyncpg.connect(pg_dsn, statement_cache_size=0)
        try:
            if server_side:
                await conn.execute("SET statement_timeout = 100")
                await conn.fetchval("SELECT pg_sleep(5)")
            else:  # the client-side timeout used behind PgBouncer
                await conn.fetchval("SELECT pg_sleep(5)", timeout=0.2)
        finally:
            await conn.close()

    for server_side in (True, False):
        with pytest.raises(ToolError, match="longer than the server's statement timeout"):
            anyio.run(slow_tool, server_side)


# --- HTTP: /health, /ready, /metrics, tokens, limits -----------------------------------------------


@pytest.fixture(scope="module")
def ops_server(
    pg_dsn: str, tmp_path_factory: pytest.TempPathFactory, indexed_sample: IndexReport
) -> Iterator[HttpServer]:
    tmp = tmp_path_factory.mktemp("ops")
    token_file = tmp / "tokens.txt"
    token_file.write_text(f"{TOKEN}\n{OTHER_TOKEN}\n")
    server = start_http_server(
        pg_dsn,
        tmp,
        token_file=token_file,
        extra_args=("--rate-limit-per-minute", "40", "--max-request-bytes", "8192", "--no-watch"),
    )
    yield server
    server.stop()


def test_probes_need_no_token_and_pass_the_host_check(ops_server: HttpServer) -> None:
    ready = _wait_http(ops_server.process, f"{ops_server.base}/ready", ops_server.log)
    body = ready.json()
    assert body["status"] == "ready"
    assert {k: v["ok"] for k, v in body["checks"].items()} == {"database": True, "migrations": True, "model": True}
    assert body["checks"]["migrations"]["detail"] == "current"
    # A Kubernetes probe sends the pod's IP as Host: the ops paths are not behind the MCP host check.
    pod = {"Host": "10.42.7.13:8765"}
    assert httpx2.get(f"{ops_server.base}/health", headers=pod).status_code == 200
    assert httpx2.get(f"{ops_server.base}/ready", headers=pod).status_code == 200
    scrape = httpx2.get(f"{ops_server.base}/metrics", headers={**pod, "Authorization": f"Bearer {TOKEN}"})
    assert scrape.status_code == 200
    # ...while the MCP transport still refuses it.
    rebinding = httpx2.post(f"{ops_server.base}/mcp", json={}, headers={**pod, "Authorization": f"Bearer {TOKEN}"})
    assert rebinding.status_code == 421


async def test_metrics_count_and_time_tool_calls_and_require_the_token(ops_server: HttpServer) -> None:
    assert httpx2.get(f"{ops_server.base}/metrics").status_code == 401
    assert httpx2.get(f"{ops_server.base}/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    before = _metrics(ops_server.base)
    ok_before = _samples(before, "pgcode_tool_requests_total").get('{status="ok",tool="search_code"}', 0.0)
    async with connect("http", server=ops_server) as client:
        for _ in range(2):
            _data(
                await client.call_tool(
                    "search_code", {"query": "apply_discount", "mode": "keyword", "repository": "shop-shared"}
                )
            )
        failed = await client.call_tool("get_symbol", {"symbol": "no.such.symbol"})
        assert failed.is_error
    after = _metrics(ops_server.base)
    requests = _samples(after, "pgcode_tool_requests_total")
    assert requests['{status="ok",tool="search_code"}'] == ok_before + 2
    assert requests['{status="error",tool="get_symbol"}'] >= 1
    assert requests['{status="error",tool="call_path"}'] == 0  # every tool's series exists from the start
    assert _samples(after, "pgcode_tool_latency_seconds_count")['{tool="search_code"}'] >= 2
    assert '{le="0.5",tool="search_code"}' in _samples(after, "pgcode_tool_latency_seconds_bucket")
    assert _samples(after, "pgcode_db_pool_max_size")[""] == 8
    assert "" in _samples(after, "pgcode_db_pool_in_use")
    assert _samples(after, "pgcode_vectors_pending")['{repository="shop-shared"}'] == 0
    assert _samples(after, "pgcode_watcher_lag_seconds")[""] == 0
    assert "" in _samples(after, "pgcode_index_queue_depth")
    assert "" in _samples(after, "pgcode_embed_chunks_total")
    assert _samples(after, "process_resident_memory_bytes")[""] > 10_000_000
    assert "# TYPE pgcode_tool_latency_seconds histogram" in after


async def test_the_pool_gauges_count_connections_in_use_and_requests_waiting_for_one(
    pg_dsn: str, tmp_path: Path
) -> None:
    settings = _settings(pg_dsn, tmp_path, pool_max_size=1)
    async with open_database(settings) as db:
        metrics = Metrics(role="server")
        metrics.bind(db, None, "model")

        def gauge(name: str) -> float:
            return _samples(metrics.exposition().decode(), name)[""]

        assert (gauge("pgcode_db_pool_in_use"), gauge("pgcode_db_pool_waiting")) == (0, 0)
        async with db.pool.acquire():
            assert gauge("pgcode_db_pool_in_use") == 1
            async with anyio.create_task_group() as tg:

                async def wait_for_one() -> None:
                    async with db.pool.acquire() as conn:
                        await conn.fetchval("SELECT 1")

                tg.start_soon(wait_for_one)
                tg.start_soon(wait_for_one)
                deadline = time.monotonic() + 5
                while gauge("pgcode_db_pool_waiting") < 2:
                    assert time.monotonic() < deadline, "the waiting acquires were not counted"
                    await anyio.sleep(0.01)
                assert gauge("pgcode_db_pool_max_size") == 1
                tg.cancel_scope.cancel()
        assert gauge("pgcode_db_pool_waiting") == 0


def test_oversized_bodies_get_413_before_they_are_read(ops_server: HttpServer) -> None:
    auth = {
        "Authorization": f"Bearer {TOKEN}",
        "Content-Type": "application/json",
        "Accept": "application/json, text/event-stream",
    }
    big = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "ping", "params": {"pad": "x" * 9000}}).encode()
    declared = httpx2.post(f"{ops_server.base}/mcp", content=big, headers=auth)
    assert declared.status_code == 413 and "8192" in declared.json()["detail"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: the server counts what streams in
        for i in range(0, len(big), 1000):
            yield big[i : i + 1000]

    streamed = httpx2.post(f"{ops_server.base}/mcp", content=chunks(), headers=auth)
    assert streamed.status_code == 413
    assert httpx2.get(f"{ops_server.base}/health").status_code == 200


def test_a_token_over_its_rate_gets_429_with_retry_after_and_others_do_not(ops_server: HttpServer) -> None:
    def post(token: str) -> httpx2.Response:
        return httpx2.post(f"{ops_server.base}/mcp", json={}, headers={"Authorization": f"Bearer {token}"})

    limited = None
    for _ in range(60):  # a bucket of 40
        response = post(OTHER_TOKEN)
        if response.status_code == 429:
            limited = response
            break
    assert limited is not None, "40 requests a minute were never enforced"
    assert 1 <= int(limited.headers["Retry-After"]) <= 2  # one token refills in 1.5 s at 40/min
    assert limited.json()["error"] == "rate_limited"
    assert post(TOKEN).status_code != 429  # per token
    # Probes and scrapes are never limited.
    assert httpx2.get(f"{ops_server.base}/ready").status_code == 200
    assert (
        httpx2.get(f"{ops_server.base}/metrics", headers={"Authorization": f"Bearer {OTHER_TOKEN}"}).status_code == 200
    )


# --- read-only servers and the worker ------------------------------------------------------------


async def test_a_worker_indexes_what_a_read_only_server_serves(pg_dsn: str, tmp_path: Path, embedder: Embedder) -> None:
    async with scratch_database(pg_dsn, "pgcode_ops_split") as dsn:
        root = write_sample_repo(tmp_path / "split")
        await _index_sample(dsn, root, "split", tmp_path, embedder)
        worker = _start_worker(dsn, tmp_path, env={"PGCODE_TOKENS": TOKEN})
        reader = start_http_server(dsn, tmp_path, extra_args=("--read-only",), env={"PGCODE_TOKENS": TOKEN})
        try:
            ready = _wait_http(worker.process, f"{worker.base}/ready", worker.log).json()
            assert ready["checks"]["migrations"]["ok"] and ready["checks"]["model"]["ok"]
            assert httpx2.get(f"{worker.base}/metrics").status_code == 401
            assert httpx2.post(f"{worker.base}/mcp", json={}).status_code in (401, 404)  # no MCP on the worker
            _wait_http(reader.process, f"{reader.base}/ready", reader.log)

            (root / "shop" / "loyalty.py").write_text(
                "def award_loyalty_points(order_total):\n    \"\"\"Points earned for an order.\"\"\"\n"
                "    return int(order_total // 10)\n"
            )
            async with connect("http", server=reader) as client:
                refused = await client.call_tool("index_repository", {"path": str(root), "name": "split"})
                assert refused.is_error and "read-only" in refused.content[0].text
                assert "pgcode worker" in refused.content[0].text
                removed = await client.call_tool("remove_repository", {"repository": "split"})
                assert removed.is_error and "read-only" in removed.content[0].text
                listed = _data(await client.call_tool("list_repositories", {}))
                assert [r["repository"] for r in listed["repositories"]] == ["split"]
                status = _data(await client.call_tool("index_status", {"repository": "split"}))
                assert status["repositories"][0]["files"] >= 16

                deadline = anyio.current_time() + 30
                while True:
                    found = _data(
                        await client.call_tool(
                            "search_code", {"query": "award_loyalty_points", "mode": "keyword", "repository": "split"}
                        )
                    )
                    if found["results"] and found["results"][0]["symbol"] == "shop.loyalty.award_loyalty_points":
                        break
                    assert anyio.current_time() < deadline, "the edit never became searchable through the reader"
                    await anyio.sleep(0.3)

            deadline = time.monotonic() + 30
            while True:  # the worker embeds the new chunk in the background
                scraped = _metrics(worker.base)
                if _samples(scraped, "pgcode_embed_chunks_total").get("", 0) >= 1:
                    break
                assert time.monotonic() < deadline, scraped
                await anyio.sleep(0.3)
            assert _samples(scraped, "pgcode_info")['{role="worker",version="0.1.0"}'] == 1
            assert '{role="reader",version="0.1.0"}' in _samples(_metrics(reader.base), "pgcode_info")

            # Indexing stalls (the files table is locked): the queue and the watcher lag show it.
            blocker = await asyncpg.connect(dsn)
            try:
                async with blocker.transaction():
                    await blocker.execute("LOCK TABLE files IN ACCESS EXCLUSIVE MODE")
                    (root / "shop" / "late.py").write_text("def late_edit():\n    return 1\n")
                    deadline = time.monotonic() + 20
                    while True:
                        scraped = _metrics(worker.base)
                        lag = _samples(scraped, "pgcode_watcher_lag_seconds")[""]
                        if lag >= 1.5:
                            break
                        assert time.monotonic() < deadline, scraped
                        await anyio.sleep(0.2)
                    assert _samples(scraped, "pgcode_files_pending")['{repository="split"}'] >= 1
                    assert _samples(scraped, "pgcode_index_queue_depth")[""] >= 1
            finally:
                await blocker.close()
            deadline = time.monotonic() + 30
            while True:  # unblocked: the change is stored and the lag falls back to 0
                scraped = _metrics(worker.base)
                if _samples(scraped, "pgcode_watcher_lag_seconds")[""] == 0 and _samples(
                    scraped, "pgcode_files_pending"
                ) == {'{repository="split"}': 0.0}:
                    break
                assert time.monotonic() < deadline, scraped
                await anyio.sleep(0.2)

            assert _stop(reader.process) == 0
            assert _stop(worker.process) == 0
            assert "Traceback" not in worker.log.read_text()
        finally:
            worker.stop()
            reader.stop()


def _bouncer_user(socket_dir: str | None) -> str | None:
    """PgBouncer refuses to run as root: run it as the owner of the server's socket folder."""
    if os.geteuid() != 0:
        return None
    if socket_dir:
        owner = pwd.getpwuid(os.stat(socket_dir).st_uid).pw_name
        if owner != "root":
            return owner
    return "nobody"


@pytest.fixture
def pgbouncer(pg_dsn: str, tmp_path: Path) -> Iterator[tuple[int, subprocess.Popen[bytes], Path]]:
    """A real PgBouncer in transaction pooling mode in front of the test database, with two server
    connections for many clients: consecutive transactions of one client land on either."""
    binary = shutil.which("pgbouncer") or next(
        (p for p in ("/usr/sbin/pgbouncer", "/usr/bin/pgbouncer") if os.path.exists(p)), None
    )
    if binary is None:
        pytest.fail(
            "pgbouncer is not installed: `apt-get install -y pgbouncer` (the PgBouncer tests must not be skipped)"
        )
    parts = urlsplit(pg_dsn)
    query = parse_qs(parts.query)
    socket_dir = query.get("host", [None])[0]
    host = socket_dir or parts.hostname or "127.0.0.1"
    port = int(query.get("port", [parts.port or 5432])[0])
    user = parts.username or "postgres"
    database = parts.path.lstrip("/") or user
    folder = tmp_path / "pgbouncer"
    folder.mkdir()
    (folder / "userlist.txt").write_text(f'"{user}" "{parts.password or ""}"\n')
    listen = free_port()
    run_as = _bouncer_user(socket_dir)
    (folder / "pgbouncer.ini").write_text(
        f"[databases]\npgcode = host={host} port={port} dbname={database}\n\n"
        "[pgbouncer]\n"
        f"listen_addr = 127.0.0.1\nlisten_port = {listen}\nunix_socket_dir =\n"
        f"auth_type = trust\nauth_file = {folder / 'userlist.txt'}\n"
        "pool_mode = transaction\ndefault_pool_size = 2\nreserve_pool_size = 0\nmax_client_conn = 200\n"
        "query_wait_timeout = 30\n" + (f"user = {run_as}\n" if run_as else "")
    )
    log = folder / "pgbouncer.log"
    with open(log, "wb") as fh:
        process = subprocess.Popen(
            [binary, str(folder / "pgbouncer.ini")], stdout=fh, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and "listening on" not in log.read_text():
        assert process.poll() is None, f"pgbouncer exited: {log.read_text()}"
        time.sleep(0.1)
    assert "listening on" in log.read_text(), log.read_text()
    try:
        yield listen, process, log
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(10)


async def test_a_read_only_server_works_through_pgbouncer_in_transaction_mode(
    pgbouncer: tuple[int, subprocess.Popen[bytes], Path], indexed_sample: IndexReport, tmp_path: Path
) -> None:
    port, bouncer, bouncer_log = pgbouncer
    url = f"postgresql://postgres@127.0.0.1:{port}/pgcode"

    # The failure this guards against: asyncpg's default named prepared statement, made on one server
    # connection, is unknown on the next one transaction pooling hands the client.
    first, second = await asyncpg.connect(url), await asyncpg.connect(url)
    try:
        await first.fetchval("SELECT count(*) FROM repositories")  # prepared on the one server connection
        async with second.transaction():  # ...which the second client now holds
            await second.fetchval("SELECT 1")
            with pytest.raises(asyncpg.InvalidSQLStatementNameError):
                await first.fetchval("SELECT count(*) FROM repositories")  # so this runs on another
    finally:
        await first.close()
        await second.close()

    server = start_http_server(
        url, tmp_path, extra_args=("--read-only",), env={"PGCODE_PGBOUNCER": "true", "PGCODE_TOKENS": TOKEN}
    )
    try:
        _wait_http(server.process, f"{server.base}/ready", server.log)

        async def client_session(n: int) -> None:
            async with connect("http", server=server) as client:
                for _ in range(4):
                    hits = _data(
                        await client.call_tool(
                            "search_code",
                            {"query": "sign a cookie value with a secret key", "repository": "shop-shared", "limit": 3},
                        )
                    )
                    assert hits["results"][0]["symbol"] == "shop.session.sign_cookie"
                    assert hits["freshness"]["vectors_complete"] is True
                    callers = _data(
                        await client.call_tool(
                            "find_callers", {"symbol": "shop.pricing.apply_discount", "repository": "shop-shared"}
                        )
                    )
                    assert "shop.cart.DiscountCart.total" in {e["source"] for e in callers["edges"]}
                if n == 0:
                    refused = await client.call_tool("index_repository", {"path": "/tmp", "name": "nope"})
                    assert refused.is_error and "read-only" in refused.content[0].text
                    _data(await client.call_tool("index_status", {"repository": "shop-shared"}))

        async with anyio.create_task_group() as tg:  # concurrent sessions: the pool uses several connections
            for n in range(4):
                tg.start_soon(client_session, n)
        scraped = _metrics(server.base)
        assert _samples(scraped, "pgcode_tool_requests_total")['{status="ok",tool="search_code"}'] == 16
        assert _samples(scraped, "pgcode_tool_requests_total")['{status="error",tool="search_code"}'] == 0
        assert "Traceback" not in server.log.read_text()

        # The database goes away (PgBouncer stops): not ready, with the reason; still alive.
        bouncer.terminate()
        bouncer.wait(10)
        deadline = time.monotonic() + 20
        while True:
            response = httpx2.get(f"{server.base}/ready", timeout=10)
            if response.status_code == 503:
                break
            assert time.monotonic() < deadline, response.text
            await anyio.sleep(0.2)
        body = response.json()
        assert body["status"] == "not_ready" and body["checks"]["database"]["ok"] is False
        assert body["checks"]["database"]["detail"] and body["checks"]["model"]["ok"] is True
        assert httpx2.get(f"{server.base}/health").status_code == 200
        assert _stop(server.process) == 0
    finally:
        server.stop()
    assert "prepared statement" not in bouncer_log.read_text()


# --- database roles and partitioning -------------------------------------------------------------


def test_the_deploy_roles_script_carries_roles_sql_verbatim() -> None:
    deploy = (ROOT / "deploy" / "postgres" / "init" / "01-roles.sql").read_text()
    block = deploy.split("-- BEGIN mcp_server/schema/roles.sql\n", 1)[1].split("-- END mcp_server/schema/roles.sql", 1)[
        0
    ]
    assert block == schema_file("roles.sql")


async def test_the_reader_role_can_only_read_and_serves_a_read_only_server(
    pg_dsn: str, tmp_path: Path, embedder: Embedder
) -> None:
    admin = await asyncpg.connect(pg_dsn)
    try:
        assert await admin.fetchval("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
        existed = await admin.fetchval(
            "SELECT count(*) FROM pg_roles WHERE rolname IN ('pgcode_writer', 'pgcode_reader')"
        )
    finally:
        await admin.close()
    try:
        async with scratch_database(pg_dsn, "pgcode_ops_roles") as dsn:
            roles = await anyio.to_thread.run_sync(
                lambda: _run(
                    "--database-url",
                    dsn,
                    "db",
                    "roles",
                    env={"PGCODE_WRITER_PASSWORD": "writer-pw-123", "PGCODE_READER_PASSWORD": "reader-pw-123"},
                )
            )
            assert roles.returncode == 0, roles.stderr
            writer_dsn = _with_database(dsn, "pgcode_ops_roles", user="pgcode_writer")
            reader_dsn = _with_database(dsn, "pgcode_ops_roles", user="pgcode_reader")
            migrated = await anyio.to_thread.run_sync(lambda: _run("--database-url", writer_dsn, "db", "migrate"))
            assert migrated.returncode == 0, migrated.stderr
            root = write_sample_repo(tmp_path / "roles")
            await _index_sample(writer_dsn, root, "roles", tmp_path, embedder)

            reader = await asyncpg.connect(reader_dsn)
            try:
                assert await reader.fetchval("SELECT count(*) FROM files") >= 16
                assert await reader.fetchval("SELECT count(*) FROM embeddings") > 0
                assert await reader.fetchval("SHOW statement_timeout") == "30s"
                writes = [
                    "INSERT INTO repositories (name, root_path) VALUES ('x', '/x')",
                    "UPDATE files SET size = 0",
                    "DELETE FROM chunks",
                    "CREATE TABLE intruder (id int)",
                ]
                for sql in writes:  # refused twice over: read-only transactions, and no privilege
                    with pytest.raises(asyncpg.ReadOnlySQLTransactionError):
                        await reader.execute(sql)
                await reader.execute("SET default_transaction_read_only = off")
                for sql in writes:
                    with pytest.raises(asyncpg.InsufficientPrivilegeError):
                        await reader.execute(sql)
                with pytest.raises(asyncpg.InsufficientPrivilegeError):
                    await reader.execute("DROP TABLE chunks")
            finally:
                await reader.close()

            server = start_http_server(reader_dsn, tmp_path, extra_args=("--read-only",), env={"PGCODE_TOKENS": TOKEN})
            try:
                _wait_http(server.process, f"{server.base}/ready", server.log)
                async with connect("http", server=server) as client:
                    hits = _data(
                        await client.call_tool(
                            "search_code",
                            {"query": "where is the session cookie signed", "repository": "roles", "limit": 3},
                        )
                    )
                    # sign_cookie and verify_cookie (which calls it on a `signed` value) score
                    # within .01 of each other: the reader answers, its ranking is the bench's job
                    assert "shop.session.sign_cookie" in [h["symbol"] for h in hits["results"][:2]]
                    callers = _data(await client.call_tool("find_callers", {"symbol": "shop.pricing.apply_discount"}))
                    assert callers["edges"]
                    refused = await client.call_tool("remove_repository", {"repository": "roles"})
                    assert refused.is_error and "read-only" in refused.content[0].text
            finally:
                server.stop()
    finally:
        if not existed:
            admin = await asyncpg.connect(pg_dsn)
            try:
                await admin.execute("DROP ROLE IF EXISTS pgcode_reader")
                await admin.execute("DROP ROLE IF EXISTS pgcode_writer")
            finally:
                await admin.close()


async def _graph_answers(client: Any) -> dict[str, Any]:
    """What the sample's searches and graph queries answer, order-insensitive where ties may reorder."""
    repo = {"repository": "parted"}
    keyword = _data(await client.call_tool("search_code", {"query": "apply_discount", "mode": "keyword", **repo}))
    semantic = _data(
        await client.call_tool("search_code", {"query": "sign a cookie value with a secret key", "limit": 3, **repo})
    )
    callers = _data(await client.call_tool("find_callers", {"symbol": "shop.pricing.apply_discount", **repo}))
    callees = _data(
        await client.call_tool("find_callees", {"symbol": "shop.cart.DiscountCart.checkout", "depth": 3, **repo})
    )
    path = _data(
        await client.call_tool(
            "call_path", {"source": "shop.cart.DiscountCart.checkout", "target": "shop.pricing.add_tax", **repo}
        )
    )
    refs = _data(await client.call_tool("find_references", {"symbol": "shop.cart.Cart", **repo}))
    detail = _data(await client.call_tool("get_symbol", {"symbol": "shop.session.sign_cookie", **repo}))
    outline = _data(await client.call_tool("file_outline", {"path": "shop/cart.py", **repo}))
    impact = _data(await client.call_tool("impact_analysis", {"path": "shop/pricing.py", **repo}))
    return {
        "keyword": sorted((h["path"], h["start_line"], h["symbol"]) for h in keyword["results"]),
        "semantic_top": semantic["results"][0]["symbol"],
        "callers": sorted((e["source"], e["line"], e["confidence"]) for e in callers["edges"]),
        "callees": sorted(n["qualified_name"] for n in callees["nodes"]),
        "path": [n["qualified_name"] for n in path["paths"][0]["nodes"]],
        "refs": sorted((r["kind"], r["path"], r["line"]) for r in refs["references"]),
        "detail": (detail["source"], detail["docstring"], detail["start_line"]),
        "outline": [(s["name"], s["start_line"]) for s in outline["symbols"]],
        "impact": impact["summary"],
    }


async def test_hash_partitioning_keeps_every_row_index_and_answer(
    pg_dsn: str, tmp_path: Path, embedder: Embedder
) -> None:
    async with scratch_database(pg_dsn, "pgcode_ops_partition") as dsn:
        root = write_sample_repo(tmp_path / "parted")
        await _index_sample(dsn, root, "parted", tmp_path, embedder)
        conn = await asyncpg.connect(dsn)
        try:
            counts = {t: await conn.fetchval(f"SELECT count(*) FROM {t}") for t in ("symbols", "edges", "chunks")}
            indexes = {
                r["indexname"]
                for r in await conn.fetch(
                    "SELECT indexname FROM pg_indexes WHERE tablename = ANY($1::text[])", ["symbols", "edges", "chunks"]
                )
            }
            await conn.execute("GRANT SELECT ON chunks TO PUBLIC")  # privileges must survive
        finally:
            await conn.close()

        # A read-only server stays up through the change: its readers wait on the locks, then go on.
        server = start_http_server(dsn, tmp_path, extra_args=("--read-only",), env={"PGCODE_TOKENS": TOKEN})
        try:
            _wait_http(server.process, f"{server.base}/ready", server.log)
            async with connect("http", server=server) as client:
                before = await _graph_answers(client)

            parted = await anyio.to_thread.run_sync(
                lambda: _run("--database-url", dsn, "db", "partition", "--partitions", "4")
            )
            assert parted.returncode == 0, parted.stderr
            assert "4 partitions" in parted.stderr

            async with connect("http", server=server) as client:
                assert await _graph_answers(client) == before
        finally:
            server.stop()

        conn = await asyncpg.connect(dsn)
        try:
            for table, count in counts.items():
                assert await conn.fetchval("SELECT relkind::text FROM pg_class WHERE oid = $1::regclass", table) == "p"
                assert (
                    await conn.fetchval("SELECT count(*) FROM pg_inherits WHERE inhparent = $1::regclass", table) == 4
                )
                assert await conn.fetchval(f"SELECT count(*) FROM {table}") == count
                assert (
                    await conn.fetchval(
                        "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = $1::regclass AND contype = 'p'",
                        table,
                    )
                    == "PRIMARY KEY (repository_id, id)"
                )
            after_indexes = {
                r["indexname"]
                for r in await conn.fetch(
                    "SELECT indexname FROM pg_indexes WHERE tablename = ANY($1::text[])", ["symbols", "edges", "chunks"]
                )
            }
            assert after_indexes == indexes
            fks = {
                r["def"]
                for r in await conn.fetch(
                    "SELECT pg_get_constraintdef(oid) AS def FROM pg_constraint WHERE conrelid = 'edges'::regclass AND contype = 'f'"
                )
            }
            assert any("FOREIGN KEY (repository_id, target_id)" in d and "SET NULL (target_id)" in d for d in fks), fks
            assert await conn.fetchval("SELECT has_table_privilege('public', 'chunks', 'SELECT')")
        finally:
            await conn.close()

        # Writing still works: an edit re-indexes (ids from the sequence), a removal cascades.
        (root / "shop" / "pricing.py").write_text(
            (root / "shop" / "pricing.py").read_text().replace("def add_tax(", "def add_sales_tax(")
        )
        report = await _index_sample(dsn, root, "parted", tmp_path, embedder)
        assert report.files_indexed == 1
        again = await anyio.to_thread.run_sync(
            lambda: _run("--database-url", dsn, "db", "partition", "--partitions", "4")
        )
        assert again.returncode == 2 and "partitioned already" in again.stderr
        conn = await asyncpg.connect(dsn)
        try:
            assert await conn.fetchval("SELECT count(*) FROM symbols WHERE name = 'add_sales_tax'") == 1
            await conn.execute("DELETE FROM repositories WHERE name = 'parted'")
            assert [await conn.fetchval(f"SELECT count(*) FROM {t}") for t in ("symbols", "edges", "chunks")] == [
                0,
                0,
                0,
            ]
        finally:
            await conn.close()


# --- graceful shutdown ------------------------------------------------------------------------------


def test_sigterm_stops_the_server_and_its_embedded_postgres(tmp_path: Path) -> None:
    data_dir = tmp_path / "embedded"
    port = free_port()
    log = tmp_path / "embedded-server.log"
    process = _spawn(
        ["--data-dir", str(data_dir), "serve", "--transport", "http", "--port", str(port)],
        log,
        {"PGCODE_DATABASE_URL": ""},
    )
    try:
        _wait_http(process, f"http://127.0.0.1:{port}/ready", log)
        assert _postgres_for(data_dir), "the embedded server is not running"
        started = time.monotonic()
        assert _stop(process, within=15) == 0, log.read_text()
        assert time.monotonic() - started < 15
    finally:
        if process.poll() is None:
            process.kill()
    _assert_no_postgres(data_dir)
    assert "Traceback" not in log.read_text()

    # A stop signal while it is still starting (the embedded server has just come up) is as clean.
    process = _spawn(
        ["--data-dir", str(data_dir), "serve", "--transport", "http", "--port", str(port)],
        log,
        {"PGCODE_DATABASE_URL": ""},
    )
    try:
        deadline = time.monotonic() + 60
        while not _postgres_for(data_dir):
            assert process.poll() is None and time.monotonic() < deadline, log.read_text()
            time.sleep(0.05)
        assert _stop(process, within=15) == 0, log.read_text()
    finally:
        if process.poll() is None:
            process.kill()
    _assert_no_postgres(data_dir)


def test_sigterm_stops_a_stdio_server_waiting_for_its_client(pg_dsn: str) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "mcp_server", "--database-url", pg_dsn, "serve"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=server_env(),
    )
    try:
        hello = {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "initialize",
            "params": {
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": {"name": "ops-test", "version": "1"},
            },
        }
        assert process.stdin is not None and process.stdout is not None
        process.stdin.write((json.dumps(hello) + "\n").encode())
        process.stdin.flush()
        assert json.loads(process.stdout.readline())["id"] == 1
        # stdin stays open: the server is blocked waiting for the next message when the signal comes.
        assert _stop(process, within=15) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(5)


def _assert_no_postgres(data_dir: Path) -> None:
    deadline = time.monotonic() + 10
    while _postgres_for(data_dir) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _postgres_for(data_dir) == [], "the embedded PostgreSQL outlived pgcode"


def _generated_file(i: int) -> str:
    body = [f'"""Generated module {i} for the shutdown test."""', "", "from shop.pricing import apply_discount", ""]
    for j in range(30):
        body += [
            f"def handler_{i}_{j}(order, rate={j}):",
            f'    """Handle case {j} of module {i}."""',
            f"    total = apply_discount(order.total, rate) + {j}",
            f"    return helper_{i}_{(j + 1) % 30}(total) if rate else total",
            "",
        ]
        body += [f"def helper_{i}_{j}(value):", f"    return value * {j + 1}", ""]
    return "\n".join(body)


async def test_sigterm_while_the_worker_indexes_leaves_no_half_written_file(pg_dsn: str, tmp_path: Path) -> None:
    async with scratch_database(pg_dsn, "pgcode_ops_shutdown") as dsn:
        root = write_sample_repo(tmp_path / "busy")
        await _index_sample(dsn, root, "busy", tmp_path, None)
        generated = root / "generated_pkg"
        generated.mkdir()
        for i in range(400):
            (generated / f"mod_{i}.py").write_text(_generated_file(i))
        reference = tmp_path / "reference"
        shutil.copytree(root, reference)

        conn = await asyncpg.connect(dsn)
        try:
            initial = await conn.fetchval("SELECT count(*) FROM files")
            worker = _start_worker(dsn, tmp_path)
            try:
                deadline = time.monotonic() + 60
                while (stored := await conn.fetchval("SELECT count(*) FROM files")) < initial + 20:
                    assert time.monotonic() < deadline, worker.log.read_text()[-3000:]
                    await anyio.sleep(0.05)
                assert stored < initial + 400, "indexing finished before it could be interrupted"
                assert _stop(worker.process, within=20) == 0, worker.log.read_text()[-3000:]
            finally:
                worker.stop()
            interrupted = await _per_file(conn, "busy")
            leases = await conn.fetchval("SELECT count(*) FROM index_leases")
        finally:
            await conn.close()
        assert leases == 0  # handed back on the way out

        await _index_sample(dsn, reference, "reference", tmp_path, None)
        conn = await asyncpg.connect(dsn)
        try:
            complete = await _per_file(conn, "reference")
        finally:
            await conn.close()
        assert initial < len(interrupted) < len(complete)
        # Each stored file is whole: the same symbols, edges and chunks as a complete index has.
        for path, stored_file in interrupted.items():
            assert stored_file == complete[path], path
