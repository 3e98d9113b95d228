"""The structured answer of get_context (its text is built beside it, within the same budget)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from ..graph.models import SymbolRef


class ContextDefinition(SymbolRef):
    score: float = Field(description="rank score: search relevance, or 1 for the symbol asked about")
    source: str = Field(description="the definition's lines as indexed, from start_line")
    source_end_line: int = Field(description="last line included in source (end_line when whole)")


class ContextRelation(SymbolRef):
    relation: Literal["caller", "callee"]
    of: str = Field(description="qualified name of the definition it calls or is called by")
    line: int = Field(description="line of the call site")


class ContextOutline(BaseModel):
    repository: str
    path: str
    text: str = Field(description="the file's definitions, compact: kind name start-end, nested by indentation")


class ContextResult(BaseModel):
    query: str | None
    symbol: str | None
    budget_tokens: int
    used_tokens: int = Field(description="tokens (characters / 4) of the text answer")
    definitions: list[ContextDefinition]
    related: list[ContextRelation]
    outlines: list[ContextOutline]
    notes: list[str] = Field(default_factory=list)
