"""Symbols and raw edges the tree-sitter parsers extract from JS/TS, Go, Rust, Java, C, C++, C# and Ruby."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from mcp_server.index.parse import parse_source
from mcp_server.index.project import Project
from mcp_server.index.records import (
    ARG_TYPE,
    ARITY,
    CONF_EXACT,
    CONF_SCOPED,
    CONF_UNIQUE,
    NAME_FALLBACK,
    TYPE_OF,
    ParsedFile,
    RawEdge,
    Symbol,
)

LANGUAGES = ("javascript", "typescript", "tsx", "go", "rust", "java", "c", "cpp", "csharp", "ruby")


def parse(language: str, path: str, module_name: str, text: str) -> ParsedFile:
    return parse_source(text.removeprefix("\n").encode(), path, language, module_name)


def symbol(parsed: ParsedFile, qualified_name: str) -> Symbol:
    found = [s for s in parsed.symbols if s.qualified_name == qualified_name]
    assert found, f"no {qualified_name!r} in {[s.qualified_name for s in parsed.symbols]}"
    return found[0]


def edges(parsed: ParsedFile, kind: str, target: str) -> list[RawEdge]:
    found = [e for e in parsed.edges if e.kind == kind and e.target_name == target]
    assert found, f"no {kind} edge to {target!r} in {[(e.kind, e.target_name) for e in parsed.edges]}"
    return found


def index(parsed: ParsedFile, qualified_name: str) -> int:
    return [s.qualified_name for s in parsed.symbols].index(qualified_name)


def source_of(parsed: ParsedFile, edge: RawEdge) -> str:
    return parsed.symbols[edge.source].qualified_name


# ---- one realistic file per language ------------------------------------------------------

TYPESCRIPT = """
/** HTTP client for the billing API. */
import { formatDate as fmt } from "../utils/format";
import * as path from "path";
import Base from "./base";

export const DEFAULT_TIMEOUT = 30;

export interface Closeable {
  close(): void;
}

/**
 * Talks to the billing service.
 */
export class Client extends Base implements Closeable {
  private retries: number = 3;

  constructor(private readonly url: string) {
    super(url);
  }

  // Fetches one invoice.
  async get(id: string): Promise<Invoice> {
    const when = fmt(new Date());
    this.log(when);
    return this.request(path.join(this.url, id));
  }

  close(): void {}

  private request(url: string): Promise<Invoice> {
    return fetch(url).then((r) => r.json());
  }
}

export type Invoice = { id: string; total: number };

export const makeClient = (url: string): Client => new Client(url);

export function main(): void {
  const c = makeClient("https://x");
  c.get("1");
}
"""

GO = """
// Package server exposes invoices over HTTP.
package server

import (
	"fmt"
	"net/http"

	"github.com/acme/billing/internal/store"
)

// MaxBody caps request bodies.
const MaxBody = 1 << 20

// Server serves invoices.
type Server struct {
	Logger
	db *store.DB
}

// ServeHTTP handles one request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	inv, err := s.db.Find(r.URL.Path)
	if err != nil {
		s.fail(w, err)
		return
	}
	fmt.Fprintln(w, render(inv))
}

func (s *Server) fail(w http.ResponseWriter, err error) {
	http.Error(w, err.Error(), 500)
}

func render(inv *store.Invoice) string {
	return fmt.Sprintf("%v", len(inv.Lines))
}

// New builds a Server.
func New(db *store.DB) *Server {
	return &Server{db: db}
}
"""

RUST = """
//! HTTP transport for the billing client.
use std::collections::HashMap;
use crate::net::{Conn, tls::Config as TlsConfig};
use super::codec::Codec;

/// Maximum number of pooled connections.
pub const MAX_POOL: usize = 8;

/// A pooled HTTP client.
#[derive(Debug)]
pub struct Client {
    pool: HashMap<String, Conn>,
    tls: TlsConfig,
}

pub trait Transport {
    fn send(&self, body: &[u8]) -> usize;
}

impl Client {
    /// Builds a client.
    pub fn new(tls: TlsConfig) -> Self {
        let c = Client { pool: HashMap::new(), tls };
        c.warm();
        c
    }

    fn warm(&self) {
        self.connect("localhost");
        helper();
    }

    fn connect(&self, host: &str) -> Conn {
        Conn::open(host)
    }
}

impl Transport for Client {
    fn send(&self, body: &[u8]) -> usize {
        Codec::encode(body).len()
    }
}

mod pool {
    pub fn size() -> usize { super::helper() }
}

fn helper() -> usize {
    Client::new(TlsConfig::default());
    0
}
"""

JAVA = """
package com.acme.billing;

import java.util.List;
import com.acme.store.Repository;
import static com.acme.util.Strings.trim;

/**
 * Invoice service.
 */
@Service
public class Invoices extends BaseService implements Repository.Listener {
    private final Repository repo;

    /** Creates the service. */
    public Invoices(Repository repo) {
        super(repo);
        this.repo = repo;
    }

    // Adds two totals.
    @Override
    public static int add(int a, int b) {
        return a + b;
    }

    public List<Invoice> open(String customer) {
        audit(trim(customer));
        Invoice inv = new Invoice(customer);
        this.repo.save(inv);
        return Invoices.filter(repo.all());
    }

    private void audit(String who) {}

    static List<Invoice> filter(List<Invoice> all) { return all; }
}

class Invoice {
    Invoice(String customer) {}
}
"""

C = """
/* Singly linked lists. */
#include <stdlib.h>
#include "list.h"

/* A list node. */
typedef struct node {
    struct node *next;
    int value;
} node_t;

struct list {
    node_t *head;
};

static node_t *alloc_node(int value) {
    node_t *n = malloc(sizeof *n);
    n->value = value;
    return n;
}

/* Pushes a value. */
void list_push(struct list *l, int value) {
    node_t *n = alloc_node(value);
    n->next = l->head;
    l->head = n;
}
"""

CPP = """
// Geometry primitives.
#include <cmath>
#include "geo/shape.h"

namespace geo {

/// A point in the plane.
class Point : public Shape {
public:
    Point(double x, double y) : x_(x), y_(y) {}
    double norm() const;
    static Point origin();
private:
    double x_, y_;
};

double dot(const Point& a, const Point& b);

}  // namespace geo

// Euclidean length.
double geo::Point::norm() const {
    return std::sqrt(dot(*this, *this)) + this->scale();
}

geo::Point geo::Point::origin() {
    return Point(0, 0);
}

int main() {
    geo::Point p = geo::Point::origin();
    auto q = new geo::Point(1, 2);
    return (int)p.norm();
}
"""

CSHARP = """
using System;
using Acme.Store;
using Json = System.Text.Json.JsonSerializer;

namespace Acme.Billing;

