"""Code-aware terms for full-text search: identifiers split on snake_case, camelCase and paths."""

from __future__ import annotations

import re
from functools import lru_cache

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*|[0-9]+")
# Boundaries inside an identifier: "HTTPResponse" -> HTTP, Response; "parse2D" -> parse, 2, D.
_PART = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")
_MAX_TERM = 64


def split_identifier(identifier: str) -> list[str]:
    """Lower-cased parts of an identifier: "getHTTPResponse_code" -> get, http, response, code."""
    return list(_split(identifier))


@lru_cache(maxsize=1 << 16)
def _split(identifier: str) -> tuple[str, ...]:
    # Code repeats its identifiers (self, return, the module's own names): splitting each once
    # halves the indexer's own CPU time on the store path.
    return tuple(p.lower() for p in _PART.findall(identifier))


def code_terms(text: str) -> tuple[list[str], list[str]]:
    """(parts, identifiers): every identifier's lower-cased parts, and the compound identifiers whole.

    Parts feed the stemmed ("english") half of the index so "signed" finds `get_signing_serializer`;
    whole identifiers feed the exact ("simple") half so `SecureCookieSessionInterface` ranks its home.
    """
    parts: list[str] = []
    identifiers: list[str] = []
    for word in _WORD.findall(text):
        if len(word) > _MAX_TERM:
            continue
        pieces = _split(word)
        parts.extend(pieces)
        if len(pieces) > 1:
            identifiers.append(word.lower())
    return parts, identifiers


def tsquery_terms(terms: list[str], operator: str = "|") -> str:
    """A to_tsquery expression joining the terms with OR ("|") or AND ("&"); terms come from
    code_terms, so they hold only [a-z0-9_]."""
    seen: dict[str, None] = {}
    for term in terms:
        clean = re.sub(r"[^a-z0-9_]", "", term.lower())
        if clean:
            seen.setdefault(clean, None)
    return f" {operator} ".join(seen)
