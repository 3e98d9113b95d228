"""Discovery: ignore files (nested, negated), built-in ignores, limits, binary and encoding checks."""

from __future__ import annotations

from pathlib import Path

import pytest

from mcp_server.index.discover import FoundFile, Unreadable, discover, read_source
from tests.conftest import write_sample_repo


def _paths(root: Path, max_bytes: int = 1_000_000) -> set[str]:
    return {f.path for f in discover(root, max_bytes).files}


def test_gitignore_patterns_and_negation_are_honoured(tmp_path: Path) -> None:
    root = write_sample_repo(tmp_path / "r")
    paths = _paths(root)
    assert "generated/keep.py" in paths
    assert "generated/drop.py" not in paths
    assert "build/out.py" not in paths
    assert "secret_keys.py" not in paths
    assert "debug.log" not in paths
    assert "shop/cart.py" in paths and "docs/guide.md" in paths


def test_pgcodeignore_and_builtin_ignores_apply(tmp_path: Path) -> None:
    root = write_sample_repo(tmp_path / "r")
    paths = _paths(root)
    assert "docs/private/notes.md" not in paths
    assert not any(p.startswith("node_modules/") for p in paths)


def test_nested_gitignore_overrides_its_parent(tmp_path: Path) -> None:
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / ".gitignore").write_text("*.py\n")
    (tmp_path / "a" / "b" / ".gitignore").write_text("!wanted.py\n")
    (tmp_path / "a" / "b" / "wanted.py").write_text("x = 1\n")
    (tmp_path / "a" / "b" / "other.py").write_text("x = 1\n")
    (tmp_path / "top.py").write_text("x = 1\n")
    assert _paths(tmp_path) == {"a/b/wanted.py"}


def test_files_over_the_size_limit_are_counted_not_read(tmp_path: Path) -> None:
    root = write_sample_repo(tmp_path / "r")
    found = discover(root, 1_000_000)
    assert "huge.py" not in {f.path for f in found.files}
    assert found.skipped["too_large"] == 1


def test_symlinks_are_never_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.py").write_text("TOKEN = 1\n")
    root = tmp_path / "root"
    root.mkdir()
    (root / "real.py").write_text("x = 1\n")
    (root / "link.py").symlink_to(outside / "secret.py")
    (root / "linkdir").symlink_to(outside)
    (root / "loop").symlink_to(root)
    found = discover(root, 1_000_000)
    assert {f.path for f in found.files} == {"real.py"}
    assert found.skipped["symlink"] == 3


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("logo.py", b"\x89PNG\r\n\x1a\n\x00\x00binary", "binary"),
        ("latin1.py", "name = 'caf\xe9'\n".encode("latin-1"), "invalid_utf8"),
        ("bundle.js", b"var a=1;" * 5000, "minified"),
    ],
)
def test_unindexable_content_is_refused_with_a_reason(tmp_path: Path, name: str, content: bytes, reason: str) -> None:
    (tmp_path / name).write_bytes(content)
    found = FoundFile(name, len(content), 0, "python")
    with pytest.raises(Unreadable) as info:
        read_source(tmp_path, found, 1_000_000)
    assert info.value.reason == reason


def test_a_file_that_vanished_after_discovery_is_reported_as_such(tmp_path: Path) -> None:
    with pytest.raises(Unreadable) as info:
        read_source(tmp_path, FoundFile("gone.py", 1, 0, "python"), 1_000_000)
    assert info.value.reason == "vanished"


def test_large_json_data_files_are_left_out_but_small_config_files_kept(tmp_path: Path) -> None:
    (tmp_path / "package.json").write_text('{"name": "app", "version": "1.0.0"}\n')
    (tmp_path / "results.json").write_text("[" + ",".join(['{"query": "x", "rank": 1}'] * 10_000) + "]\n")
    found = discover(tmp_path, 1_000_000)
    assert {f.path for f in found.files} == {"package.json"}
    assert found.skipped["too_large"] == 1