/// <summary>Invoice service.</summary>
[Serializable]
public class InvoiceService : ServiceBase, IDisposable
{
    private readonly IRepository repo;

    public InvoiceService(IRepository repo) : base(repo)
    {
        this.repo = repo;
    }

    /// <summary>Adds two totals.</summary>
    public static int Add(int a, int b) => a + b;

    public Invoice Open(string customer)
    {
        Audit(customer);
        var inv = new Invoice(customer);
        this.repo.Save(inv);
        return InvoiceService.Filter(inv);
    }

    private void Audit(string who) { }

    static Invoice Filter(Invoice inv) => inv;

    public void Dispose() { }
}

public record Invoice(string Customer);
"""

RUBY = """
# frozen_string_literal: true

require "json"
require_relative "support/money"

module Billing
  # An invoice for one customer.
  class Invoice < Base
    include Comparable

    def initialize(total)
      @total = total
      validate
    end

    # Builds an invoice from JSON.
    def self.parse(text)
      new(JSON.parse(text)["total"])
    end

    def pay(gateway)
      gateway.charge(total_cents)
      Money.format(total_cents)
    end

    def total_cents
      (@total * 100).round
    end

    private

    def validate
      raise ArgumentError if @total.negative?
    end
  end
end

def load_invoice(text)
  Billing::Invoice.parse(text)
