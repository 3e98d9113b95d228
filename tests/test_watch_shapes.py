"""A watched repository changing shape under the server: paths turning from file to folder (and back)
or to a symlink, and the whole root going away and coming back, seen through the SDK's own client."""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client

from mcp_server.db.migrate import migrate
from tests._consistency import scratch_database
from tests.conftest import write_sample_repo
from tests.mcp_harness import TOKEN, connect, start_http_server

DEADLINE = 30.0  # seconds; the watcher notices a vanished root on its next lease round (5 s)
MISSING = "is missing since"
_DATABASES = itertools.count()


@pytest.fixture
async def dsn(pg_dsn: str, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[str]:
    """A database of its own (the server's watcher claims every repository it finds there), migrated
    so that a read-only server can open it first. Its own name too, and so its own shared stdio
    server, which leaves soon after the test."""
    monkeypatch.setenv("PGCODE_SHARED_IDLE_SECONDS", "2")
    name = f"pgcode_shapes_{os.getpid()}_{next(_DATABASES)}"
    async with scratch_database(pg_dsn, name) as url:
        await migrate(url)
        yield url


async def _call(client: Client, tool: str, arguments: dict[str, Any]) -> dict[str, Any]:
    result = await client.call_tool(tool, arguments)
    assert not result.is_error, result.content[0].text if result.content else result
    if result.structured_content is not None:
        return result.structured_content
    return json.loads(result.content[0].text)


async def eventually(check: Callable[[], Awaitable[bool]], what: str, timeout: float = DEADLINE) -> None:
    deadline = anyio.current_time() + timeout
    while not await check():
        if anyio.current_time() > deadline:
            pytest.fail(f"not within {timeout:g} s: {what}")
        await anyio.sleep(0.2)


async def _watched(client: Client, root: Path, name: str) -> None:
    """Index `root` through the server and wait until its watcher runs."""
    await _call(client, "index_repository", {"path": str(root), "name": name})

    async def watching() -> bool:
        status = await _call(client, "index_status", {"repository": name})
        return status["repositories"][0]["watcher"] == "watching"

    await eventually(watching, f"the server watches {name}")


async def _defined(client: Client, name: str, repository: str) -> list[str]:
    """Paths of the definitions called exactly `name`."""
    found = await _call(client, "find_symbol", {"name": name, "repository": repository})
    return [s["path"] for s in found["symbols"] if s["name"] == name]


async def test_a_file_replaced_by_a_folder_of_the_same_name_loses_its_rows_at_once(dsn: str, tmp_path: Path) -> None:
    root = write_sample_repo(tmp_path / "file-to-folder")
    async with connect("stdio", dsn=dsn) as client:
        await _watched(client, root, "shapes")
        (root / "shop" / "session.py").unlink()
        (root / "shop" / "session.py").mkdir()
        (root / "shop" / "session.py" / "store.py").write_text("def open_session_store():\n    return {}\n")

        async def replaced() -> bool:
            return not await _defined(client, "sign_cookie", "shapes") and await _defined(
                client, "open_session_store", "shapes"
            ) == ["shop/session.py/store.py"]

        await eventually(replaced, "the old file's symbols go and the folder's files are indexed")
        outline = await client.call_tool("file_outline", {"path": "shop/session.py", "repository": "shapes"})
        assert outline.is_error  # no file of that name is left in the index


async def test_a_folder_replaced_by_a_file_and_paths_replaced_by_symlinks_lose_their_rows(
    dsn: str, tmp_path: Path
) -> None:
    root = write_sample_repo(tmp_path / "folder-to-file")
    (root / "shop" / "legacy.py").mkdir()
    (root / "shop" / "legacy.py" / "inner.py").write_text("def legacy_inner_helper():\n    pass\n")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "target.py").write_text("def symlinked_target():\n    pass\n")
    async with connect("stdio", dsn=dsn) as client:
        await _watched(client, root, "reverse")
        # Moved out whole (no event for its files), then a file of the same name written in its place.
        os.rename(root / "shop" / "legacy.py", tmp_path / "legacy-elsewhere")
        (root / "shop" / "legacy.py").write_text("def legacy_flat_helper():\n    pass\n")
        (root / "shop" / "session.py").unlink()
        (root / "shop" / "session.py").symlink_to(outside / "target.py")
        os.rename(root / "tools", tmp_path / "tools-elsewhere")
        (root / "tools").symlink_to(outside, target_is_directory=True)

        async def replaced() -> bool:
            return (
                await _defined(client, "legacy_flat_helper", "reverse") == ["shop/legacy.py"]
                and not await _defined(client, "legacy_inner_helper", "reverse")
                and not await _defined(client, "sign_cookie", "reverse")
                and not await _defined(client, "DailyReport", "reverse")
            )

        await eventually(replaced, "the folder's rows go, the new file is indexed, the symlinked paths are empty")
        assert not await _defined(client, "symlinked_target", "reverse")  # links are never followed


