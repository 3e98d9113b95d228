"""The SCIP indexers the compiler-pass tests run: installed by .ci/run from npm into .ci/npm."""

from __future__ import annotations

from pathlib import Path

import pytest

NPM_PREFIX = Path(__file__).resolve().parent.parent / ".ci" / "npm"
INSTALL = "npm install --prefix .ci/npm @sourcegraph/scip-typescript@0.4.0 @sourcegraph/scip-python@0.6.6"


def indexer(name: str) -> str:
    """The executable's path; the test fails (never skips) when it is not installed, saying how to install it."""
    path = NPM_PREFIX / "node_modules" / ".bin" / name
    if not path.is_file():
        pytest.fail(f"{name} is not installed at {path}: .ci/run installs it ({INSTALL})")
    return str(path)
