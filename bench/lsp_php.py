"""intelephense as the PHP truth for bench/graph_lsp.py: its callers are its references that are call sites.

intelephense's free features answer references and definitions but not the call hierarchy
(`textDocument/prepareCallHierarchy` is an unhandled method). `CallsFromReferences` wraps the
server and answers the call-hierarchy pair from its references: the item remembers where the
function's name is; its incoming calls are the references that sit on a call's name (found with
tree-sitter by bench/lsp_sites.py), grouped by file. A definition's range starts after its doc
comment, as pgcode's symbols do. Everything else goes to the server as is.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import lsp_sites
from lsp_client import LanguageServer, LspError, path_uri, uri_path


class CallsFromReferences:
    def __init__(self, server: LanguageServer) -> None:
        self.server = server
        self.root = server.root
        self._calls: dict[str, set[tuple[int, int]]] = {}  # rel -> {(line0, utf16 column)}

    @property
    def restarts(self) -> int:
        return self.server.restarts

    def start(self, ready: Callable[[Any], None] | None = None) -> None:
        self.server.start(ready)

    def wait_loaded(self, first: Path, timeout: float = 240.0) -> float:
        return self.server.wait_loaded(first, timeout=timeout)

    def stop(self) -> None:
        self.server.stop()

    def at(self, method: str, path: Path, line0: int, char0: int, timeout: float, **extra: Any) -> Any:
        if method == "textDocument/definition":
            return [self._past_doc(loc) for loc in self.server.at(method, path, line0, char0, timeout, **extra) or []]
        if method != "textDocument/prepareCallHierarchy":
            return self.server.at(method, path, line0, char0, timeout, **extra)
        point = {"line": line0, "character": char0}
        return [{"name": "", "uri": path_uri(path), "range": {"start": point, "end": point}, "timeout": timeout}]

    def request(self, method: str, params: Any, timeout: float = 20.0) -> Any:
        if method != "callHierarchy/incomingCalls":
            return self.server.request(method, params, timeout)
        item = params["item"]
        path = uri_path(item["uri"])
        if path is None:
            raise LspError("not a file item")
        start = item["range"]["start"]
        refs = self.server.at(
            "textDocument/references",
            path,
            start["line"],
            start["character"],
            item.get("timeout", timeout),
            context={"includeDeclaration": False},
        )
        by_file: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for ref in refs or []:
            ref_path = uri_path(ref["uri"])
            if ref_path is None:
                continue
            point = ref["range"]["start"]
            if (point["line"], point["character"]) in self._call_names(ref_path):
                by_file[ref["uri"]].append(ref["range"])
        return [{"from": {"uri": uri, "name": ""}, "fromRanges": ranges} for uri, ranges in by_file.items()]

    def _call_names(self, path: Path) -> set[tuple[int, int]]:
        try:
            rel = path.resolve().relative_to(self.root).as_posix()
        except ValueError:
            return set()
        if rel not in self._calls:
            lines = (self.root / rel).read_text(encoding="utf-8", errors="replace").split("\n")
            self._calls[rel] = {
                (s.line - 1, lsp_sites.utf16(lines[s.line - 1], s.column)) for s in lsp_sites.call_sites(self.root, rel)
            }
        return self._calls[rel]

    def _past_doc(self, location: dict[str, Any]) -> dict[str, Any]:
        """intelephense's definition range starts at the declaration's doc comment: move its start to
        the first line after the comment, where the declaration (and pgcode's symbol) begins."""
        path = uri_path(location.get("uri", ""))
        if path is None or not path.is_file():
            return location
        lines = path.read_text(encoding="utf-8", errors="replace").split("\n")
        start, end = location["range"]["start"]["line"], location["range"]["end"]["line"]
        line = start
        if line < len(lines) and lines[line].lstrip().startswith("/**"):
            while line < end and "*/" not in lines[line]:
                line += 1
            line += 1
        if line == start or line > end:
            return location
        return {**location, "range": {**location["range"], "start": {"line": line, "character": 0}}}
