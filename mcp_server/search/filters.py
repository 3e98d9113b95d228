"""Search filters as parameterised SQL: repository, path glob, language, symbol kind."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..errors import InvalidArgument

MAX_GLOB = 500


def glob_to_regex(glob: str) -> str:
    """A POSIX regex for a path glob: `*` stays within a folder, `**` crosses folders, `?` is one
    character, `{a,b}` alternates. A glob without "/" matches the file name in any folder."""
    if len(glob) > MAX_GLOB:
        raise InvalidArgument(f"path_glob is {len(glob)} characters long; keep it under {MAX_GLOB}")
    glob = glob.replace("\\", "/")
    # A run of stars means what "**" means, and "**/**/" what "**/" means; left as they are, each
    # becomes its own ".*" and PostgreSQL's regex engine pays for every one on every path.
    glob = re.sub(r"(\*\*/)+", "**/", re.sub(r"\*{3,}", "**", glob))
    if glob.startswith("./"):
        glob = glob[2:]
    out: list[str] = []
    i = 0
    depth = 0
    while i < len(glob):
        ch = glob[i]
        if glob.startswith("**/", i):
            out.append("(.*/)?")
            i += 3
            continue
        if glob.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if ch == "*":
            out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch == "{":
            depth += 1
            out.append("(")
        elif ch == "}" and depth:
            depth -= 1
            out.append(")")
        elif ch == "," and depth:
            out.append("|")
        else:
            out.append(re.escape(ch))
        i += 1
    if depth:
        raise InvalidArgument(f"path_glob {glob!r} has an unclosed '{{'")
    body = "".join(out)
    prefix = "^" if "/" in glob.strip("/") or glob.startswith("/") else "(^|/)"
    return prefix + body.lstrip("/") + "$"


@dataclass(slots=True)
class Filters:
    repository_id: int | None = None
    path_glob: str | None = None
    language: str | None = None
    kind: str | None = None
    params: list[object] = field(default_factory=list)

    def __post_init__(self) -> None:
        for name in ("path_glob", "language", "kind"):
            if "\x00" in (getattr(self, name) or ""):  # PostgreSQL text cannot hold it
                raise InvalidArgument(f"{name} contains a NUL character")

    def sql(self, first_param: int, chunk: str = "c", file: str = "f", symbol: str = "s") -> tuple[str, list[object]]:
        """A WHERE fragment (starting with AND, or empty) and its parameters, numbered from first_param."""
        clauses: list[str] = []
        params: list[object] = []

        def bind(value: object) -> str:
            params.append(value)
            return f"${first_param + len(params) - 1}"

        if self.repository_id is not None:
            clauses.append(f"{chunk}.repository_id = {bind(self.repository_id)}")
        if self.path_glob:
            clauses.append(f"{file}.path ~ {bind(glob_to_regex(self.path_glob))}")
        if self.language:
            clauses.append(f"{file}.language = {bind(self.language)}")
        if self.kind:
            clauses.append(f"{symbol}.kind = {bind(self.kind)}")
        return "".join(f" AND {c}" for c in clauses), params

    @property
    def any(self) -> bool:
        return bool(self.repository_id is not None or self.path_glob or self.language or self.kind)
