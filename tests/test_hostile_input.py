"""Hostile tool input, driven through the SDK client (and raw JSON-RPC where the SDK cannot send it):
every call ends as a tool error (or an honest empty answer) in bounded time, with nothing from
outside the indexed roots, and the server keeps answering."""

from __future__ import annotations

import json
import os
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client

from tests.mcp_harness import TOKEN, HttpServer, connect, start_http_server

REPO = "hostile-input"
SECRET = "SECRET_MARKER_9f2c41"  # only in a file outside the root, reachable from inside through symlinks
LEAKS = (SECRET, "root:x:0:0", "Traceback", 'File "/', "[boot loader]", "for 16-bit app support")
BOUND_S = 5.0  # every hostile call must be answered within this
MEGABYTE = "x" * 1_000_000  # just under the HTTP body limit (1 MiB) with the JSON around it

# Valid values for each tool's required arguments; the hostile value then replaces one argument.
BASE: dict[str, dict[str, Any]] = {
    "search_code": {"query": "cart total", "repository": REPO, "mode": "keyword"},
    "grep": {"pattern": "def ", "repository": REPO},
    "get_context": {"query": "cart total", "repository": REPO},
    "find_symbol": {"name": "Cart", "repository": REPO},
    "get_symbol": {"symbol": "shop.Cart", "repository": REPO},
    "file_outline": {"path": "shop.py", "repository": REPO},
    "repo_map": {"repository": REPO},
    "goto_definition": {"path": "shop.py", "line": 9, "repository": REPO},
    "find_references": {"symbol": "shop.Cart", "repository": REPO},
    "find_callers": {"symbol": "shop.add_tax", "repository": REPO},
    "find_callees": {"symbol": "shop.Cart.total", "repository": REPO},
    "call_path": {"source": "shop.Cart.total", "target": "shop.add_tax", "repository": REPO},
    "impact_analysis": {"symbol": "shop.add_tax", "repository": REPO},
    "get_dependencies": {"path": "shop.py", "repository": REPO},
    "get_dependents": {"module": "shop", "repository": REPO},
    "index_repository": {},  # filled in with the root by the fixture
    "index_status": {"repository": REPO},
    "list_repositories": {},
    # Never a real repository: a hostile variation must not remove anything.
    "remove_repository": {"repository": "no-such-repository"},
}

TRAVERSALS = [
    "../../etc/passwd",
    "/etc/passwd",
    "/" + "../" * 12 + "etc/passwd",
    "shop/../../../etc/passwd",
    "C:\\Windows\\system.ini",
    "..\\..\\windows\\win.ini",
    "\\\\server\\share\\secret.py",
    "file:///etc/passwd",
    "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
    "~/.ssh/id_rsa",
    "/proc/self/environ",
    "leak.py",
    "linkdir/secret.py",
]

SHOP = '''"""A small shop."""

TAX = 0.2


def add_tax(amount):
    return amount * (1 + TAX)


class Cart:
    def __init__(self):
        self.items = []

    def total(self):
        return add_tax(sum(self.items))
'''


@dataclass
class Env:
    server: HttpServer
    root: Path
    outside: Path
    schemas: dict[str, dict[str, Any]]
    report: dict[str, Any]


@asynccontextmanager
async def _client(server: HttpServer) -> AsyncIterator[Client]:
    async with connect("http", server=server) as client:
        yield client


def _write_repo(base: Path) -> tuple[Path, Path]:
    outside = base / "outside"
    outside.mkdir()
    (outside / "secret.py").write_text(f'API_KEY = "{SECRET}"\n\n\ndef leaked_secret():\n    return API_KEY\n')
    root = base / REPO
    root.mkdir()
    (root / "shop.py").write_text(SHOP)
    # A long run of one letter: food for patterns that backtrack catastrophically elsewhere.
    (root / "runs.py").write_text("".join(f"LINE_{i} = {i}\n" for i in range(20)) + f'RUN = "{"a" * 5000}!"\n')
    (root / "leak.py").symlink_to(outside / "secret.py")
    (root / "linkdir").symlink_to(outside)
    (root / "loop_a").symlink_to(root / "loop_b")
    (root / "loop_b").symlink_to(root / "loop_a")
    (root / "parent").symlink_to(root)
    os.mkfifo(root / "pipe.py")
    return root, outside


