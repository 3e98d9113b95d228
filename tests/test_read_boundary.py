"""The read boundary: which folders MCP clients may index, token rights, sessions bound to their token, failed logins limited."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import httpx2
import platformdirs
import pytest
from mcp import Client, StdioServerParameters

from mcp_server.config import Settings
from mcp_server.errors import AccessDenied, ConfigError
from mcp_server.server.boundary import check_index_root
from mcp_server.server.http import AUTH_FAILURE_BURST
from tests.conftest import write_sample_repo
from tests.mcp_harness import connect, server_env, start_http_server

ADMIN = "admin-token-5be1"
READER = "reader-token-0c77"
SECRET = "ghp_" + "Zx8" * 12  # a token shape; the folder it sits in must never be indexed


def _settings(**values: Any) -> Settings:
    return Settings.load(values, env={})


def _outside_secrets(base: Path) -> Path:
    """A folder like a home's configuration, holding a credential in an ordinary-looking file."""
    folder = base / "dotconfig"
    (folder / "gh").mkdir(parents=True)
    (folder / "gh" / "settings.py").write_text(f"TOKEN = '{SECRET}'\n")
    return folder


# ---- the policy itself -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/", "/etc", "/etc/ssl", "/usr/lib/python3", "/var/lib", "/proc/self", "/sys", "/dev", "/boot"]
)
def test_stdio_refuses_system_folders_by_default(path: str, tmp_path: Path) -> None:
    with pytest.raises(AccessDenied, match="allowed_roots"):
        check_index_root(Path(path), _settings(), transport="stdio", registered=set(), home=tmp_path / "home")


def test_stdio_refuses_the_home_folder_its_hidden_folders_and_what_is_above_it(tmp_path: Path) -> None:
    home = tmp_path / "home" / "ann"
    for folder in (home / ".config" / "gh", home / ".ssh", home / "src" / "shop"):
        folder.mkdir(parents=True)
    settings = _settings()
    for refused, why in [
        (home, "the home folder"),
        (home.parent, "above the home folder"),
        (home / ".config", "hidden folder"),
        (home / ".config" / "gh", "hidden folder"),
        (home / ".ssh", "hidden folder"),
    ]:
        with pytest.raises(AccessDenied, match=why):
            check_index_root(refused, settings, transport="stdio", registered=set(), home=home)
    assert (
        check_index_root(home / "src" / "shop", settings, transport="stdio", registered=set(), home=home)
        == home / "src" / "shop"
    )


def test_a_symlink_is_judged_by_where_it_leads(tmp_path: Path) -> None:
    home = tmp_path / "home"
    (home / ".aws").mkdir(parents=True)
    (home / "work").mkdir()
    (home / "work" / "innocent").symlink_to(home / ".aws")
    with pytest.raises(AccessDenied, match="hidden folder"):
        check_index_root(home / "work" / "innocent", _settings(), transport="stdio", registered=set(), home=home)
    allowed = _settings(allowed_roots=str(home / "work"))
    with pytest.raises(AccessDenied, match="outside the folders this server may index"):
        check_index_root(home / "work" / "innocent", allowed, transport="http", registered=set(), home=home)


def test_http_adds_no_roots_unless_allowed_but_refreshes_registered_ones(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    with pytest.raises(AccessDenied, match="does not let remote clients add repositories"):
        check_index_root(repo, _settings(), transport="http", registered=set())
    assert check_index_root(repo, _settings(), transport="http", registered={str(repo)}) == repo
    allowed = _settings(allowed_roots=f"{tmp_path / 'elsewhere'},{tmp_path}")
    assert check_index_root(repo, allowed, transport="http", registered=set()) == repo
    with pytest.raises(AccessDenied, match="allowed_roots"):
        check_index_root(Path("/etc"), allowed, transport="stdio", registered=set())


def test_allowed_roots_and_token_roles_come_from_every_layer(tmp_path: Path) -> None:
    config = tmp_path / "pgcode.toml"
    config.write_text('allowed_roots = ["/srv/code", "/home/ann/src"]\ntokens = ["admin:aaa", "bbb", "read:ccc"]\n')
    s = Settings.load(config_file=config, env={})
    assert s.allowed_root_paths() == [Path("/srv/code"), Path("/home/ann/src")]
    assert [(g.token, g.role) for g in s.bearer_grants()] == [("aaa", "admin"), ("bbb", "read"), ("ccc", "read")]
    assert s.bearer_tokens() == ["aaa", "bbb", "ccc"]
    env = Settings.load(env={"PGCODE_ALLOWED_ROOTS": "/a,/b"})
    assert env.allowed_root_paths() == [Path("/a"), Path("/b")]
    with pytest.raises(ConfigError, match="unknown role 'owner'"):
        Settings.load({"tokens": "owner:xyz"}, env={}).bearer_grants()


def test_an_unknown_token_role_stops_serve_with_exit_code_2(tmp_path: Path) -> None:
    tokens = tmp_path / "tokens.txt"
    tokens.write_text("superuser:abc\n")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "mcp_server",
            "--database-url",
            "postgresql://127.0.0.1:1/x",
            "serve",
            "--transport",
            "http",
            "--token-file",
            str(tokens),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env=server_env(),
    )
    assert done.returncode == 2, done.stderr
    assert "unknown role 'superuser'" in done.stderr and "Traceback" not in done.stderr


