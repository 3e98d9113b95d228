"""Languages parsed from their grammar's tags query: symbols, a call edge and identifier search, through the real index."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from mcp_server.config import Settings
from mcp_server.db.pool import Database
from mcp_server.embed.model import Embedder
from mcp_server.graph.walk import find_callers, get_dependencies
from mcp_server.index.parse import parse_source
from mcp_server.indexer import repositories
from mcp_server.indexer.file_private import is_file_private
from mcp_server.indexer.pipeline import index_repository
from mcp_server.search.filters import Filters
from mcp_server.search.hybrid import search_code

FIXTURES = Path(__file__).parent / "fixtures" / "langs"
REPO = "tags-langs"

# file, language, (kind, qualified name, start line) expected, callee, caller, identifier to search
CASES = [
    (
        "User.php",
        "php",
        [
            ("namespace", "App.Models", 2),
            ("class", "App.Models.User", 5),
            ("method", "App.Models.User.save", 6),
            ("method", "App.Models.User.validate", 7),
            ("function", "App.Models.helper", 10),
        ],
        "App.Models.helper",
        "App.Models.User.save",
        "helper",
    ),
    (
        "Cart.kt",
        "kotlin",
        [
            ("namespace", "com.shop", 1),
            ("class", "com.shop.Cart", 4),
            ("method", "com.shop.Cart.total", 5),
            ("method", "com.shop.Cart.addTax", 9),
            ("function", "com.shop.checkout", 12),
        ],
        "com.shop.Cart.addTax",
        "com.shop.Cart.total",
        "addTax",
    ),
    (
        "Basket.swift",
        "swift",
        [
            ("class", "Basket.Basket", 4),
            ("method", "Basket.Basket.total", 5),
            ("method", "Basket.Basket.withTax", 9),
            ("function", "Basket.pay", 12),
        ],
        "Basket.Basket.withTax",
        "Basket.Basket.total",
        "withTax",
    ),
    (
        "deploy.sh",
        "bash",
        [("function", "deploy.upload_build", 3), ("function", "deploy.deploy", 7)],
        "deploy.upload_build",
        "deploy.deploy",
        "upload_build",
    ),
    (
        "Ledger.scala",
        "scala",
        [
            ("namespace", "com.books", 1),
            ("class", "com.books.Ledger", 4),
            ("method", "com.books.Ledger.balance", 5),
            ("method", "com.books.Ledger.credit", 9),
            ("class", "com.books.Audit", 12),
            ("method", "com.books.Audit.check", 13),
        ],
        "com.books.Ledger.credit",
        "com.books.Ledger.balance",
        "credit",
    ),
    (
        "inventory.lua",
        "lua",
        [("function", "inventory.restock", 4), ("function", "inventory.count", 8)],
        "inventory.restock",
        "inventory.count",
        "restock",
    ),
    (
        "mailer.ex",
        "elixir",
        [
            ("namespace", "Notify.Mailer", 1),
            ("function", "Notify.Mailer.send_all", 6),
            ("function", "Notify.Mailer.deliver_one", 10),
        ],
        "Notify.Mailer.deliver_one",
        "Notify.Mailer.send_all",
        "deliver_one",
    ),
    (
        "wallet.dart",
        "dart",
        [("class", "wallet.Wallet", 2), ("method", "wallet.Wallet.pay", 5), ("method", "wallet.Wallet.transferFee", 9)],
        "wallet.Wallet.transferFee",
        "wallet.Wallet.pay",
        "transferFee",
    ),
    (
        "tokens.ml",
        "ocaml",
        [("function", "tokens.split_words", 2), ("function", "tokens.count_words", 5)],
        "tokens.split_words",
        "tokens.count_words",
        "split_words",
    ),
    (
        "Vault.sol",
        "solidity",
        [
            ("class", "Vault.Vault", 4),
            ("method", "Vault.Vault.withdraw", 7),
            ("method", "Vault.Vault.requireOwner", 11),
        ],
        "Vault.Vault.requireOwner",
        "Vault.Vault.withdraw",
        "requireOwner",
    ),
    (
        "Geometry.hs",
        "haskell",
        [
            ("namespace", "Shapes.Geometry", 1),
            ("function", "Shapes.Geometry.squareArea", 5),
            ("function", "Shapes.Geometry.scaledArea", 9),
        ],
        "Shapes.Geometry.squareArea",
        "Shapes.Geometry.scaledArea",
        "squareArea",
    ),
    (
        "queue.zig",
        "zig",
        [("class", "queue.JobQueue", 2), ("method", "queue.JobQueue.push", 5), ("function", "queue.growCapacity", 10)],
        "queue.growCapacity",
        "queue.JobQueue.push",
        "growCapacity",
    ),
    (
        "stats.jl",
        "julia",
        [("namespace", "Stats", 1), ("function", "Stats.sampletotal", 4), ("function", "Stats.samplemean", 8)],
        "Stats.sampletotal",
        "Stats.samplemean",
        "sampletotal",
    ),
    (
        "Logger.pm",
        "perl",
        [("namespace", "App.Logger", 1), ("function", "App.Logger.write_line", 5), ("function", "App.Logger.info", 10)],
        "App.Logger.write_line",
        "App.Logger.info",
        "write_line",
    ),
    (
        "Player.m",
        "objc",
        [
            ("class", "Player.Player", 4),
            ("method", "Player.Player.jumpHigh", 6),
            ("method", "Player.Player.landSoftly", 10),
        ],
        "Player.Player.landSoftly",
        "Player.Player.jumpHigh",
        "landSoftly",
    ),
]

# Single-file components: the script block's symbols, on the component's own lines.
COMPONENTS = [
    ("Counter.vue", "vue", "Counter.bumpCounter", 12, "Counter.increment", "bumpCounter"),
    ("Toggle.svelte", "svelte", "Toggle.redrawSwitch", 8, "Toggle.flip", "redrawSwitch"),
]


@pytest.fixture(scope="module")
async def tags_repo(
    db: Database, settings: Settings, embedder: Embedder, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    root = tmp_path_factory.mktemp("tags") / REPO
    shutil.copytree(FIXTURES, root)
    await index_repository(db, settings, root, name=REPO, embedder=embedder)
    return root


@pytest.mark.parametrize(("file", "language", "symbols", "callee", "caller", "ident"), CASES)
def test_symbols_have_qualified_names_kinds_and_spans(
    file: str, language: str, symbols: list[tuple[str, str, int]], callee: str, caller: str, ident: str
) -> None:
    parsed = parse_source((FIXTURES / file).read_bytes(), file, language, file.rsplit(".", 1)[0])
    got = [(s.kind, s.qualified_name, s.start_line) for s in parsed.symbols[1:]]
    assert got == symbols
    assert all(s.signature for s in parsed.symbols[1:])


@pytest.mark.parametrize(
    ("file", "language", "doc"),
    [("User.php", "php", "A user."), ("Cart.kt", "kotlin", "A basket of items.")]
    + [("Basket.swift", "swift", "A basket of goods."), ("Ledger.scala", "scala", "A book of accounts.")]
    + [
        ("wallet.dart", "dart", "Money a customer holds."),
        ("Vault.sol", "solidity", "Holds deposits until their owner takes them."),
    ]
    + [("queue.zig", "zig", "A ring of pending jobs."), ("Player.m", "objc", "Someone in the game.")],
)
def test_a_class_keeps_its_doc_comment(file: str, language: str, doc: str) -> None:
    parsed = parse_source((FIXTURES / file).read_bytes(), file, language, file.rsplit(".", 1)[0])
    assert [s.docstring for s in parsed.symbols if s.kind == "class"][0] == doc


@pytest.mark.parametrize(("file", "language", "symbols", "callee", "caller", "ident"), CASES)
async def test_a_same_file_call_resolves(
    db: Database,
    tags_repo: Path,
    file: str,
    language: str,
    symbols: list[tuple[str, str, int]],
    callee: str,
    caller: str,
    ident: str,
) -> None:
    callers = await find_callers(db.pool, callee, REPO)
    edges = [(e.source, e.target, e.confidence) for e in callers.edges]
    assert (caller, callee, 0.9) in edges


@pytest.mark.parametrize(("file", "language", "symbols", "callee", "caller", "ident"), CASES)
async def test_an_identifier_finds_its_definition(
    db: Database,
    embedder: Embedder,
    tags_repo: Path,
    file: str,
    language: str,
    symbols: list[tuple[str, str, int]],
    callee: str,
    caller: str,
    ident: str,
) -> None:
    async with db.pool.acquire() as conn:
        filters = Filters(repository_id=(await repositories.find(conn, REPO)).id)
    result = await search_code(db.pool, embedder, ident, filters=filters, mode="keyword", limit=5)
    assert result.results[0].symbol == callee
    assert result.results[0].path == file


@pytest.mark.parametrize(
    ("file", "language", "function", "doc"),
    [
        ("inventory.lua", "lua", "inventory.restock", "Puts stock back on the shelf."),
        ("tokens.ml", "ocaml", "tokens.count_words", "How many words a line holds."),
        ("Geometry.hs", "haskell", "Shapes.Geometry.scaledArea", "The area of a square scaled by k."),
        ("Logger.pm", "perl", "App.Logger.write_line", "Writes one line to the log."),
        ("mailer.ex", "elixir", "Notify.Mailer.send_all", "Hands every queued message to the mail server."),
        ("mailer.ex", "elixir", "Notify.Mailer", "Sends the queued mail."),
        ("stats.jl", "julia", "Stats.sampletotal", "The sum of the samples."),
        ("deploy.sh", "bash", "deploy.upload_build", "Copy the build to the server."),
    ],
)
def test_a_function_keeps_its_doc_comment(file: str, language: str, function: str, doc: str) -> None:
    parsed = parse_source((FIXTURES / file).read_bytes(), file, language, file.rsplit(".", 1)[0])
    assert {s.qualified_name: s.docstring for s in parsed.symbols}[function] == doc


def test_multi_clause_definitions_are_one_symbol() -> None:
    source = b"module M where\n\nfact :: Int -> Int\nfact 0 = 1\nfact n = n * fact (n - 1)\n"
    parsed = parse_source(source, "M.hs", "haskell", "M")
    facts = [s for s in parsed.symbols if s.name == "fact"]
    assert [(s.start_line, s.end_line) for s in facts] == [(4, 5)]


def test_keywords_and_operators_are_not_calls() -> None:
    elixir = parse_source((FIXTURES / "mailer.ex").read_bytes(), "mailer.ex", "elixir", "mailer")
    assert {e.target_name for e in elixir.edges} == {"Enum.map", "deliver_one"}
    ocaml = parse_source(b"let double x = ( * ) 2 x\n", "m.ml", "ocaml", "m")
    assert [e.target_name for e in ocaml.edges] == []


@pytest.mark.parametrize(("file", "language", "callee", "line", "caller", "ident"), COMPONENTS)
async def test_a_component_script_is_parsed_on_its_own_lines(
    db: Database,
    embedder: Embedder,
    tags_repo: Path,
    file: str,
    language: str,
    callee: str,
    line: int,
    caller: str,
    ident: str,
) -> None:
    parsed = parse_source((FIXTURES / file).read_bytes(), file, language, file.rsplit(".", 1)[0])
    assert parsed.language == language
    assert {s.qualified_name: s.start_line for s in parsed.symbols}[callee] == line
    callers = await find_callers(db.pool, callee, REPO)
    assert caller in {e.source for e in callers.edges}
    async with db.pool.acquire() as conn:
        filters = Filters(repository_id=(await repositories.find(conn, REPO)).id)
    result = await search_code(db.pool, embedder, ident, filters=filters, mode="keyword", limit=5)
    assert (result.results[0].symbol, result.results[0].path) == (callee, file)


@pytest.mark.parametrize(
    ("callee", "caller"),
    [
        ("App.Models.User", "App.Http.Controller.store"),  # through `use App\Models\User`
        ("com.shop.checkout", "com.shop.printReceipt"),  # same package, another file
        ("com.books.Audit.check", "com.books.reports.Report.monthly"),  # `import com.books.{Audit, ...}`
    ],
)
async def test_calls_resolve_through_imports_and_packages(
    db: Database, tags_repo: Path, callee: str, caller: str
) -> None:
    callers = await find_callers(db.pool, callee, REPO)
    assert (caller, 0.9) in {(e.source, e.confidence) for e in callers.edges}


def test_imports_bind_their_aliases() -> None:
    parsed = parse_source((FIXTURES / "Report.scala").read_bytes(), "Report.scala", "scala", "Report")
    imports = {(e.alias, e.candidates) for e in parsed.edges if e.kind == "imports"}
    assert imports == {("Audit", (("com.books.Audit", 1.0),)), ("Book", (("com.books.Ledger", 1.0),))}


async def test_receivers_decide_what_a_member_call_may_mean(db: Database, tags_repo: Path) -> None:
    own = await find_callers(db.pool, "App.Mail.Mailer.queueReport", REPO)
    assert {(e.source, e.confidence) for e in own.edges} == {("App.Mail.Mailer.sendReport", 0.9)}
    # `$mailer->sendReport()`: the name is unique in the repository, but an untyped variable's
    # member is not guessed.
    assert (await find_callers(db.pool, "App.Mail.Mailer.sendReport", REPO)).edges == []


@pytest.mark.parametrize(
    ("query", "symbol"),
    [
        ("put stock back on the shelf", "inventory.restock"),  # Lua
        ("count the words in a line of text", "tokens.count_words"),  # OCaml
        ("area of a square that has been scaled", "Shapes.Geometry.scaledArea"),  # Haskell
        ("write one line to the log", "App.Logger.write_line"),  # Perl
        ("a book of accounts", "com.books.Ledger"),  # Scala
        ("money that a customer holds", "wallet.Wallet"),  # Dart
        ("hold deposits until the owner takes them", "Vault.Vault"),  # Solidity
        ("a ring of jobs waiting to run", "queue.JobQueue"),  # Zig
        ("hand the queued messages to the mail server", "Notify.Mailer.send_all"),  # Elixir
        ("the sum of the samples", "Stats.sampletotal"),  # Julia
        ("a price cut that comes with the season", "Pricing.Discount"),  # Swift
        ("print a message with the time of day in front", "scripts.lib.common.log_line"),  # Bash
    ],
)
async def test_a_description_finds_its_definition(
    db: Database, embedder: Embedder, tags_repo: Path, query: str, symbol: str
) -> None:
    async with db.pool.acquire() as conn:
        filters = Filters(repository_id=(await repositories.find(conn, REPO)).id)
    result = await search_code(db.pool, embedder, query, filters=filters, limit=3)
    # the definition, or a member of the class it describes
    assert any(h.symbol == symbol or (h.symbol or "").startswith(symbol + ".") for h in result.results)


SWIFT = "SwiftShop/Sources"


def test_a_swift_package_target_names_its_definitions() -> None:
    path = f"{SWIFT}/Pricing/Discount.swift"
    parsed = parse_source((FIXTURES / path).read_bytes(), path, "swift", path.removesuffix(".swift").replace("/", "."))
    got = [(s.kind, s.qualified_name, s.docstring) for s in parsed.symbols[1:]]
    assert got == [
        ("class", "Pricing.Discount", "A price cut that a season brings."),
        ("method", "Pricing.Discount.seasonal", "The discount of the current season."),
    ]


@pytest.mark.parametrize(
    ("callee", "caller"),
    [
        ("com.stamps.Stamps.inkLine", "com.stamps.Stamps.stamp"),  # Kotlin `private fun`
        ("Logbook.Logbook.summarize", "Logbook.Logbook.entry"),  # Swift `private func`
        ("com.stamps.Stamps.Smudge", "com.stamps.Stamps.blot"),  # a nested class, bare in its own file
    ],
)
async def test_private_and_nested_declarations_are_guessed_in_their_own_file_only(
    db: Database, tags_repo: Path, callee: str, caller: str
) -> None:
    # Envelope.kt's `inkLine(text)` and `Smudge("there")`, and LogbookSpec.swift's
    # `summarize("entries") { }` name no other definition in the repository, yet are not these.
    found = await find_callers(db.pool, callee, REPO)
    assert {(e.source, e.confidence) for e in found.edges} == {(caller, 0.9)}


async def test_a_member_of_a_named_type_is_guessed_on_that_type_only(db: Database, tags_repo: Path) -> None:
    found = await find_callers(db.pool, "com.stamps.Stamps.parseStamp", REPO)
    assert {(e.source, e.confidence) for e in found.edges} == {("com.post.readStamp", 0.5)}  # not decodeStamp


async def test_a_standard_method_on_an_implicit_receiver_is_no_guess(db: Database, tags_repo: Path) -> None:
    # `JSONObject().apply { put(...) }` is JSONObject's put; `Stamps.put(...)` names the type.
    found = await find_callers(db.pool, "com.stamps.Stamps.put", REPO)
    assert {(e.source, e.confidence) for e in found.edges} == {("com.post.inked", 0.5)}


async def test_super_in_an_override_is_not_the_override(db: Database, tags_repo: Path) -> None:
    assert (await find_callers(db.pool, "com.frames.Frame.requestLayout", REPO)).edges == []


def test_file_private_reads_the_modifiers_before_the_keyword() -> None:
    assert is_file_private("swift", "@discardableResult private func describe(value: Any) -> String")
    assert is_file_private("swift", "fileprivate static func a()")
    assert is_file_private("kotlin", '@Suppress("A", "B") private inline fun renderLine(x: String)')
    assert not is_file_private("kotlin", "internal class Boom(m: String)")
    assert not is_file_private("swift", "func f(private: Int)")  # a parameter's label
    assert not is_file_private("java", "private void run()")  # the rule is Kotlin and Swift's


@pytest.mark.parametrize(
    ("callee", "callers"),
    [
        # another file of the same target; Shipping defines a defaultRate of its own
        ("Pricing.defaultRate", {"Pricing.Discount.seasonal"}),
        ("Shipping.defaultRate", {"Shipping.applyDiscount"}),
        # through `import Pricing`, bare and with the module written out
        ("Pricing.applyDiscount", {"Storefront.checkoutTotal", "Storefront.namedTotal"}),
        ("Pricing.Discount.seasonal", {"Storefront.checkoutTotal", "Storefront.namedTotal"}),
        ("Shipping.applyDiscount", set()),
        # Bash: functions of the file a script sources, by its folder or the repository root
        ("scripts.lib.common.log_line", {"scripts.release.tag_release", "build.build_assets"}),
        ("scripts.legacy.log_line", set()),
    ],
)
async def test_calls_resolve_through_swift_modules_and_sourced_scripts(
    db: Database, tags_repo: Path, callee: str, callers: set[str]
) -> None:
    found = await find_callers(db.pool, callee, REPO)
    assert {(e.source, e.confidence) for e in found.edges} == {(c, 0.9) for c in callers}


@pytest.mark.parametrize(
    ("path", "imported"),
    [("build.sh", "scripts/lib/common.sh"), ("scripts/release.sh", "scripts/lib/common.sh")],
)
async def test_a_sourced_script_is_a_dependency(db: Database, tags_repo: Path, path: str, imported: str) -> None:
    async with db.pool.acquire() as conn:
        deps = await get_dependencies(conn, path, REPO)
    assert deps.files == [imported]


@pytest.mark.parametrize(
    ("query", "symbol", "path"),
    [
        ("checkoutTotal", "Storefront.checkoutTotal", f"{SWIFT}/Storefront/Checkout.swift"),
        ("tag_release", "scripts.release.tag_release", "scripts/release.sh"),
    ],
)
async def test_an_identifier_finds_a_module_definition(
    db: Database, embedder: Embedder, tags_repo: Path, query: str, symbol: str, path: str
) -> None:
    async with db.pool.acquire() as conn:
        filters = Filters(repository_id=(await repositories.find(conn, REPO)).id)
    result = await search_code(db.pool, embedder, query, filters=filters, mode="keyword", limit=5)
    assert (result.results[0].symbol, result.results[0].path) == (symbol, path)


@pytest.mark.parametrize(
    ("language", "source", "function", "doc"),
    [
        (
            "php",
            b"<?php\nclass A {\n    /**\n     * Saves the row.\n     */\n    function save() {}\n}\n",
            "m.A.save",
            "Saves the row.",
        ),
        (
            "kotlin",
            b"class A {\n    /** Adds the tax. */\n    fun addTax(x: Int) = x\n}\n",
            "m.A.addTax",
            "Adds the tax.",
        ),
        (
            "scala",
            b"object A {\n  /** Credits an account. */\n  def credit(x: Int) = x\n}\n",
            "m.A.credit",
            "Credits an account.",
        ),
        ("swift", b"class A {\n    /// Adds the tax.\n    func withTax() {}\n}\n", "m.A.withTax", "Adds the tax."),
        (
            "bash",
            b"#!/bin/bash\n\n# Uploads the build.\n# Needs ssh.\nupload() { :; }\n",
            "m.upload",
            "Uploads the build.\nNeeds ssh.",
        ),
        (
            "elixir",
            b'defmodule M do\n  @doc """\n  Sends it.\n  """\n  @impl true\n  def go(x), do: x\nend\n',
            "M.go",
            "Sends it.",
        ),
        ("elixir", b"defmodule M do\n  @doc false\n  def go(x), do: x\nend\n", "M.go", None),
        ("elixir", b'defmodule M do\n  @doc "First."\n  def a(x), do: x\n  def b(x), do: x\nend\n', "M.b", None),
        ("julia", b'"""\n    half(x)\n\nHalves x.\n"""\nhalf(x) = x / 2\n', "m.half", "    half(x)\n\nHalves x."),
        ("julia", b'"Not a doc."\n\nfunction f(x) x end\n', "m.f", None),
    ],
)
def test_methods_and_functions_keep_their_docs(language: str, source: bytes, function: str, doc: str | None) -> None:
    parsed = parse_source(source, "m.x", language, "m")
    assert {s.qualified_name: s.docstring for s in parsed.symbols}[function] == doc


@pytest.mark.parametrize(
    ("language", "source", "module"),
    [("kotlin", b"import com.shop.*\n", "com.shop"), ("scala", b"import com.books._\n", "com.books")],
)
def test_a_wildcard_import_imports_the_package(language: str, source: bytes, module: str) -> None:
    parsed = parse_source(
        source + b"fun f() = helper()\n" if language == "kotlin" else source + b"object A { def f() = helper() }\n",
        "m.x",
        language,
        "m",
    )
    assert [(e.kind, e.candidates[0][0]) for e in parsed.edges if e.kind == "imports"] == [("imports", module)]
    call = next(e for e in parsed.edges if e.kind == "calls")
    assert (f"{module}.helper", 0.9) in call.candidates


@pytest.mark.parametrize(
    ("callee", "callers"),
    [
        # a promoted constructor parameter (`private Clock $clock`), a typed parameter, `new Clock()`
        # and one checked by `instanceof Clock`
        (
            "App.Log.Clock.tick",
            {"App.Log.StreamHandler.handle", "App.Log.stamp", "App.Log.fresh", "App.Log.Relay.pass"},
        ),
        # a closure's `use ($self)`, bound to `$this` in the enclosing method
        ("App.Log.Relay.hop", {"App.Log.Relay.pass"}),
        ("App.Log.Metronome.tick", set()),
        # `$this->writeRecord()` defined in the base class
        ("App.Log.BaseHandler.writeRecord", {"App.Log.StreamHandler.handle"}),
        # the return type of an inherited method, named through `use`, defined in another file;
        # a property the base class types (`$this->formatter` in BufferedHandler)
        ("App.Format.FormatterInterface.render", {"App.Log.StreamHandler.handle", "App.Log.BufferedHandler.flushAll"}),
        # a loop over a property documented `@var HandlerInterface[]`
        ("App.Log.HandlerInterface.handle", {"App.Log.StreamHandler.handle"}),
    ],
)
async def test_php_calls_resolve_through_declared_types(
    db: Database, tags_repo: Path, callee: str, callers: set[str]
) -> None:
    found = await find_callers(db.pool, callee, REPO)
    assert {e.source for e in found.edges if e.confidence >= 0.9} == callers


def test_php_classes_inherit_their_bases_interfaces_and_traits() -> None:
    source = b"<?php\nnamespace A;\nuse B\\Base;\nclass C extends Base implements \\I\\J, K { use T; }\n"
    parsed = parse_source(source, "C.php", "php", "C")
    assert [e.candidates for e in parsed.edges if e.kind == "inherits"] == [
        (("B.Base", 1.0),),
        (("I.J", 1.0),),
        (("A.K", 1.0),),
        (("A.T", 1.0),),
    ]


async def test_a_php_call_through_an_interface_is_a_caller_of_its_implementations(
    db: Database, tags_repo: Path
) -> None:
    # `$child->handle()` on a HandlerInterface may run NullHandler::handle, as intelephense counts it
    found = await find_callers(db.pool, "App.Log.NullHandler.handle", REPO)
    assert {e.source for e in found.edges} == {"App.Log.StreamHandler.handle"}


@pytest.mark.parametrize(
    ("path", "language", "source", "imports"),
    [
        ("Tests/PricingTests/T.swift", "swift", b"@testable import Pricing\n", [("Pricing", None)]),
        ("Sources/App/A.swift", "swift", b"import struct Pricing.Discount\n", [("Pricing.Discount", "Discount")]),
        ("ci/run.sh", "bash", b'source "$LIB"\n. /etc/profile\nsource ../lib.sh\n', [("lib", None)]),
        ("run.sh", "bash", b"source ../outside.sh\n", []),
    ],
)
def test_import_declarations_name_what_they_import(
    path: str, language: str, source: bytes, imports: list[tuple[str, str | None]]
) -> None:
    parsed = parse_source(source, path, language, path.rsplit(".", 1)[0].replace("/", "."))
    assert [(e.candidates[0][0], e.alias) for e in parsed.edges if e.kind == "imports"] == imports