# Every read tool, with arguments that find something in the sample repository.
def _reads(repository: str) -> dict[str, dict[str, Any]]:
    checkout = "shop.cart.DiscountCart.checkout"
    arguments: dict[str, dict[str, Any]] = {
        "search_code": {"query": "apply_discount", "mode": "keyword"},
        "grep": {"pattern": "def apply_discount"},
        "find_symbol": {"name": "apply_discount"},
        "get_symbol": {"symbol": "shop.pricing.apply_discount"},
        "file_outline": {"path": "shop/cart.py"},
        "repo_map": {"max_tokens": 1024},
        "goto_definition": {"path": "shop/cart.py", "line": 29, "name": "discount"},
        "find_references": {"symbol": "shop.cart.Cart"},
        "find_callers": {"symbol": "shop.pricing.apply_discount"},
        "find_callees": {"symbol": checkout, "depth": 3},
        "call_path": {"source": checkout, "target": "shop.pricing.add_tax"},
        "impact_analysis": {"path": "shop/pricing.py"},
        "get_dependencies": {"path": "shop/cart.py"},
        "get_dependents": {"module": "shop.pricing"},
    }
    return {tool: {**args, "repository": repository} for tool, args in arguments.items()}


def _notes(answer: dict[str, Any]) -> list[str]:
    return answer.get("freshness", answer).get("notes", [])


async def _missing_noted(client: Client, tool: str, arguments: dict[str, Any]) -> bool:
    return any(MISSING in note for note in _notes(await _call(client, tool, arguments)))


async def test_a_vanished_root_is_noted_on_every_answer_in_every_process_until_it_returns(
    dsn: str, tmp_path: Path
) -> None:
    root = write_sample_repo(tmp_path / "vanishing")
    reads = _reads("vanishing")
    reader = start_http_server(dsn, tmp_path, extra_args=("--read-only",), env={"PGCODE_TOKENS": TOKEN})
    try:
        async with connect("stdio", dsn=dsn) as writer, connect("http", server=reader) as other:
            await _watched(writer, root, "vanishing")
            for tool, arguments in reads.items():
                assert not await _missing_noted(writer, tool, arguments), tool

            os.rename(root, tmp_path / "moved-away")
            # Edited while away: once back, the watcher must catch up with it.
            (tmp_path / "moved-away" / "shop" / "extra.py").write_text("def edited_while_away():\n    pass\n")

            async def noted() -> bool:
                return all(
                    [await _missing_noted(client, "search_code", reads["search_code"]) for client in (writer, other)]
                )

            await eventually(noted, "search answers in both processes say the root is missing")
            for client in (writer, other):
                for tool, arguments in reads.items():
                    assert await _missing_noted(client, tool, arguments), tool
                # Not scoped to the repository: its hits among the results carry the note too.
                unscoped = await _call(client, "search_code", {"query": "apply_discount", "mode": "keyword"})
                assert unscoped["results"] and any(MISSING in n for n in _notes(unscoped))
                # The map's text says it too, within the map's budget.
                mapped = await client.call_tool("repo_map", reads["repo_map"])
                assert MISSING in mapped.content[0].text and mapped.structured_content["tokens"] <= 1024
                # An answer that finds nothing there is still about it.
                assert await _missing_noted(
                    client, "find_symbol", {"name": "nowhere_at_all", "repository": "vanishing"}
                )
            # Still served from the last index.
            assert await _defined(other, "apply_discount", "vanishing") == ["shop/pricing.py"]
            status = await _call(writer, "index_status", {"repository": "vanishing"})
            assert status["repositories"][0]["watcher"] == "root_missing"

            os.rename(tmp_path / "moved-away", root)

            async def back() -> bool:
                return await _defined(writer, "edited_while_away", "vanishing") == ["shop/extra.py"] and not any(
                    [await _missing_noted(client, "find_symbol", reads["find_symbol"]) for client in (writer, other)]
                )

            await eventually(back, "the watcher catches up and the note goes")
            for client in (writer, other):
                for tool, arguments in reads.items():
                    assert not await _missing_noted(client, tool, arguments), tool
    finally:
        reader.stop()