# ---- through real servers and clients ------------------------------------------------------------


@pytest.fixture(scope="module")
def servers(pg_dsn: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Two HTTP servers with an admin and a read-only token: one with no allowed_roots (the default),
    one allowed to index below `allowed/`."""
    base = tmp_path_factory.mktemp("boundary")
    allowed = base / "allowed"
    allowed.mkdir()
    tokens = base / "tokens.txt"
    tokens.write_text(f"admin:{ADMIN}\n{READER}\n")
    default = start_http_server(pg_dsn, base, token_file=tokens, extra_args=("--no-watch",))
    opened = start_http_server(
        pg_dsn, base, token_file=tokens, extra_args=("--no-watch", "--allowed-roots", str(allowed))
    )
    try:
        yield {"default": default, "open": opened, "base": base, "allowed": allowed}
    finally:
        default.stop()
        opened.stop()


def _text(result: Any) -> str:
    return result.content[0].text if result.content else ""


@pytest.mark.parametrize("transport", ["http", "sse"])
async def test_remote_clients_cannot_index_outside_the_boundary(transport: str, servers: dict[str, Any]) -> None:
    base: Path = servers["base"]
    secrets = _outside_secrets(base / f"home-{transport}")
    repo = write_sample_repo(base / f"new-{transport}")
    async with connect(transport, server=servers["default"], token=ADMIN) as client:
        refused = await client.call_tool("index_repository", {"path": str(repo), "name": f"new-{transport}"})
        assert refused.is_error and "allowed_roots" in _text(refused), _text(refused)
    async with connect(transport, server=servers["open"], token=ADMIN) as client:
        outside = await client.call_tool("index_repository", {"path": str(secrets), "name": f"cfg-{transport}"})
        assert outside.is_error and "outside the folders this server may index" in _text(outside)
        found = await client.call_tool("grep", {"pattern": SECRET[:12]})
        assert SECRET not in json.dumps(found.structured_content) + _text(found)
        listed = (await client.call_tool("list_repositories", {})).structured_content or {}
        assert f"cfg-{transport}" not in {r["repository"] for r in listed["repositories"]}


async def test_read_tokens_search_admin_tokens_index_and_remove(servers: dict[str, Any]) -> None:
    allowed: Path = servers["allowed"]
    repo = write_sample_repo(allowed / "team-shop")
    server = servers["open"]
    async with connect("http", server=server, token=READER) as reader:
        refused = await reader.call_tool("index_repository", {"path": str(repo), "name": "team-shop"})
        assert refused.is_error and "needs an admin token" in _text(refused), _text(refused)
    async with connect("sse", server=server, token=ADMIN) as admin:
        indexed = await admin.call_tool("index_repository", {"path": str(repo), "name": "team-shop"})
        assert not indexed.is_error, _text(indexed)
    async with connect("sse", server=server, token=READER) as reader:
        hits = await reader.call_tool(
            "search_code", {"query": "apply_discount", "mode": "keyword", "repository": "team-shop"}
        )
        assert not hits.is_error and hits.structured_content["results"]
        refused = await reader.call_tool("remove_repository", {"repository": "team-shop"})
        assert refused.is_error and "needs an admin token" in _text(refused)
    # The default server refuses new roots but refreshes one the operator (here: the other server) indexed.
    async with connect("http", server=servers["default"], token=ADMIN) as admin:
        again = await admin.call_tool("index_repository", {"path": str(repo), "name": "team-shop"})
        assert not again.is_error, _text(again)
        removed = await admin.call_tool("remove_repository", {"repository": "team-shop"})
        assert not removed.is_error, _text(removed)


def _headers(token: str) -> dict[str, str]:
    return {
        "Authorization": f"Bearer {token}",
        "Accept": "application/json, text/event-stream",
        "Content-Type": "application/json",
    }


_INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}},
}
_LIST = {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}


def test_a_streamable_http_session_answers_only_the_token_that_opened_it(servers: dict[str, Any]) -> None:
    url = f"{servers['default'].base}/mcp"
    with httpx2.Client(timeout=30) as http:
        opened = http.post(url, json=_INITIALIZE, headers=_headers(ADMIN))
        assert opened.status_code == 200, opened.text
        session = {"mcp-session-id": opened.headers["mcp-session-id"], "mcp-protocol-version": "2025-06-18"}
        http.post(
            url, json={"jsonrpc": "2.0", "method": "notifications/initialized"}, headers={**_headers(ADMIN), **session}
        )
        stolen = http.post(url, json=_LIST, headers={**_headers(READER), **session})
        own = http.post(url, json=_LIST, headers={**_headers(ADMIN), **session})
    assert stolen.status_code == 404, stolen.text
    assert own.status_code == 200 and "search_code" in own.text


async def test_an_sse_session_answers_only_the_token_that_opened_it(servers: dict[str, Any]) -> None:
    base = servers["default"].base
    async with (
        httpx2.AsyncClient(timeout=30) as http,
        http.stream("GET", f"{base}/sse", headers={"Authorization": f"Bearer {ADMIN}"}) as stream,
    ):
        # One iterator for the stream's life: an abandoned one is closed when collected, and with it
        # the connection, which ends the session.
        lines = stream.aiter_lines()
        with anyio.fail_after(20):
            line = ""
            while not (line.startswith("data:") and "session_id=" in line):
                line = await anext(lines)
        endpoint = line[5:].strip()
        stolen = await http.post(f"{base}{endpoint}", json=_INITIALIZE, headers=_headers(READER))
        own = await http.post(f"{base}{endpoint}", json=_INITIALIZE, headers=_headers(ADMIN))
    assert stolen.status_code == 404, stolen.text
    assert own.status_code == 202, own.text


def test_failed_authentication_is_limited_per_address(pg_dsn: str, tmp_path: Path) -> None:
    server = start_http_server(pg_dsn, tmp_path, env={"PGCODE_TOKENS": ADMIN}, extra_args=("--no-watch",))
    try:
        statuses = []
        with httpx2.Client(timeout=10) as http:
            for i in range(AUTH_FAILURE_BURST + 5):
                statuses.append(
                    http.post(f"{server.base}/mcp", json=_LIST, headers=_headers(f"guess-{i:04d}")).status_code
                )
            # Once limited, the right token is refused too: the answer must not tell a guess apart.
            right = http.post(f"{server.base}/mcp", json=_INITIALIZE, headers=_headers(ADMIN))
            health = http.get(f"{server.base}/health")
    finally:
        server.stop()
    assert statuses[:AUTH_FAILURE_BURST] == [401] * AUTH_FAILURE_BURST, statuses
    assert set(statuses[AUTH_FAILURE_BURST:]) == {429}, statuses
    assert right.status_code == 429 and int(right.headers["Retry-After"]) >= 1
    assert health.status_code == 200
    log = server.log.read_text()
    assert "Traceback" not in log and log.count("auth_failures_limited") <= 2


# ---- stdio: the local user's client ------------------------------------------------------------------


@asynccontextmanager
async def _stdio(dsn: str, home: Path) -> AsyncIterator[Client]:
    env = {k: v for k, v in server_env().items() if k.startswith(("PGCODE_", "XDG_", "PATH"))}
    # Another home for the server, the same model cache (building it again would take a while).
    env.update(
        HOME=str(home), PGCODE_CACHE_DIR=os.environ.get("PGCODE_CACHE_DIR") or platformdirs.user_cache_dir("pgcode")
    )
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "mcp_server", "--database-url", dsn, "serve", "--no-watch"], env=env
    )
    async with Client(params, read_timeout_seconds=120) as client:
        yield client


async def test_stdio_clients_cannot_index_system_folders_or_the_home_folders_secrets(
    pg_dsn: str, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    secrets = _outside_secrets(home)
    (home / ".config").mkdir()
    secrets.rename(home / ".config" / "gh-like")
    project = write_sample_repo(home / "src" / "stdio-shop")
    async with _stdio(pg_dsn, home) as client:
        for path in ("/", "/etc", str(home), str(home / ".config"), str(home / ".config" / "gh-like")):
            refused = await client.call_tool("index_repository", {"path": path})
            assert refused.is_error and "allowed_roots" in _text(refused), (path, _text(refused))
        indexed = await client.call_tool("index_repository", {"path": str(project), "name": "stdio-shop"})
        assert not indexed.is_error, _text(indexed)
        removed = await client.call_tool("remove_repository", {"repository": "stdio-shop"})
        assert not removed.is_error


def test_relative_allowed_roots_are_read_against_the_config_file_or_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "conf" / "pgcode.toml"
    config.parent.mkdir()
    config.write_text('allowed_roots = ["code", "~/src"]\n')
    from_file = Settings.load(config_file=config, env={}).allowed_root_paths()
    assert from_file == [tmp_path / "conf" / "code", Path.home() / "src"]
    monkeypatch.chdir(tmp_path)
    from_env = Settings.load(env={"PGCODE_ALLOWED_ROOTS": "repos,/srv/x"}).allowed_root_paths()
    assert from_env == [tmp_path / "repos", Path("/srv/x")]
