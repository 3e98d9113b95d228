"""Grammars load with the first file of their language: importing pgcode loads none."""

from __future__ import annotations

import json
import subprocess
import sys

_PROBE = """
import importlib, json, pkgutil, sys
import mcp_server
for info in pkgutil.walk_packages(mcp_server.__path__, "mcp_server."):
    if not info.name.endswith("__main__"):
        importlib.import_module(info.name)
def grammars():
    return sorted(m for m in sys.modules if m.startswith("tree_sitter_") and "." not in m)
from mcp_server.index.parse import parse_source
seen = [grammars()]
parse_source(b"def f():\\n    return 1\\n", "a.py", "python", "a")
seen.append(grammars())
parse_source(b"<?php\\nfunction g() { f(); }\\n", "b.php", "php", "b")
seen.append(grammars())
print(json.dumps(seen))
"""


def test_no_grammar_loads_before_a_file_of_its_language() -> None:
    run = subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    imported, after_python, after_php = json.loads(run.stdout.splitlines()[-1])
    assert imported == []
    assert after_python == ["tree_sitter_python"]
    assert after_php == ["tree_sitter_php", "tree_sitter_python"]
