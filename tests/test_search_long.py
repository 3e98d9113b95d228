"""Long queries (pasted bug reports): the full text searches by their rare words, names keep their order."""

from __future__ import annotations

from pathlib import Path

from mcp_server.config import Settings
from mcp_server.db.pool import Database
from mcp_server.indexer import repositories
from mcp_server.indexer.pipeline import index_repository
from mcp_server.search.filters import Filters
from mcp_server.search.hybrid import _symbols, search_code


async def _filters(db: Database, repo: str) -> Filters:
    async with db.pool.acquire() as conn:
        return Filters(repository_id=(await repositories.find(conn, repo)).id)


async def test_a_pasted_report_searches_by_its_rare_words_that_the_code_holds(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    root = tmp_path / "report"
    (root / "billing").mkdir(parents=True)
    (root / "billing" / "refunds.py").write_text(
        "def refund_invoice(invoice):\n    \"\"\"Refund a paid invoice.\"\"\"\n    return invoice.total * -1\n"
    )
    (root / "billing" / "users.py").write_text(
        "def load_user(request, value):\n    \"\"\"The user of a request, from the value of its session.\"\"\"\n"
        "    return request.session.get(value)\n"
    )
    await index_repository(db, settings, root, name="report")
    # Far more distinct words than the full-text passes take, most of them longer than the ones
    # that matter and found in no chunk: those must not take the places of "refund" and "invoice".
    absent = " ".join(f"unheardof{chr(97 + i)}{chr(97 + j)}" for i in range(12) for j in range(6))
    report = f"After the customers complained, {absent}, a user asked us to refund a paid invoice twice"
    assert len(report) < 2000
    result = await search_code(db.pool, None, report, filters=await _filters(db, "report"), mode="hybrid")
    assert result.results[0].path == "billing/refunds.py"


async def test_a_long_report_keeps_the_identifiers_it_names_first(
    db: Database, settings: Settings, tmp_path: Path
) -> None:
    root = tmp_path / "named"
    root.mkdir()
    (root / "zoning.py").write_text("def zone_parcel(parcel):\n    return parcel.zone\n")
    await index_repository(db, settings, root, name="named")
    others = " ".join(f"apply_rule_{i}" for i in range(20))  # sort before it, name nothing here
    filters = await _filters(db, "named")
    async with db.pool.acquire() as conn:
        found = await _symbols(conn, f"zone_parcel fails after {others}", filters, 40)
    assert found, "the identifier named first was dropped from a long query"
