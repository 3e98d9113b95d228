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