end
"""


@dataclass(frozen=True)
class Case:
    language: str
    path: str
    module_name: str
    text: str
    module_doc: str | None
    # qualified name -> (kind, start line, end line, signature, docstring)
    symbols: dict[str, tuple[str, int, int, str, str | None]]
    # (kind, target as written, qualified name of the source symbol, first candidate or None)
    edges: list[tuple[str, str, str, str | None]]
    alias: tuple[str, str] | None = None  # (import target, the local name it binds)


CASES = [
    Case(
        "typescript",
        "src/api/client.ts",
        "src.api.client",
        TYPESCRIPT,
        "HTTP client for the billing API.",
        {
            "src.api.client.Client": (
                "class",
                15,
                34,
                "class Client extends Base implements Closeable",
                "Talks to the billing service.",
            ),
            "src.api.client.Client.get": (
                "method",
                23,
                27,
                "async get(id: string): Promise<Invoice>",
                "Fetches one invoice.",
            ),
            "src.api.client.Closeable": ("interface", 8, 10, "interface Closeable", None),
            "src.api.client.Invoice": ("type", 36, 36, "type Invoice = { id: string; total: number }", None),
            "src.api.client.makeClient": ("function", 38, 38, "const makeClient = (url: string): Client =>", None),
            "src.api.client.main": ("function", 40, 43, "function main(): void", None),
            "src.api.client.DEFAULT_TIMEOUT": ("constant", 6, 6, "const DEFAULT_TIMEOUT", None),
        },
        [
            ("imports", "formatDate", "src.api.client", "src.utils.format.formatDate"),
            ("imports", "./base", "src.api.client", "src.api.base.default"),  # what it exports as default
            ("inherits", "Base", "src.api.client.Client", "src.api.base.Base"),
            ("inherits", "Closeable", "src.api.client.Client", "src.api.client.Closeable"),
            ("calls", "fmt", "src.api.client.Client.get", "src.utils.format.formatDate"),
            ("calls", "this.request", "src.api.client.Client.get", "src.api.client.Client.request"),
            ("calls", "this.log", "src.api.client.Client.get", "src.api.client.Client.log"),
            ("calls", "makeClient", "src.api.client.main", "src.api.client.makeClient"),
            ("calls", "Client", "src.api.client.makeClient", "src.api.client.Client"),
            ("calls", "path.join", "src.api.client.Client.get", ":ext:path.join"),  # a dependency: never guessed
            ("calls", "c.get", "src.api.client.main", "src.api.client.makeClient.get"),  # its return type
            ("references", "Invoice", "src.api.client.Client.get", "src.api.client.Invoice"),
        ],
        alias=("formatDate", "fmt"),
    ),
    Case(
        "go",
        "internal/server/server.go",
        "internal.server.server",
        GO,
        "Package server exposes invoices over HTTP.",
        {
            "server.Server": ("struct", 15, 18, "type Server struct", "Server serves invoices."),
            "server.Server.ServeHTTP": (
                "method",
                21,
                28,
                "func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request)",
                "ServeHTTP handles one request.",
            ),
            "server.render": ("function", 34, 36, "func render(inv *store.Invoice) string", None),
            "server.New": ("function", 39, 41, "func New(db *store.DB) *Server", "New builds a Server."),
            "server.MaxBody": ("constant", 12, 12, "const MaxBody", "MaxBody caps request bodies."),
        },
        [
            ("imports", "net/http", "internal.server.server", None),
            ("inherits", "Logger", "server.Server", "server.Logger"),
            ("calls", "s.fail", "server.Server.ServeHTTP", "server.Server.fail"),
            ("calls", "render", "server.Server.ServeHTTP", "server.render"),
            ("calls", "fmt.Fprintln", "server.Server.ServeHTTP", "fmt.Fprintln"),
            ("calls", "http.Error", "server.Server.fail", "http.Error"),
            ("calls", "s.db.Find", "server.Server.ServeHTTP", "server.Server.db.Find"),  # on the field's type
            ("references", "store.DB", "server.New", "store.DB"),
            ("references", "Server", "server.New", "server.Server"),
        ],
        alias=("github.com/acme/billing/internal/store", "store"),
    ),
    Case(
        "rust",
        "src/net/http.rs",
        "src.net.http",
        RUST,
        "HTTP transport for the billing client.",
        {
            "crate::net::http::Client": ("struct", 11, 14, "pub struct Client", "A pooled HTTP client."),
            "crate::net::http::Client::new": (
                "method",
                22,
                26,
                "pub fn new(tls: TlsConfig) -> Self",
                "Builds a client.",
            ),
            "crate::net::http::Client::send": ("method", 39, 41, "fn send(&self, body: &[u8]) -> usize", None),
            "crate::net::http::Transport": ("trait", 16, 18, "pub trait Transport", None),
            "crate::net::http::Transport::send": ("method", 17, 17, "fn send(&self, body: &[u8]) -> usize", None),
            "crate::net::http::pool": ("module", 44, 46, "mod pool", None),
            "crate::net::http::pool::size": ("function", 45, 45, "pub fn size() -> usize", None),
            "crate::net::http::helper": ("function", 48, 51, "fn helper() -> usize", None),
            "crate::net::http::MAX_POOL": (
                "constant",
                7,
                7,
                "pub const MAX_POOL: usize",
                "Maximum number of pooled connections.",
            ),
        },
        [
            ("imports", "crate::net::tls::Config", "src.net.http", "crate::net::tls::Config"),
            ("imports", "super::codec::Codec", "src.net.http", "crate::net::codec::Codec"),
            ("inherits", "Transport", "crate::net::http::Client", "crate::net::http::Transport"),
            ("calls", "self.connect", "crate::net::http::Client::warm", "crate::net::http::Client::connect"),
            ("calls", "helper", "crate::net::http::Client::warm", "crate::net::http::helper"),
            ("calls", "Client::new", "crate::net::http::helper", "crate::net::http::Client::new"),
            ("calls", "Conn::open", "crate::net::http::Client::connect", "crate::net::Conn::open"),
            ("calls", "super::helper", "crate::net::http::pool::size", "crate::net::http::helper"),
            (
                "calls",
                "c.warm",
                "crate::net::http::Client::new",
                "crate::net::http::Client::warm",
            ),  # `let c = Client {..}`
            # a field is a symbol of its struct, whose type edge names the type
            ("references", "TlsConfig", "crate::net::http::Client::tls", "crate::net::tls::Config"),
        ],
        alias=("crate::net::tls::Config", "TlsConfig"),
    ),
    Case(
        "java",
        "src/main/java/com/acme/billing/Invoices.java",
        "src.main.java.com.acme.billing.Invoices",
        JAVA,
        None,
        {
            "com.acme.billing.Invoices": (
                "class",
                10,
                36,
                "public class Invoices extends BaseService implements Repository.Listener",
                "Invoice service.",
            ),
            "com.acme.billing.Invoices.Invoices": (
                "constructor",
                15,
                18,
                "public Invoices(Repository repo)",
                "Creates the service.",
            ),
            "com.acme.billing.Invoices.add": (
                "method",
                21,
                24,
                "public static int add(int a, int b)",
                "Adds two totals.",
            ),
            "com.acme.billing.Invoices.open": ("method", 26, 31, "public List<Invoice> open(String customer)", None),
            "com.acme.billing.Invoice": ("class", 38, 40, "class Invoice", None),
        },
        [
            (
                "imports",
                "com.acme.store.Repository",
                "src.main.java.com.acme.billing.Invoices",
                "com.acme.store.Repository",
            ),
            ("inherits", "BaseService", "com.acme.billing.Invoices", "com.acme.billing.BaseService"),
            ("inherits", "Repository.Listener", "com.acme.billing.Invoices", "com.acme.store.Repository.Listener"),
            ("calls", "audit", "com.acme.billing.Invoices.open", "com.acme.billing.Invoices.audit"),
            ("calls", "trim", "com.acme.billing.Invoices.open", "com.acme.util.Strings.trim"),
            # the constructor it declares (else, next candidate, the class)
            ("calls", "Invoice", "com.acme.billing.Invoices.open", "com.acme.billing.Invoice.Invoice"),
            ("calls", "Invoices.filter", "com.acme.billing.Invoices.open", "com.acme.billing.Invoices.filter"),
            ("calls", "super", "com.acme.billing.Invoices.Invoices", "com.acme.billing.BaseService.BaseService"),
            ("calls", "this.repo.save", "com.acme.billing.Invoices.open", "com.acme.store.Repository.save"),
            ("calls", "repo.all", "com.acme.billing.Invoices.open", "com.acme.store.Repository.all"),
            ("references", "Repository", "com.acme.billing.Invoices", "com.acme.store.Repository"),
        ],
        alias=("com.acme.util.Strings.trim", "trim"),
    ),
    Case(
        "c",
        "src/list.c",
        "src.list",
        C,
        "Singly linked lists.",
        {
            "node_t": ("type", 6, 9, "typedef struct node node_t", "A list node."),
            "node": ("struct", 6, 9, "struct node", "A list node."),
            "list": ("struct", 11, 13, "struct list", None),
            # a `static` function is its file's own
            "src/list.c::alloc_node": ("function", 15, 19, "static node_t *alloc_node(int value)", None),
            "list_push": ("function", 22, 26, "void list_push(struct list *l, int value)", "Pushes a value."),
        },
        [
            ("imports", "stdlib.h", "src.list", None),
            ("imports", "list.h", "src.list", "list"),
            ("calls", "alloc_node", "list_push", "src/list.c::alloc_node"),
            ("calls", "malloc", "src/list.c::alloc_node", None),
            ("references", "node_t", "list_push", "node_t"),
            ("references", "list", "list_push", "list"),
        ],
    ),
    Case(
        "cpp",
        "src/geo/point.cpp",
        "src.geo.point",
        CPP,
        "Geometry primitives.",
        {
            "geo": ("namespace", 5, 19, "namespace geo", None),
            "geo::Point": ("class", 8, 15, "class Point : public Shape", "A point in the plane."),
            "geo::Point::Point": ("constructor", 10, 10, "Point(double x, double y) : x_(x), y_(y)", None),
            "geo::Point::norm": ("method", 11, 11, "double norm() const", None),
            "main": ("function", 30, 34, "int main()", None),
        },
        [
            ("imports", "geo/shape.h", "src.geo.point", "src.geo.geo.shape"),
            ("inherits", "Shape", "geo::Point", "geo::Shape"),  # of the enclosing namespace, if any
            ("calls", "dot", "geo::Point::norm", "geo::dot"),
            ("calls", "this.scale", "geo::Point::norm", "geo::Point::scale"),
            ("calls", "geo::Point::origin", "main", "geo::Point::origin"),
            ("calls", "geo::Point", "main", "geo::Point::Point"),  # the constructor
            ("calls", "p.norm", "main", "geo::Point::norm"),  # p is declared a geo::Point
            ("references", "geo::Point", "main", "geo::Point"),
        ],
    ),
    Case(
        "csharp",
        "src/Billing/Invoices.cs",
        "src.Billing.Invoices",
        CSHARP,
        None,
        {
            "Acme.Billing": ("namespace", 5, 36, "namespace Acme.Billing", None),
            "Acme.Billing.InvoiceService": (
                "class",
                8,
                34,
                "public class InvoiceService : ServiceBase, IDisposable",
                "Invoice service.",
            ),
            "Acme.Billing.InvoiceService.InvoiceService": (
                "constructor",
                13,
                16,
                "public InvoiceService(IRepository repo) : base(repo)",
                None,
            ),
            "Acme.Billing.InvoiceService.Add": (
                "method",
                19,
                19,
                "public static int Add(int a, int b)",
                "Adds two totals.",
            ),
            "Acme.Billing.InvoiceService.Open": ("method", 21, 27, "public Invoice Open(string customer)", None),
            "Acme.Billing.Invoice": ("class", 36, 36, "public record Invoice(string Customer)", None),
        },
        [
            ("imports", "Acme.Store", "src.Billing.Invoices", "Acme.Store"),
            ("inherits", "ServiceBase", "Acme.Billing.InvoiceService", "Acme.Billing.ServiceBase"),
            ("inherits", "IDisposable", "Acme.Billing.InvoiceService", None),
            ("calls", "Audit", "Acme.Billing.InvoiceService.Open", "Acme.Billing.InvoiceService.Audit"),
            ("calls", "Invoice", "Acme.Billing.InvoiceService.Open", "Acme.Billing.Invoice"),
            (
                "calls",
                "InvoiceService.Filter",
                "Acme.Billing.InvoiceService.Open",
                "Acme.Billing.InvoiceService.Filter",
            ),
            ("calls", "this.repo.Save", "Acme.Billing.InvoiceService.Open", "Acme.Billing.IRepository.Save"),  # a field
            ("references", "Invoice", "Acme.Billing.InvoiceService.Open", "Acme.Billing.Invoice"),
            ("references", "IRepository", "Acme.Billing.InvoiceService", "Acme.Billing.IRepository"),
        ],
        alias=("System.Text.Json.JsonSerializer", "Json"),
    ),
    Case(
        "ruby",
        "lib/billing/invoice.rb",
        "lib.billing.invoice",
        RUBY,
        None,
        {
            "Billing": ("module", 6, 36, "module Billing", None),
            "Billing::Invoice": ("class", 8, 35, "class Invoice < Base", "An invoice for one customer."),
            "Billing::Invoice#initialize": ("method", 11, 14, "def initialize(total)", None),
            "Billing::Invoice.parse": ("method", 17, 19, "def self.parse(text)", "Builds an invoice from JSON."),
            "Billing::Invoice#pay": ("method", 21, 24, "def pay(gateway)", None),
            "load_invoice": ("function", 38, 40, "def load_invoice(text)", None),
        },
        [
            ("imports", "json", "lib.billing.invoice", "lib.json"),
            ("imports", "support/money", "lib.billing.invoice", "lib.billing.support.money"),
            ("inherits", "Base", "Billing::Invoice", "Billing::Base"),
            ("inherits", "Comparable", "Billing::Invoice", "Billing::Invoice::Comparable"),
            ("calls", "validate", "Billing::Invoice#initialize", "Billing::Invoice#validate"),
            ("calls", "total_cents", "Billing::Invoice#pay", "Billing::Invoice#total_cents"),
            ("calls", "new", "Billing::Invoice.parse", "Billing::Invoice"),
            ("calls", "Billing::Invoice.parse", "load_invoice", "Billing::Invoice.parse"),
            ("calls", "gateway.charge", "Billing::Invoice#pay", None),
        ],
    ),
]
IDS = [c.language for c in CASES]


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_the_module_symbol_comes_first_and_spans_the_whole_file(case: Case) -> None:
    parsed = parse(case.language, case.path, case.module_name, case.text)
    module = parsed.symbols[0]
    assert (module.kind, module.qualified_name, module.name) == (
        "module",
        case.module_name,
        case.module_name.rsplit(".", 1)[-1],
    )
    assert (module.start_line, module.end_line, module.parent) == (1, case.text.strip("\n").count("\n") + 1, None)
    assert module.docstring == case.module_doc
    assert not parsed.has_errors


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_definitions_get_qualified_names_kinds_lines_signatures_and_doc_comments(case: Case) -> None:
    parsed = parse(case.language, case.path, case.module_name, case.text)
    for qname, expected in case.symbols.items():
        s = symbol(parsed, qname)
        assert (s.kind, s.start_line, s.end_line, s.signature, s.docstring) == expected, qname


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_every_symbol_points_at_an_earlier_enclosing_symbol(case: Case) -> None:
    parsed = parse(case.language, case.path, case.module_name, case.text)
    for i, s in enumerate(parsed.symbols[1:], start=1):
        assert s.parent is not None and 0 <= s.parent < i
        parent = parsed.symbols[s.parent]
        assert parent.start_byte <= s.start_byte and s.end_byte <= parent.end_byte
    assert all(0 <= e.source < len(parsed.symbols) for e in parsed.edges)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_call_import_inheritance_and_reference_sites_carry_their_best_candidate(case: Case) -> None:
    parsed = parse(case.language, case.path, case.module_name, case.text)
    for kind, target, source, first in case.edges:
        found = [e for e in edges(parsed, kind, target) if source_of(parsed, e) == source]
        assert found, (kind, target, source, [source_of(parsed, e) for e in edges(parsed, kind, target)])
        candidates = found[0].candidates
        assert (candidates[0][0] if candidates else None) == first, (kind, target, candidates)


@pytest.mark.parametrize("case", [c for c in CASES if c.alias], ids=[c.language for c in CASES if c.alias])
def test_imports_record_the_local_name_they_bind(case: Case) -> None:
    parsed = parse(case.language, case.path, case.module_name, case.text)
    target, alias = case.alias or ("", "")
    assert [e.alias for e in edges(parsed, "imports", target)] == [alias]


def test_candidates_found_in_the_file_are_exact_and_inherited_guesses_are_scoped() -> None:
    parsed = parse("typescript", "src/api/client.ts", "src.api.client", TYPESCRIPT)
    request = edges(parsed, "calls", "this.request")[0]
    inherited = edges(parsed, "calls", "this.log")[0]
    imported = edges(parsed, "calls", "fmt")[0]
    assert request.candidates == (("src.api.client.Client.request", CONF_EXACT),)
    assert inherited.candidates == (("src.api.client.Client.log", CONF_SCOPED),)
    assert imported.candidates[0] == ("src.utils.format.formatDate", CONF_SCOPED)


# ---- language rules beyond the realistic files --------------------------------------------


def test_javascript_commonjs_requires_prototype_methods_and_function_expressions() -> None:
    parsed = parse(
        "javascript",
        "lib/cache.js",
        "lib.cache",
        """
