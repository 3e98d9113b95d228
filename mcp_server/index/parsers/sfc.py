"""Vue and Svelte single-file components: their <script> blocks parsed as JavaScript or TypeScript, lines kept."""

from __future__ import annotations

import dataclasses
import re

from ..project import EMPTY_PROJECT, Project
from ..records import ParsedFile
from . import javascript

USES_PROJECT = True

_SCRIPT = re.compile(rb"<script\b([^>]*)>(.*?)</script\s*>", re.S | re.I)
_TYPESCRIPT = re.compile(rb"""\blang\s*=\s*["']?(?:ts|typescript)\b""", re.I)
_NOT_NEWLINE = re.compile(rb"[^\n]")


def script_source(source: bytes) -> tuple[bytes, str]:
    """The component with everything outside its script blocks blanked (so lines and byte offsets
    stay those of the file), and the language those blocks are written in."""
    out = bytearray(_NOT_NEWLINE.sub(b" ", source))
    language = "javascript"
    for match in _SCRIPT.finditer(source):
        out[match.start(2) : match.end(2)] = match.group(2)
        if _TYPESCRIPT.search(match.group(1)):
            language = "typescript"
    return bytes(out), language


def parse(source: bytes, path: str, module_name: str, language: str, project: Project = EMPTY_PROJECT) -> ParsedFile:
    script, script_language = script_source(source)
    parsed = javascript.parse(script, path, module_name, script_language, project=project)
    return dataclasses.replace(parsed, language=language)
