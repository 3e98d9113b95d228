"""What a path is in a repository's layout: test code or not (for ranking and graph scoping)."""

from __future__ import annotations

import re

# Paths of test code in the common layouts of the languages pgcode parses.
_TEST_PATH = re.compile(
    r"(^|/)(tests?|spec|specs|__tests__|testing)/"
    r"|(^|/)(test_[^/]*\.py|[^/]*_test\.(py|go|rb|c|cc|cpp|rs)|conftest\.py|[^/]*_spec\.rb"
    r"|[^/]*\.(spec|test)\.[cm]?[jt]sx?|[^/]*Tests?\.(java|cs|kt))$"
)


def is_test_path(path: str) -> bool:
    return _TEST_PATH.search(path) is not None