const { join } = require("./paths");
const lru = require("lru-cache");

/** A cache. */
function Cache(size) {
  this.store = lru(size);
}

Cache.prototype.get = function (key) {
  return this.load(join("x", key));
};

Cache.prototype.load = function (key) {};

const build = function () { return new Cache(10); };

module.exports = { Cache, build };
""",
    )
    assert symbol(parsed, "lib.cache.Cache").kind == "function"
    assert symbol(parsed, "lib.cache.Cache").docstring == "A cache."
    assert symbol(parsed, "lib.cache.Cache.get").kind == "method"
    assert symbol(parsed, "lib.cache.build").kind == "function"
    assert [(e.alias, e.candidates[0][0]) for e in edges(parsed, "imports", "join")] == [("join", "lib.paths.join")]
    assert edges(parsed, "imports", "lru-cache")[0].alias == "lru"
    load = edges(parsed, "calls", "this.load")[0]
    assert source_of(parsed, load) == "lib.cache.Cache.get"
    assert load.candidates == (("lib.cache.Cache.load", CONF_EXACT),)
    assert edges(parsed, "calls", "join")[0].candidates[0] == ("lib.paths.join", CONF_SCOPED)
    assert edges(parsed, "calls", "Cache")[0].candidates == (("lib.cache.Cache", CONF_EXACT),)


def test_tsx_components_are_called_from_jsx_elements() -> None:
    parsed = parse(
        "tsx",
        "web/App.tsx",
        "web.App",
        """