@pytest.fixture(scope="module")
def env(pg_dsn: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    base = tmp_path_factory.mktemp("hostile-input")
    root, outside = _write_repo(base)
    token_file = base / "tokens.txt"
    token_file.write_text(f"admin:{TOKEN}\n")
    server = start_http_server(
        pg_dsn, base, token_file=token_file, extra_args=("--rate-limit-per-minute", "0", "--allowed-roots", str(root))
    )

    async def setup() -> tuple[dict[str, dict[str, Any]], dict[str, Any]]:
        async with _client(server) as client:
            result = await client.call_tool("index_repository", {"path": str(root), "name": REPO})
            assert not result.is_error, result.content[0].text
            tools = (await client.list_tools()).tools
            # Warm the model up: the first semantic query loads it, which is not what is measured.
            await client.call_tool("search_code", {"query": "warm up", "repository": REPO})
        return {t.name: t.input_schema for t in tools}, result.structured_content or {}

    try:
        schemas, report = anyio.run(setup)
        BASE["index_repository"] = {"path": str(root), "name": REPO}
        yield Env(server, root, outside, schemas, report)
    finally:
        server.stop()


def _text(result: Any) -> str:
    return "\n".join(getattr(c, "text", "") for c in result.content)


def _types(prop: dict[str, Any]) -> set[str]:
    return {prop["type"]} if "type" in prop else {a.get("type", "") for a in prop.get("anyOf", [])}


async def _call(client: Client, tool: str, arguments: dict[str, Any], problems: list[str], *, must_fail: bool) -> Any:
    """Call and record any breach of the rules: slow, leaking, a traceback, or accepted when it must fail."""
    started = time.monotonic()
    result = await client.call_tool(tool, arguments)
    elapsed = time.monotonic() - started
    text = _text(result)
    shown = {k: (v[:40] + "..." if isinstance(v, str) and len(v) > 40 else v) for k, v in arguments.items()}
    if elapsed > BOUND_S:
        problems.append(f"{tool} {shown}: {elapsed:.1f} s")
    if leaked := [marker for marker in LEAKS if marker in text]:
        problems.append(f"{tool} {shown}: output holds {leaked}: {text[:300]}")
    if must_fail and not result.is_error:
        problems.append(f"{tool} {shown}: accepted: {text[:200]}")
    if result.is_error and (not text.strip() or "failed in the database" in text):
        problems.append(f"{tool} {shown}: an error that does not say what is wrong: {text[:200]}")
    return result


async def _call_all(client: Client, calls: list[tuple[str, dict[str, Any], bool]], problems: list[str]) -> None:
    """(tool, arguments, must_fail) calls, a few at a time over one session: hundreds of them."""
    limiter = anyio.Semaphore(4)

    async def one(tool: str, arguments: dict[str, Any], must_fail: bool) -> None:
        async with limiter:
            await _call(client, tool, arguments, problems, must_fail=must_fail)

    async with anyio.create_task_group() as tg:
        for tool, arguments, must_fail in calls:
            tg.start_soon(one, tool, arguments, must_fail)


async def _still_serving(client: Client) -> None:
    result = await client.call_tool("find_symbol", {"name": "add_tax", "repository": REPO})
    assert not result.is_error and result.structured_content["symbols"][0]["qualified_name"] == "shop.add_tax"


def test_the_indexer_counted_the_links_and_the_pipe_it_refused(env: Env) -> None:
    skipped = env.report["skipped"]
    assert env.report["files_indexed"] == 2  # shop.py, runs.py
    assert skipped["symlink"] == 5 and skipped["not_a_file"] == 1, skipped


async def test_a_megabyte_in_every_string_argument_is_refused(env: Env) -> None:
    problems: list[str] = []
    calls = [
        (tool, {**BASE[tool], arg: MEGABYTE}, True)
        for tool, schema in env.schemas.items()
        for arg, prop in schema["properties"].items()
        if "string" in _types(prop)
    ]
    async with _client(env.server) as client:
        for tool, arguments, must_fail in calls:  # one at a time: each is a megabyte on the wire
            await _call(client, tool, arguments, problems, must_fail=must_fail)
        await _still_serving(client)
    assert len(calls) >= 35 and not problems, "\n".join(problems)


async def test_missing_wrongly_typed_and_extra_arguments(env: Env) -> None:
    problems: list[str] = []
    wrong: dict[str, list[Any]] = {
        "string": [42, ["a", "b"], {"nested": "object"}],
        "integer": ["ten", 2.5, [1], {"n": 1}],
        "number": ["high", [0.5], {"x": 1}],
        "boolean": ["maybe", [True], {"b": 1}],
    }
    calls: list[tuple[str, dict[str, Any], bool]] = []
    for tool, schema in env.schemas.items():
        for arg in schema.get("required", []):
            calls.append((tool, {k: v for k, v in BASE[tool].items() if k != arg}, True))
            calls.append((tool, {**BASE[tool], arg: None}, True))
        for arg, prop in schema["properties"].items():
            for kind in _types(prop) & set(wrong):
                calls.extend((tool, {**BASE[tool], arg: value}, True) for value in wrong[kind])
    async with _client(env.server) as client:
        await _call_all(client, calls, problems)
        for tool in env.schemas:
            if tool in ("index_repository", "remove_repository"):
                continue  # writes: their extra-argument twin is not worth a second run
            plain = await _call(client, tool, BASE[tool], problems, must_fail=False)
            extra = await _call(
                client, tool, {**BASE[tool], "unexpected": 1, "__proto__": {"x": 1}}, problems, must_fail=False
            )
            # Unknown arguments are ignored: the answer is the one without them.
            # (Status answers are live counts, which embedding changes from one call to the next.)
            live = tool in ("index_status", "list_repositories")
            if not live and (plain.is_error, plain.structured_content) != (extra.is_error, extra.structured_content):
                problems.append(f"{tool}: extra arguments changed the answer")
        unknown = await client.call_tool("no_such_tool", {})
        assert unknown.is_error
        await _still_serving(client)
    assert not problems, "\n".join(problems)


async def test_negative_and_huge_limits_depths_and_lines(env: Env) -> None:
    problems: list[str] = []
    values = [-1, 0, -(2**63), 2**63, 10**30]
    calls: list[tuple[str, dict[str, Any], bool]] = []
    for tool, schema in env.schemas.items():
        for arg, prop in schema["properties"].items():
            types = _types(prop)
            if not types & {"integer", "number"}:
                continue
            low, high = prop.get("minimum"), prop.get("maximum")
            for value in values + ([-1e308, 1e308, 1e-320] if "number" in types else []):
                outside = (low is not None and value < low) or (high is not None and value > high)
                calls.append((tool, {**BASE[tool], arg: value}, outside))
    async with _client(env.server) as client:
        await _call_all(client, calls, problems)
        await _still_serving(client)
    assert not problems, "\n".join(problems)


async def test_traversal_strings_never_reach_outside_the_roots(env: Env) -> None:
    problems: list[str] = []
    absolute = [
        str(env.outside / "secret.py"),
        str(env.root / "leak.py"),
        str(env.root / "linkdir" / "secret.py"),
        str(env.root / "loop_a" / "x.py"),
        str(env.root / "parent" / "leak.py"),
    ]
    calls: list[tuple[str, dict[str, Any], bool]] = []
    for tool, schema in env.schemas.items():
        for arg, prop in schema["properties"].items():
            if "string" not in _types(prop):
                continue
            # Every traversal on the arguments that name files, modules, symbols or repositories;
            # a sample on the free-text ones (queries, patterns, names, kinds).
            named = arg in ("path", "module", "repository", "symbol", "source", "target", "path_glob")
            # A file, a module or a repository that is not indexed must be named as such; a
            # query, pattern or glob may honestly find nothing.
            must_fail = arg in ("path", "module", "repository") or (tool, arg) == ("index_repository", "name")
            for value in TRAVERSALS + absolute if named else TRAVERSALS[:2] + absolute[:2]:
                calls.append((tool, {**BASE[tool], arg: value}, must_fail))
    async with _client(env.server) as client:
        await _call_all(client, calls, problems)
        await _still_serving(client)
    assert not problems, "\n".join(problems)


async def test_a_symlink_inside_the_root_gives_nothing_of_what_it_points_at(env: Env) -> None:
    problems: list[str] = []
    repo = {"repository": REPO}
    async with _client(env.server) as client:
        for path in ("leak.py", str(env.root / "leak.py"), "linkdir/secret.py", str(env.root / "linkdir/secret.py")):
            outline = await _call(client, "file_outline", {"path": path, **repo}, problems, must_fail=True)
            assert "not an indexed file" in _text(outline) or "not inside" in _text(outline), _text(outline)
            await _call(client, "get_dependencies", {"path": path, **repo}, problems, must_fail=True)
            await _call(client, "impact_analysis", {"path": path, **repo}, problems, must_fail=True)
        outside = await _call(
            client, "file_outline", {"path": str(env.outside / "secret.py")}, problems, must_fail=True
        )
        assert "not inside an indexed repository" in _text(outside), _text(outside)
        hits = await _call(client, "grep", {"pattern": SECRET, **repo}, problems, must_fail=False)
        found = await _call(
            client, "search_code", {"query": "leaked_secret API_KEY", **repo}, problems, must_fail=False
        )
        named = await _call(client, "find_symbol", {"name": "leaked_secret"}, problems, must_fail=False)
        detail = await _call(client, "get_symbol", {"symbol": "leak.leaked_secret"}, problems, must_fail=True)
    assert hits.structured_content["matches"] == []
    assert all("leak" not in r["path"] and "secret" not in r["path"] for r in found.structured_content["results"])
    assert named.structured_content["symbols"] == [] and detail.is_error
    assert not problems, "\n".join(problems)


async def test_nul_bytes_control_characters_and_sql_in_every_string_argument(env: Env) -> None:
    problems: list[str] = []
    values = ["a\x00b", "'; DROP TABLE files; --", "\\x00\\' OR 1=1 --", "%_%", "\x1b[2J\x07\u202e\ufeff"]
    calls = [
        (tool, {**BASE[tool], arg: value}, "\x00" in value)
        for tool, schema in env.schemas.items()
        for arg, prop in schema["properties"].items()
        if "string" in _types(prop)
        for value in values
    ]
    async with _client(env.server) as client:
        await _call_all(client, calls, problems)
        await _still_serving(client)
        files = await client.call_tool("index_status", {"repository": REPO})
    assert not problems, "\n".join(problems)
    assert files.structured_content["repositories"][0]["files"] == 2  # the SQL stayed text


@pytest.mark.parametrize(
    "pattern",
    [
        "(a+)+$",
        "(a|aa)+!$",
        "(a*)*b",
        "(x+x+)+y",
        "^(([a-z])+.)+[A-Z]([a-z])+$",
        "(.*a){25}",
        "(a|a?)+$",
        "((a+)*)+\\2b",
        "(.*)*\\1x",
        "a{1,255}a{1,255}a{1,255}c",
        "(((((((((a*)*)*)*)*)*)*)*)*)*c",
        "[",
        "(?<=a)b",
        "a{2,1}",
        "\\",
        "(" * 300 + ")" * 300,
    ],
)
async def test_patterns_and_globs_that_backtrack_come_back_in_bounded_time(env: Env, pattern: str) -> None:
    problems: list[str] = []
    async with _client(env.server) as client:
        for case_sensitive in (True, False):
            await _call(
                client,
                "grep",
                {"pattern": pattern, "repository": REPO, "case_sensitive": case_sensitive},
                problems,
                must_fail=False,
            )
        await _call(client, "grep", {"pattern": pattern, "literal": True}, problems, must_fail=False)
        await _call(client, "search_code", {"query": pattern, "mode": "keyword"}, problems, must_fail=False)
    assert not problems, "\n".join(problems)


async def test_hostile_path_globs_are_bounded(env: Env) -> None:
    problems: list[str] = []
    globs = [
        "{a," * 150 + "b" + "}" * 150,
        "**/" * 160 + "*",
        "*" * 500,
        "?" * 500,
        "{" * 10,
        "[!a-",
        "/**/..",
        "{a,b}" * 99,
        "*a" * 249 + "b",
    ]
    async with _client(env.server) as client:
        for glob in globs:
            await _call(client, "grep", {"pattern": "a", "path_glob": glob}, problems, must_fail=False)
            await _call(
                client,
                "search_code",
                {"query": "cart", "path_glob": glob, "mode": "keyword"},
                problems,
                must_fail=False,
            )
        await _still_serving(client)
    assert not problems, "\n".join(problems)


# ---- what the SDK will not send: raw JSON-RPC over streamable HTTP ---------------------------


class RawSession:
    """An initialized MCP session spoken by hand, to send bytes the SDK's client refuses to encode."""

    def __init__(self, server: HttpServer) -> None:
        self.url = f"{server.base}/mcp"
        self.headers = {
            "Authorization": f"Bearer {TOKEN}",
            "Accept": "application/json, text/event-stream",
            "Content-Type": "application/json",
        }
        self.http = httpx2.Client(timeout=30)
        response = self.post(
            json.dumps(
                {
                    "jsonrpc": "2.0",
                    "id": 1,
                    "method": "initialize",
                    "params": {
                        "protocolVersion": "2025-06-18",
                        "capabilities": {},
                        "clientInfo": {"name": "raw", "version": "0"},
                    },
                }
            ).encode()
        )
        assert response.status_code == 200, response.text
        self.headers["mcp-session-id"] = response.headers["mcp-session-id"]
        self.headers["mcp-protocol-version"] = "2025-06-18"
        self.post(b'{"jsonrpc": "2.0", "method": "notifications/initialized"}')

    def post(self, body: bytes) -> httpx2.Response:
        return self.http.post(self.url, content=body, headers=self.headers)

    def call(self, body: bytes) -> tuple[int, dict[str, Any] | None, float]:
        started = time.monotonic()
        response = self.post(body)
        elapsed = time.monotonic() - started
        return response.status_code, _message(response), elapsed

    def close(self) -> None:
        self.http.close()


def _message(response: httpx2.Response) -> dict[str, Any] | None:
    """The JSON-RPC message in a response: plain JSON or the data line of an SSE stream."""
    text = response.text
    if response.headers.get("content-type", "").startswith("text/event-stream"):
        data = [line[5:].strip() for line in text.splitlines() if line.startswith("data:")]
        text = data[-1] if data else ""
    try:
        return json.loads(text) if text else None
    except json.JSONDecodeError:
        return None


def _tool_call(tool: str, arguments_json: str, call_id: int = 7) -> bytes:
    return (
        f'{{"jsonrpc": "2.0", "id": {call_id}, "method": "tools/call", '
        f'"params": {{"name": "{tool}", "arguments": {arguments_json}}}}}'
    ).encode()


@pytest.fixture(scope="module")
def raw(env: Env) -> Iterator[RawSession]:
    session = RawSession(env.server)
    yield session
    session.close()


def _refused(status: int, message: dict[str, Any] | None) -> bool:
    """A tool error, or a JSON-RPC error for what could not even be read: never a 5xx or silence."""
    if status >= 500 or message is None:
        return False
    if "error" in message:
        return status in (200, 400, 413, 422)
    return status == 200 and bool(message.get("result", {}).get("isError"))


@pytest.mark.parametrize(
    ("tool", "arguments"),
    [
        ("search_code", '{"query": "cart\\udc80"}'),
        ("search_code", '{"query": "\\ud800\\ud800", "mode": "keyword"}'),
        ("grep", '{"pattern": "\\udfff"}'),
        ("find_symbol", '{"name": "Cart\\udc80"}'),
        ("file_outline", '{"path": "shop\\udc80.py", "repository": "hostile-input"}'),
        ("get_dependents", '{"module": "\\ud83d"}'),
        ("index_repository", '{"path": "/tmp/\\udc80\\udc81"}'),
        ("remove_repository", '{"repository": "\\udc80"}'),
    ],
)
def test_lone_surrogates_are_refused(raw: RawSession, tool: str, arguments: str) -> None:
    status, message, elapsed = raw.call(_tool_call(tool, arguments))
    assert _refused(status, message), (status, message)
    assert elapsed < BOUND_S and "Traceback" not in json.dumps(message)
    _raw_still_serving(raw)


@pytest.mark.parametrize(
    "body",
    [
        b'{"jsonrpc": "2.0", "id": 9, "method": "tools/call", "params": {"name": "search_code", "arguments": {"query": "'
        + b"caf\xe9 \xff\xfe"
        + b'"}}}',  # Latin-1 and stray bytes
        b'{"jsonrpc": "2.0", "id": 9, "method": "tools/call", "params": {"name": "grep", "arguments": {"pattern": "\xff"}}}',
        b"\xff\xfe\x00{",
        b'{"jsonrpc": "2.0", "id": 9, "method": "tools/call", "params": {"name": "grep", "arguments": {"pattern": "'
        + b"\xed\xa0\x80"
        + b'"}}}',  # a surrogate encoded as UTF-8 bytes: not UTF-8 at all
        _tool_call("search_code", '{"query": ' + "[" * 20_000 + "]" * 20_000 + "}"),
        _tool_call("search_code", '{"query": "a", "limit": 1e999}'),
        _tool_call("search_code", '{"query": "a", "limit": NaN}'),
        b'{"jsonrpc": "2.0", "id": 9, "method": "tools/call", "params": {"name": "grep"',
    ],
)
def test_bodies_that_are_not_utf8_or_not_json_are_refused(raw: RawSession, body: bytes) -> None:
    status, message, elapsed = raw.call(body)
    assert status < 500 and elapsed < BOUND_S, (status, message)
    assert message is None or "error" in message or message.get("result", {}).get("isError"), message
    _raw_still_serving(raw)


def _raw_still_serving(raw: RawSession) -> None:
    status, message, _ = raw.call(_tool_call("find_symbol", '{"name": "add_tax", "repository": "hostile-input"}', 11))
    assert status == 200 and message is not None and not message["result"].get("isError"), message
