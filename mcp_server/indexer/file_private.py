"""Which declarations only their own file (Kotlin, Swift) or class (C#) can call: `private` and `fileprivate` ones."""

from __future__ import annotations

import re

# Kotlin's `private` (top level: the file; a member: its class) and Swift's `private` and
# `fileprivate` (the file, or less) never reach past the declaring file.
LANGUAGES = frozenset({"kotlin", "swift"})
_ANNOTATION = re.compile(r"@[\w.]+(?:\([^()]*\))?")
_KEYWORD = re.compile(r"\b(?:fun|func|init|class|object|struct|enum|protocol|interface|typealias|val|var|let)\b")
_PRIVATE = re.compile(r"\b(?:private|fileprivate)\b")


def is_file_private(language: str | None, signature: str | None) -> bool:
    """Whether the declaration with this signature is visible only inside its own file: a modifier
    before its keyword (`@discardableResult private func describe(...)`), not one in its parameters."""
    if language not in LANGUAGES or not signature:
        return False
    head = _ANNOTATION.sub(" ", signature)
    keyword = _KEYWORD.search(head)
    return keyword is not None and _PRIVATE.search(head, 0, keyword.start()) is not None


_CSHARP_HEAD = re.compile(r"^(?:\[[^\]]*\]\s*)*([^(=]*)")  # attributes, then modifiers, type and name


_EXPLICIT = re.compile(r"[\w>]\.\w+(?:<[^()]*>)?\s*$")  # `object IConvertible.ToType`


def is_class_private(language: str | None, signature: str | None) -> bool:
    """Whether a C# member is declared `private`, or implements an interface's member explicitly
    (`object IConvertible.ToType(...)`, called only through the interface): only its class (and the
    classes nested in it) can call it by name. Members without a modifier are private too, but
    interface members are not: those stay."""
    if language != "csharp" or not signature:
        return False
    head = _CSHARP_HEAD.match(signature)
    if head is None:
        return False
    return re.search(r"\bprivate\b", head.group(1)) is not None or _EXPLICIT.search(head.group(1)) is not None