import { Button } from "./Button";

export function App({ title }: { title: string }) {
  return <div><Header text={title} /><Button onClick={() => track("x")} /></div>;
}

function Header(props: { text: string }) {
  return <h1>{props.text}</h1>;
}
""",
    )
    assert symbol(parsed, "web.App.App").kind == "function"
    assert edges(parsed, "calls", "Header")[0].candidates == (("web.App.Header", CONF_EXACT),)
    assert edges(parsed, "calls", "Button")[0].candidates[0] == ("web.Button.Button", CONF_SCOPED)
    assert not [e for e in parsed.edges if e.target_name in ("div", "h1")]


def test_go_methods_on_generic_receivers_and_interface_embedding() -> None:
    parsed = parse(
        "go",
        "pkg/list/list.go",
        "pkg.list.list",
        """
package list

import "io"

type Reader interface {
	io.Reader
	Peek() byte
}

type List[T any] struct{ items []T }

func (l *List[T]) Push(v T) { l.grow(); l.items = append(l.items, v) }
""",
    )
    assert symbol(parsed, "list.List.Push").signature == "func (l *List[T]) Push(v T)"
    assert symbol(parsed, "list.Reader.Peek").kind == "method"
    assert edges(parsed, "inherits", "io.Reader")[0].candidates == (("io.Reader", CONF_SCOPED),)
    assert edges(parsed, "calls", "l.grow")[0].candidates == (("list.List.grow", CONF_SCOPED),)
    assert not [e for e in parsed.edges if e.target_name in ("append", "T", "any")]


def test_go_values_locals_and_long_builder_chains() -> None:
    chain = "".join(f'.\n\t\tStr("key{i}", "a long enough value")' for i in range(30))
    parsed = parse(
        "go",
        "pkg/log/log.go",
        "pkg.log.log",
        f"""
package log

func Run(handler func()) {{
	cb := func() {{}}
	cb()
	Use(Gt, handler)
	_ = T{{Name: 1}}
	New(){chain}.Msg("done")
}}
""",
    )
    msg = next(e for e in parsed.edges if e.kind == "calls" and e.target_name.endswith(".Msg"))
    assert msg.candidates[0][0] == "log.New" + ".Str" * 30 + ".Msg"  # the name kept, the receiver elided
    assert len(msg.target_name) <= 120
    named = {e.target_name: e for e in parsed.edges}
    assert "cb" not in named  # a local holding a function: no package function
    assert named["Gt"].candidates == (("log.Gt", CONF_SCOPED),)  # a function passed as a value
    assert "handler" not in named and "Name" not in named  # a parameter; a field's name


def test_cpp_nested_namespaces_templates_and_member_calls() -> None:
    parsed = parse(
        "cpp",
        "include/net/buffer.hpp",
        "include.net.buffer",
        """
namespace net::io {
// A growable buffer.
template <typename T>
class Buffer {
public:
    void push(const T& v) { grow(); }
    void grow();
};
}
""",
    )
    assert symbol(parsed, "net::io").kind == "namespace"
    assert symbol(parsed, "net::io::Buffer").docstring == "A growable buffer."
    assert symbol(parsed, "net::io::Buffer::push").kind == "method"
    assert edges(parsed, "calls", "grow")[0].candidates == (
        ("net::io::Buffer::grow", CONF_EXACT),
        ("#0", 0.0),
    )  # + its arity
    assert not [e for e in parsed.edges if e.target_name == "T"]


def test_csharp_block_namespaces_nest_and_base_calls_use_the_base_class() -> None:
    parsed = parse(
        "csharp",
        "src/Shapes.cs",
        "src.Shapes",
        """
namespace Acme {
    namespace Geo {
        public class Shape { public virtual double Area() => 0; }
        public class Circle : Shape {
            public override double Area() => base.Area() + Helpers.Pi();
        }
    }
}
""",
    )
    assert symbol(parsed, "Acme.Geo").parent == index(parsed, "Acme")
    assert symbol(parsed, "Acme.Geo.Circle.Area").kind == "method"
    assert edges(parsed, "inherits", "Shape")[0].candidates == (("Acme.Geo.Shape", CONF_EXACT),)
    assert edges(parsed, "calls", "base.Area")[0].candidates == (("Acme.Geo.Shape.Area", CONF_SCOPED),)
    assert edges(parsed, "calls", "Helpers.Pi")[0].candidates[0] == ("Acme.Geo.Helpers.Pi", CONF_SCOPED)


def test_java_nested_classes_and_interfaces_extend_the_qualified_name() -> None:
    parsed = parse(
        "java",
        "src/Outer.java",
        "src.Outer",
        """
package app;

public class Outer {
    interface Visitor { void visit(Node n); }
    static class Node implements Visitor {
        public void visit(Node n) { helper(); }
    }
    static void helper() {}
}
""",
    )
    assert symbol(parsed, "app.Outer.Visitor.visit").kind == "method"
    assert symbol(parsed, "app.Outer.Node.visit").parent == index(parsed, "app.Outer.Node")
    assert edges(parsed, "inherits", "Visitor")[0].candidates == (("app.Outer.Visitor", CONF_EXACT),)
    assert edges(parsed, "calls", "helper")[0].candidates == (("app.Outer.helper", CONF_EXACT), (f"{ARITY}0", 0.0))
    assert edges(parsed, "references", "Node")[0].candidates == (("app.Outer.Node", CONF_EXACT),)


def test_java_members_of_typed_locals_parameters_fields_and_call_results() -> None:
    parsed = parse(
        "java",
        "src/app/Shop.java",
        "src.app.Shop",
        """
package app;

import static app.util.Checks.*;

public class Shop {
    private Cart cart;
    Cart current() { return cart; }

    void checkout(Order order, String note, Item... items) {
        Invoice inv = new Invoice();
        inv.send();
        order.total();
        this.cart.clear();
        current().clear();
        new Invoice().send();
        ((Cart) lookup()).clear();
        for (Item item : items) item.price();
        items[0].price();
        note.trim();
        String.valueOf(note);
        notNull(order);
        Cart cart = null;
        cart.empty();
        inherited.run();
        Color.RED.paint();
        var fresh = current();
        fresh.empty();
        Runnable r = order::total;
        java.util.function.Function<Object, String> s = String::valueOf;
    }
}

