"""Which tools a server lists (the `tools` setting and its profiles) and how compactly it describes them."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..errors import ConfigError

# Every client pays for the tool list on every turn: a profile lists fewer tools.
PROFILES: dict[str, tuple[str, ...]] = {
    "core": (
        "get_context",
        "search_code",
        "find_symbol",
        "get_symbol",
        "find_references",
        "find_callers",
        "goto_definition",
        "file_outline",
    ),
}
ALL = "all"
# Every tool the server registers, in its order (a test holds this to the registered list).
TOOL_NAMES = (
    "search_code",
    "grep",
    "get_context",
    "find_symbol",
    "get_symbol",
    "file_outline",
    "repo_map",
    "goto_definition",
    "find_references",
    "find_callers",
    "find_callees",
    "call_path",
    "impact_analysis",
    "get_dependencies",
    "get_dependents",
    "index_repository",
    "index_status",
    "list_repositories",
    "remove_repository",
)
# Constraints the server checks anyway, not worth a client's tokens in the listing.
_UNLISTED_KEYWORDS = frozenset({"title", "maxLength"})


def exposed(setting: str, available: Iterable[str]) -> list[str]:
    """The tools `setting` names, in the server's order: `all`, a profile, tool names, or a
    comma-separated mix of them ("core,grep"). Raises ConfigError naming what is unknown."""
    names = list(available)
    wanted: set[str] = set()
    for entry in (e.strip() for e in setting.split(",")):
        if not entry:
            continue
        if entry == ALL:
            wanted.update(names)
        elif entry in PROFILES:
            wanted.update(PROFILES[entry])
        elif entry in names:
            wanted.add(entry)
        else:
            choices = ", ".join([ALL, *PROFILES, *names])
            raise ConfigError(
                f"setting tools names {entry!r}, which is neither a tool nor a profile; choose from {choices}"
            )
    if not wanted:
        raise ConfigError(f"setting tools lists no tool; use {ALL!r}, a profile ({', '.join(PROFILES)}) or tool names")
    return [name for name in names if name in wanted]


def compact_description(text: str | None) -> str | None:
    """A docstring's text without its source indentation and line breaks."""
    return " ".join(text.split()) if text else text


def compact_input(schema: dict[str, Any]) -> dict[str, Any]:
    """An argument schema as a client needs it: no generated titles, an optional argument as its
    plain type (omitting it is how to say "none"), no length limits the server enforces itself."""
    return _strip(schema)


def shallow_output(schema: dict[str, Any] | None) -> dict[str, Any] | None:
    """A result schema one level deep: each field's name and type (which are always present, the
    result itself shows). The full shape is what the structured result carries; spelled out it
    cost more than all the tools' arguments together."""
    if not schema:
        return schema
    fields: dict[str, Any] = {}
    for name, prop in (schema.get("properties") or {}).items():
        variants = prop.get("anyOf") if isinstance(prop.get("anyOf"), list) else [prop]
        types: list[str] = []
        for variant in variants:
            kind = "object" if "$ref" in variant else variant.get("type")
            if isinstance(kind, str) and kind not in types:
                types.append(kind)
        if len(variants) == 1 and "enum" in prop:
            fields[name] = {"enum": prop["enum"], **({"type": types[0]} if types else {})}
        elif len(types) == len(variants):  # each variant has a plain type: say which
            fields[name] = {"type": types[0] if len(types) == 1 else types}
        else:
            fields[name] = {}  # any value
    return {"type": "object", "properties": fields}


def _strip(node: Any, names: bool = False) -> Any:
    """`node` without the unlisted keywords; `names` marks a mapping of property names, whose keys
    are names (a property may be called "title"), not keywords."""
    if isinstance(node, list):
        return [_strip(item) for item in node]
    if not isinstance(node, dict):
        return node
    if names:
        return {key: _strip(value) for key, value in node.items()}
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _UNLISTED_KEYWORDS or (key == "default" and value is None):
            continue
        if key == "anyOf" and isinstance(value, list) and len(value) == 2 and {"type": "null"} in value:
            (other,) = [v for v in value if v != {"type": "null"}]
            out.update(_strip(other))
            continue
        out[key] = _strip(value, names=key in ("properties", "$defs", "definitions"))
    return out
