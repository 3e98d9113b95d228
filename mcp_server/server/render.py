"""The text a model reads for each tool result: compact lines, shared fields said once, paths relative."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from mcp.types import CallToolResult, TextContent

# Lines of a search hit's snippet shown in the text (the structured result keeps the whole snippet).
SNIPPET_LINES = 4
LINE_CHARS = 120
_MAX_UNRESOLVED = 10

Renderer = Callable[[dict[str, Any]], str]


def render(tool: str, data: dict[str, Any]) -> str:
    """`data` (a tool's structured result) as text: a line format for the tools read most, compact
    JSON with the fields every item shares hoisted for the rest."""
    renderer = _RENDERERS.get(tool)
    if renderer is not None:
        try:
            return renderer(data)
        except (KeyError, TypeError, ValueError):
            pass  # a shape this renderer does not know: the generic form says everything
    return compact_json(data)


def is_json_copy(result: CallToolResult) -> bool:
    """Whether the result's text is only its structured part serialised (what the SDK writes)."""
    if result.is_error or result.structured_content is None or len(result.content) != 1:
        return False
    block = result.content[0]
    if not isinstance(block, TextContent) or not block.text.startswith("{"):
        return False
    try:
        return bool(json.loads(block.text) == result.structured_content)
    except ValueError:
        return False


def compact_json(data: Any) -> str:
    return json.dumps(_hoist(data), ensure_ascii=False, separators=(",", ":"))


def _hoist(value: Any) -> Any:
    """Lists of objects lose the fields all their items share; those are stated once, beside the list."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if isinstance(item, list) and len(item) > 1 and all(isinstance(x, dict) for x in item):
                shared = {
                    k: v
                    for k, v in item[0].items()
                    if not isinstance(v, (dict, list)) and all(k in x and x[k] == v for x in item[1:])
                }
                out[key] = [_hoist({k: v for k, v in x.items() if k not in shared}) for x in item]
                if shared:
                    out[f"{key}_all"] = shared
            else:
                out[key] = _hoist(item)
        return out
    if isinstance(value, list):
        return [_hoist(x) for x in value]
    return value


def _short(qualified: str, path: str) -> str:
    """A qualified name without the module prefix its path already says ("shop.cart.Cart.total" in
    shop/cart.py -> "Cart.total")."""
    stem = path.rsplit(".", 1)[0]
    for module in (stem.replace("/", "."), stem.removesuffix("/__init__").replace("/", ".")):
        if qualified.startswith(module + ".") and len(qualified) > len(module) + 1:
            return qualified[len(module) + 1 :]
    return qualified


def _common(items: list[dict[str, Any]], key: str) -> str | None:
    values = {item.get(key) for item in items}
    return values.pop() if len(values) == 1 and items else None  # type: ignore[return-value]


def _notes(data: dict[str, Any], out: list[str]) -> None:
    for note in data.get("notes") or ():
        out.append(f"note: {note}")


def _cut(line: str) -> str:
    return line if len(line) <= LINE_CHARS else line[: LINE_CHARS - 1] + "…"


def _search(data: dict[str, Any]) -> str:
    hits: list[dict[str, Any]] = data["results"]
    repository = _common(hits, "repository")
    language = _common(hits, "language")
    head = [f"{len(hits)} hits ({data.get('mode', 'hybrid')})"]
    if repository:
        head.append(f"repository {repository}")
    if language:
        head.append(language)
    out = [" · ".join(head)]
    fresh = data.get("freshness") or {}
    if fresh and not fresh.get("vectors_complete", True):
        out.append(f"note: {fresh.get('vectors_pending', 0)} chunks have no vector yet: semantic ranking saw the rest")
    if fresh.get("files_pending"):
        out.append(f"note: {fresh['files_pending']} changed files wait to be indexed")
    for note in fresh.get("notes") or ():
        out.append(f"note: {note}")
    for hit in hits:
        where = f"{hit['path']}:{hit['start_line']}-{hit['end_line']}"
        what = " ".join(
            p for p in (hit.get("kind"), _short(hit["symbol"], hit["path"]) if hit.get("symbol") else None) if p
        )
        extra = [] if repository else [f"[{hit['repository']}]"]
        if not language and hit.get("language"):
            extra.append(hit["language"])
        out.append(" ".join(p for p in (where, what, *extra) if p))
        first = int(hit.get("snippet_line") or hit["start_line"])
        numbered = [(first + i, line.rstrip()) for i, line in enumerate((hit.get("snippet") or "").splitlines())]
        shown = [(n, line) for n, line in numbered if line.strip()][:SNIPPET_LINES]
        # The common indentation says nothing the line numbers don't: only the relative one is kept.
        margin = min((len(line) - len(line.lstrip()) for _, line in shown), default=0)
        out.extend(f"  {n}: {_cut(line[margin:])}" for n, line in shown)
    _notes(data, out)
    return "\n".join(out)


def _walk(data: dict[str, Any]) -> str:
    root: dict[str, Any] = data["root"]
    nodes: list[dict[str, Any]] = data["nodes"]
    edges: list[dict[str, Any]] = data["edges"]
    callers = data["direction"] == "callers"
    repository = _common([root, *nodes], "repository")
    out = [
        f"{data['direction']} of {root['kind']} {root['qualified_name']} ({root['path']}:{root['start_line']}-"
        f"{root['end_line']}) · depth {data['depth']}" + (f" · repository {repository}" if repository else "")
    ]
    # The sites of each node: for callers, where it calls the node it reaches; for callees, where it is called.
    sites: dict[int, list[str]] = {}
    for edge in edges:
        node_id = edge["source_id"] if callers else edge["target_id"]
        sites.setdefault(node_id, []).append(f"{edge['line']} ({_sureness(edge)})")
    for node in nodes:
        if int(node.get("depth", 1)) == 0:
            continue  # the root, said in the first line
        where = f"{node['path']}:{node['start_line']}-{node['end_line']}"
        repo = "" if repository else f" [{node['repository']}]"
        lines = sites.get(node["id"], [])
        at = f" {'calls at' if callers else 'called at'} {', '.join(lines)}" if lines else ""
        indent = "  " * (int(node.get("depth", 1)) - 1)
        out.append(f"{indent}{where} {node['kind']} {_short(node['qualified_name'], node['path'])}{repo}{at}")
    unresolved = data.get("unresolved") or []
    if unresolved:
        names = ", ".join(f"{u['target_name']} ({u['path']}:{u['line']})" for u in unresolved[:_MAX_UNRESOLVED])
        more = f" and {len(unresolved) - _MAX_UNRESOLVED} more" if len(unresolved) > _MAX_UNRESOLVED else ""
        out.append(f"unresolved: {names}{more}")
    if data.get("truncated"):
        out.append("note: truncated at the limit; raise limit or lower depth")
    _notes(data, out)
    return "\n".join(out)


def _sureness(edge: dict[str, Any]) -> str:
    """An edge's confidence, and `compiler` when a compiler's index made or confirmed it."""
    made_by = " compiler" if edge.get("provenance") == "compiler" else ""
    return f"{edge['confidence']:g}{made_by}"


def _references(data: dict[str, Any]) -> str:
    symbol: dict[str, Any] = data["symbol"]
    refs: list[dict[str, Any]] = data["references"]
    repository = _common([symbol, *refs], "repository")
    counts = ", ".join(f"{n} {kind}" for kind, n in (data.get("counts") or {}).items())
    out = [
        f"references to {symbol['kind']} {symbol['qualified_name']} ({symbol['path']}:{symbol['start_line']}-"
        f"{symbol['end_line']})"
        + (f" · {counts}" if counts else "")
        + (f" · repository {repository}" if repository else "")
    ]
    for ref in refs:
        repo = "" if repository else f" [{ref['repository']}]"
        source = _short(ref["source"], ref["path"])
        text = f"  {_cut(ref['snippet'].strip())}" if ref.get("snippet") else ""
        via = f" via {ref['via']}" if ref.get("via") else ""
        out.append(f"{ref['path']}:{ref['line']} {ref['kind']}{via} in {source} ({_sureness(ref)}){repo}{text}")
    if data.get("truncated"):
        out.append("note: truncated at the limit; raise limit to see more")
    _notes(data, out)
    return "\n".join(out)


_RENDERERS: dict[str, Renderer] = {
    "search_code": _search,
    "find_callers": _walk,
    "find_callees": _walk,
    "find_references": _references,
}