enum Color {
    RED;
    int size;
    int size() { return size; }
}
""",
    )

    def first(target: str) -> str | None:
        cands = edges(parsed, "calls", target)[0].candidates
        return cands[0][0] if cands else None

    assert first("inv.send") == "app.Invoice.send"
    assert first("order.total") == "app.Order.total"
    assert first("this.cart.clear") == "app.Cart.clear"
    assert first("new Invoice().send") == "app.Invoice.send"
    assert first("((Cart) lookup()).clear") == "app.Cart.clear"
    assert first("item.price") == "app.Item.price"
    assert first("items[0].price") == "app.Item.price"
    assert first("cart.empty") == "app.Cart.empty"  # the local, declared after the field
    assert first("fresh.empty") == "app.Shop.current.empty"  # `var`: the type of what it was given
    # A call's result: found through the method's return type edge, which the resolver follows.
    assert first("current().clear") == "app.Shop.current.clear"
    returns = [e for e in parsed.edges if e.alias == TYPE_OF]
    assert sorted((source_of(parsed, e), e.candidates[0][0]) for e in returns) == [
        ("app.Color.RED", "app.Color"),  # an enum constant is of its enum
        ("app.Shop.cart", "app.Cart"),  # a field: a symbol with its type edge
        ("app.Shop.current", "app.Cart"),
    ]
    assert symbol(parsed, "app.Shop.cart").kind == "field"
    # A field of a base class (not declared here) is looked up through the bases, else guessed.
    assert edges(parsed, "calls", "inherited.run")[0].candidates == (
        ("app.Shop.inherited.run", CONF_SCOPED),
        (NAME_FALLBACK, CONF_UNIQUE),
        (f"{ARITY}0", 0.0),  # how many arguments: overloads share the qualified name
    )
    assert first("Color.RED.paint") == "app.Color.RED.paint"
    assert [(source_of(parsed, e), e.candidates) for e in edges(parsed, "references", "app.Color")] == [
        ("app.Color.RED", (("app.Color", CONF_EXACT),))
    ]
    assert "app.Color.size" not in [s.qualified_name for s in parsed.symbols if s.kind == "field"]
    # java.lang's methods are named for what they are, so that no same-named method is guessed.
    assert first("note.trim") == "java.lang.String.trim"
    assert first("String.valueOf") == "java.lang.String.valueOf"
    assert [c for c, _ in edges(parsed, "calls", "notNull")[0].candidates] == [
        "app.Shop.notNull",
        "app.util.Checks.notNull",
        f"{ARITY}1",
    ]
    # A method reference refers to the method without calling it.
    assert edges(parsed, "references", "order.total")[0].candidates[0] == ("app.Order.total", CONF_SCOPED)
    # java.lang, never guessed by name: `String::valueOf` as `String.valueOf(note)`
    assert {e.candidates[0] for e in parsed.edges if e.target_name == "String.valueOf"} == {
        ("java.lang.String.valueOf", CONF_SCOPED)
    }


def test_ruby_singleton_class_blocks_and_bare_identifiers() -> None:
    parsed = parse(
        "ruby",
        "app/models/user.rb",
        "app.models.user",
        """
class User < ApplicationRecord
  class << self
    def admins
      where(admin: true)
    end
  end

  def display_name
    name = full_name
    name
  end

  def full_name; end
end
""",
    )
    assert symbol(parsed, "User.admins").kind == "method"
    assert edges(parsed, "calls", "full_name")[0].candidates == (("User#full_name", CONF_EXACT),)
    assert edges(parsed, "calls", "where")[0].candidates == (("User.where", CONF_SCOPED),)
    assert not [e for e in parsed.edges if e.target_name == "name"]  # a local variable, not a call
    assert edges(parsed, "inherits", "ApplicationRecord")[0].candidates == (("ApplicationRecord", CONF_SCOPED),)


def test_rust_impl_blocks_inside_modules_qualify_methods_with_the_module_path() -> None:
    parsed = parse(
        "rust",
        "src/lib.rs",
        "src.lib",
        """
pub mod shapes {
    pub struct Circle { r: f64 }
    impl Circle {
        pub fn area(&self) -> f64 { Self::pi() * self.r * self.r }
        fn pi() -> f64 { 3.14 }
    }
}
""",
    )
    assert symbol(parsed, "crate::shapes::Circle::area").kind == "method"
    assert symbol(parsed, "crate::shapes").kind == "module"
    assert edges(parsed, "calls", "Self::pi")[0].candidates == (("crate::shapes::Circle::pi", CONF_EXACT),)


def test_rust_tests_that_use_their_own_crate_by_name_resolve_into_it() -> None:
    source = """
use my_lib::{Version, parse};
use serde::Serialize;
fn check() { let v = Version::new(1); parse("1"); my_lib::other(); }
"""
    project = Project(rust_crates=(("", "my_lib"),))
    parsed = parse_source(source.encode(), "tests/t.rs", "rust", "tests.t", project)
    assert edges(parsed, "calls", "Version::new")[0].candidates == (("crate::Version::new", CONF_SCOPED),)
    assert edges(parsed, "calls", "parse")[0].candidates == (("crate::parse", CONF_SCOPED),)
    assert edges(parsed, "calls", "my_lib::other")[0].candidates == (("crate::other", CONF_EXACT),)
    assert edges(parsed, "imports", "serde::Serialize")[0].candidates == ()  # another crate: no guess


def test_rust_method_calls_on_parameters_name_the_declared_type_or_trait_bound() -> None:
    parsed = parse(
        "rust",
        "src/lib.rs",
        "src.lib",
        """
pub trait Buf { fn advance(&mut self, n: usize); }
pub struct Bytes;
impl Bytes { fn len(&self) -> usize { 0 } }
fn put<B: Buf>(src: B, other: &mut impl Buf, b: &Bytes, n: usize) {
    src.advance(1);
    other.advance(b.len());
    assert_eq!(b.len(), n.count_ones());
}
""",
    )
    assert edges(parsed, "calls", "src.advance")[0].candidates == (("crate::Buf::advance", CONF_EXACT),)
    assert edges(parsed, "calls", "other.advance")[0].candidates == (("crate::Buf::advance", CONF_EXACT),)
    assert [e.candidates for e in edges(parsed, "calls", "b.len")] == [(("crate::Bytes::len", CONF_EXACT),)] * 2
    assert edges(parsed, "calls", "n.count_ones")[0].candidates == ()  # a primitive: nothing in the crate


def test_rust_let_bindings_hold_their_declared_or_constructed_type() -> None:
    parsed = parse(
        "rust",
        "src/lib.rs",
        "src.lib",
        """
pub struct Bytes;
impl Bytes { fn new() -> Bytes { Bytes } fn len(&self) -> usize { 0 } }
fn f(b: &str) {
    let mut x = Bytes::new();
    x.len();
    let y: Bytes = make();
    y.len();
    let z = Bytes {};
    z.len();
    let b = make_other();
    b.len();
}
""",
    )
    for receiver in ("x", "y", "z"):
        assert edges(parsed, "calls", f"{receiver}.len")[0].candidates == (("crate::Bytes::len", CONF_EXACT),)
    assert edges(parsed, "calls", "b.len")[0].candidates == ()  # rebound by an untyped `let`: forgotten


def test_rust_calls_inside_macro_arguments_get_edges_like_calls_outside() -> None:
    parsed = parse(
        "rust",
        "src/lib.rs",
        "src.lib",
        """
pub fn len(x: &[u8]) -> usize { x.len() }
pub struct Buf;
impl Buf {
    fn remaining(&self) -> usize { 0 }
    fn check(&self, b: &Buf) {
        assert_eq!(self.remaining(), len(&vec![crate::len(&[])]));
        println!("{}", b.remaining());
        debug_assert!(Some(1).is_some(), "{}", (x + 1).count());
    }
}
""",
    )
    assert edges(parsed, "calls", "self.remaining")[0].candidates == (("crate::Buf::remaining", CONF_EXACT),)
    assert edges(parsed, "calls", "len")[0].candidates == (("crate::len", CONF_EXACT),)
    assert edges(parsed, "calls", "crate::len")[0].candidates == (("crate::len", CONF_EXACT),)  # in a nested macro
    assert [e.line for e in edges(parsed, "calls", "b.remaining")] == [7]
    assert edges(parsed, "calls", "….count")  # an expression receiver: the method name alone
    assert not [e for e in parsed.edges if e.target_name in ("Some", "vec", "assert_eq", "x.len()")]


def test_rust_struct_fields_return_types_and_lets_type_the_receivers_of_method_calls() -> None:
    parsed = parse(
        "rust",
        "src/buf/chain.rs",
        "src.buf.chain",
        """
use crate::{Buf, UninitSlice};
pub struct Chain<T, U> { a: T, b: U, spare: Option<UninitSlice>, slice: UninitSlice }
pub struct Wrap(UninitSlice);
impl<T, U> Chain<T, U> where T: Buf, U: Buf {
    fn chunk_mut(&mut self) -> &mut UninitSlice { self.a.advance(1); (&mut self.b).take(2); self.c() }
    fn c(&self) -> Self { self.chunk_mut().as_mut_ptr(); let s = self.c(); s.chunk_mut(); todo!() }
}
impl<T> Wrap { fn w(&self, rhs: &Wrap) { self.0.len(); let rhs = rhs.check(); } }
""",
    )
    # a field of a type parameter: the impl's bound for it
    assert edges(parsed, "calls", "self.a.advance")[0].candidates[0] == ("crate::Buf::advance", CONF_SCOPED)
    assert edges(parsed, "calls", "(&mut self.b).take")[0].candidates[0] == ("crate::Buf::take", CONF_SCOPED)
    assert edges(parsed, "calls", "self.0.len")[0].candidates[0] == ("crate::UninitSlice::len", CONF_SCOPED)
    # a call's result: the method's path, whose type edge the resolver follows
    chain = "crate::buf::chain::Chain"
    assert edges(parsed, "calls", "self.chunk_mut().as_mut_ptr")[0].candidates == (
        (f"{chain}::chunk_mut::as_mut_ptr", CONF_EXACT),
        (NAME_FALLBACK, CONF_UNIQUE),
    )
    assert [(e.candidates, e.alias) for e in edges(parsed, "references", "UninitSlice") if e.line == 5] == [
        ((("crate::UninitSlice", CONF_SCOPED),), TYPE_OF)
    ]
    assert [e.candidates for e in edges(parsed, "references", "Self")] == [(((chain, CONF_EXACT),))]
    assert edges(parsed, "calls", "s.chunk_mut")[0].candidates == ((f"{chain}::c::chunk_mut", CONF_EXACT),)
    # `let rhs = rhs.check()` reads the parameter: the new binding starts after the statement
    assert edges(parsed, "calls", "rhs.check")[0].candidates == (("crate::buf::chain::Wrap::check", CONF_EXACT),)
    # a field of a named type is a symbol with a type edge (`c.slice.m()` in another file)
    assert symbol(parsed, f"{chain}::slice").kind == "field"
    assert [
        e.alias for e in edges(parsed, "references", "UninitSlice") if source_of(parsed, e) == f"{chain}::slice"
    ] == [TYPE_OF]
    assert {f"{chain}::{f}" for f in ("a", "b", "spare")}.isdisjoint(s.qualified_name for s in parsed.symbols)


def test_rust_cfg_alternates_and_compiled_out_imports_and_a_test_crates_globs() -> None:
    parsed = parse(
        "rust",
        "src/bytes.rs",
        "src.bytes",
        """
pub struct Bytes;
impl Bytes {
    #[cfg(not(loom))]
    pub const fn new() -> Bytes { Bytes }
    #[cfg(loom)]
    pub fn new() -> Bytes { Bytes::empty() }
}
""",
    )
    assert [s.start_line for s in parsed.symbols if s.qualified_name == "crate::bytes::Bytes::new"] == [4]
    assert source_of(parsed, edges(parsed, "calls", "Bytes::empty")[0]) == "crate::bytes::Bytes::new"
    test = parse(
        "rust",
        "tests/test_req.rs",
        "tests.test_req",
        """
mod node;
mod util;
use crate::util::*;
#[cfg(test_node_semver)]
use node::req;
#[cfg(all(not(test_node_semver), test))]
use node::version;
fn check() { req("1"); version("1"); node::other(); }
""",
    )
    # tests/test_req.rs is a crate root: its `crate::util` is tests/util/mod.rs
    assert edges(test, "calls", "req")[0].candidates == (
        ("crate::tests::util::req", CONF_SCOPED),
        (NAME_FALLBACK, CONF_UNIQUE),
    )
    assert edges(test, "calls", "version")[0].candidates == (("crate::tests::node::version", CONF_SCOPED),)
    assert edges(test, "calls", "node::other")[0].candidates == (("crate::tests::node::other", CONF_EXACT),)


def test_rust_modules_traits_and_impls_a_default_build_compiles_out_define_nothing() -> None:
    parsed = parse(
        "rust",
        "src/backport.rs",
        "src.backport",
        """
#[cfg(no_alloc_crate)]
pub mod alloc { pub fn alloc() {} }
#[cfg(no_str_strip_prefix)]
pub trait StripPrefixExt { fn strip_prefix(&self) -> bool; }
#[cfg(no_str_strip_prefix)]
impl StripPrefixExt for str { fn strip_prefix(&self) -> bool { true } }
#[cfg(not(no_alloc_crate))]
pub mod live { pub fn f() {} }
#[cfg(feature = "std")]
pub mod std_only { pub fn g() {} }
""",
    )
    names = {s.qualified_name for s in parsed.symbols}
    assert not {q for q in names if "alloc" in q or "strip_prefix" in q.lower()}
    assert {"crate::backport::live::f", "crate::backport::std_only::g"} <= names  # a feature may be on


def test_rust_turbofish_paths_and_tuple_patterns() -> None:
    parsed = parse(
        "rust",
        "src/t.rs",
        "src.t",
        """
pub struct Foo;
impl Foo { pub fn new() -> Foo { Foo } pub fn go(&self) {} }
fn t(text: Foo) {
    let f = Foo::<u8>::new();
    let (a, b) = (Foo::new(), 3);
    a.go();
    b.go();
    text.go();
    let (c, text) = make();
    text.go();
}
""",
    )
    assert edges(parsed, "calls", "Foo::<u8>::new")[0].candidates == (("crate::t::Foo::new", CONF_EXACT),)
    assert edges(parsed, "calls", "a.go")[0].candidates == (("crate::t::Foo::go", CONF_EXACT),)  # element by element
    assert edges(parsed, "calls", "b.go")[0].candidates == ()
    # the parameter until the tuple pattern rebinds its name to what `make()` returns (unknown)
    assert [e.candidates for e in edges(parsed, "calls", "text.go")] == [(("crate::t::Foo::go", CONF_EXACT),), ()]


def test_rust_calls_of_a_types_function_carry_their_first_arguments_type() -> None:
    parsed = parse(
        "rust",
        "tests/t.rs",
        "tests.t",
        """
fn check(b1: Bytes) {
    let v = Vec::with_capacity(3);
    Bytes::from(&b"ab"[..]);
    Bytes::from(vec![1]);
    Bytes::from(v.clone());
    assert_eq!(Vec::from(b1), v);
    Bytes::from(make());
    parse("1");
}
""",
    )

    def hints(target: str) -> list[str]:
        return [c for e in edges(parsed, "calls", target) for c, _ in e.candidates if c.startswith(ARG_TYPE)]

    assert hints("Bytes::from") == ["@[u8]", "@Vec", "@Vec"]  # `make()` tells nothing
    # a standard type's path names nothing here: the crate's impl for Vec, if the argument picks one
    assert edges(parsed, "calls", "Vec::from")[0].candidates == (("Vec::from", CONF_SCOPED), ("@Bytes", 0.0))
    assert hints("parse") == []  # a function, not one of a type's


def test_rust_a_trait_method_called_by_path_names_its_first_arguments_method() -> None:
    parsed = parse(
        "rust",
        "src/impls.rs",
        "src.impls",
        """
pub struct Pre;
impl Pre {
    fn partial_cmp(&self, rhs: &Pre) { Some(Ord::cmp(self, rhs)); Vec::from(self); }
}
""",
    )
    # `Ord::cmp(self, rhs)` is `self.cmp(rhs)`: after the path's own candidates (none here)
    assert edges(parsed, "calls", "Ord::cmp")[0].candidates == (("crate::impls::Pre::cmp", CONF_EXACT),)
    # a standard type's function takes `self` as an argument, not as its receiver
    assert edges(parsed, "calls", "Vec::from")[0].candidates == (("Vec::from", CONF_SCOPED),)


# ---- robustness -----------------------------------------------------------------------------


@pytest.mark.parametrize("language", LANGUAGES)
def test_an_empty_file_yields_just_the_module_symbol(language: str) -> None:
    parsed = parse_source(b"", "a/empty.x", language, "a.empty")
    assert [(s.kind, s.name, s.qualified_name, s.start_line, s.end_line) for s in parsed.symbols] == [
        ("module", "empty", "a.empty", 1, 1)
    ]
    assert parsed.edges == [] and not parsed.has_errors


@pytest.mark.parametrize(
    "language, text, qname",
    [
        ("typescript", "export class A {\n  ok(): void {}\n  broken() { let x = ; }\n}\n", "m.A.ok"),
        ("go", "package m\n\nfunc ok() {}\n\nfunc broken( {\n", "m.ok"),
        ("rust", "fn ok() {}\nfn broken( {\n", "crate::m::ok"),
        ("java", "class A { void ok() {} void broken( { }\n", "A.ok"),
        ("c", "int ok(void) { return 0; }\nint broken( {\n", "ok"),
        ("cpp", "int ok() { return 0; }\nclass { void broken( \n", "ok"),
        ("csharp", "class A { void Ok() {} void Broken( { }\n", "A.Ok"),
        ("ruby", "def ok\nend\n\ndef broken(\n", "ok"),
    ],
)
def test_a_file_with_syntax_errors_is_flagged_and_still_yields_its_symbols(
    language: str, text: str, qname: str
) -> None:
    parsed = parse_source(text.encode(), "m.x", language, "m")
    assert parsed.has_errors
    assert symbol(parsed, qname)


DEEP = {
    "javascript": "function f() {\n" + "if (a) {\n" * 5000 + "g();\n" + "}\n" * 5000 + "}\n",
    "c": "int f(void) {" + "{" * 10000 + "g();" + "}" * 10000 + "}\n",
    "go": "package p\nfunc f() {\n" + "if a {\n" * 5000 + "g()\n" + "}\n" * 5000 + "}\n",
    "ruby": "def f\n" + "if a\n" * 5000 + "g(1)\n" + "end\n" * 5000 + "end\n",
    "java": "class A { int f() { return " + "(" * 10000 + "g()" + ")" * 10000 + "; } }\n",
}


@pytest.mark.parametrize("language", sorted(DEEP))
def test_deeply_nested_code_is_walked_without_recursion(language: str) -> None:
    parsed = parse_source(DEEP[language].encode(), "deep.x", language, "deep")
    assert "f" in [s.name for s in parsed.symbols]
    calls = [e for e in parsed.edges if e.kind == "calls" and e.target_name == "g"]
    assert len(calls) == 1 and parsed.symbols[calls[0].source].name == "f"


def test_a_megabyte_of_minified_javascript_on_one_line_is_parsed() -> None:
    unit = b"function f%d(a){return g%d(a)+h(a,function(b){return b*2})}var v%d=f%d(1);"
    source = b"".join(unit % (i, i, i, i) for i in range(14000))
    assert len(source) > 1_000_000 and b"\n" not in source
    parsed = parse_source(source, "dist/app.min.js", "javascript", "dist.app.min")
    assert len([s for s in parsed.symbols if s.kind == "function"]) == 14000
    assert parsed.symbols[0].end_line == 1


@pytest.mark.parametrize("language", LANGUAGES)
def test_binary_garbage_and_invalid_utf8_never_raise(language: str) -> None:
    garbage = bytes((i * 7919 + 13) % 256 for i in range(20000)) + b"\xff\xfe class \xe9 {"
    parsed = parse_source(garbage, "x/bin.x", language, "x.bin")
    assert parsed.symbols[0].kind == "module"
    assert all(0 <= e.source < len(parsed.symbols) for e in parsed.edges)
