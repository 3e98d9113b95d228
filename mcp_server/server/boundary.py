"""The read boundary: which folders an MCP client may ask the server to index."""

from __future__ import annotations

import os
from collections.abc import Collection
from pathlib import Path, PurePath

from ..config import Settings
from ..errors import AccessDenied

# System folders: configuration, binaries, kernel and device files, never a code repository worth
# the risk. Indexing one of them, or a folder above one, is refused by default.
SYSTEM_FOLDERS = (
    "/etc",
    "/usr",
    "/var",
    "/proc",
    "/sys",
    "/dev",
    "/boot",
    "/bin",
    "/sbin",
    "/lib",
    "/lib64",
    "/run",
    "/private/etc",
    "/private/var",
    "/System",
    "/Library",
)
WINDOWS_SYSTEM = ("c:/windows", "c:/program files", "c:/program files (x86)", "c:/programdata")

_SETTING_HINT = (
    "set `allowed_roots` (TOML, PGCODE_ALLOWED_ROOTS or --allowed-roots) to the folders "
    "clients may index, or index it on the server with `pgcode index PATH`"
)


def check_index_root(
    path: Path,
    settings: Settings,
    *,
    transport: str,
    registered: Collection[str],
    home: Path | None = None,
) -> Path:
    """The folder `path` names, resolved, if an MCP client over `transport` may index it; else
    AccessDenied saying why and which setting opens it. A root already registered (by the operator)
    may always be refreshed."""
    resolved = Path(os.path.realpath(path))
    if str(resolved) in registered or str(path) in registered:
        return resolved
    allowed = settings.allowed_root_paths()
    if allowed:
        if any(_within(resolved, Path(os.path.realpath(root))) for root in allowed):
            return resolved
        raise AccessDenied(
            f"{path} is outside the folders this server may index "
            f"(allowed_roots = {', '.join(str(r) for r in allowed)}); {_SETTING_HINT}"
        )
    if transport != "stdio":
        raise AccessDenied(
            f"this server does not let remote clients add repositories ({path} is not indexed yet); {_SETTING_HINT}"
        )
    why = _sensitive(resolved, home if home is not None else Path.home())
    if why is not None:
        raise AccessDenied(f"{path} is {why}, which may hold credentials; {_SETTING_HINT}")
    return resolved


def _sensitive(path: Path, home: Path) -> str | None:
    """Why a local client must not index `path` by default, or None."""
    text = path.as_posix()
    if text == "/" or (len(text) <= 3 and text[1:2] == ":"):
        return "the root of the file system"
    folded = text.lower()
    for folder in WINDOWS_SYSTEM:
        if folded == folder or folded.startswith(folder + "/"):
            return f"inside the system folder {folder}"
    for folder in SYSTEM_FOLDERS:
        if _within(path, Path(folder)):
            return f"inside the system folder {folder}"
    home = Path(os.path.realpath(home))
    if _within(home, path):
        return "the home folder" if path == home else f"a folder above the home folder {home}"
    if _within(path, home):
        first = path.relative_to(home).parts[0]
        if first.startswith("."):
            return f"inside the hidden folder {home / first}"
    return None


def _within(path: PurePath, folder: PurePath) -> bool:
    return path == folder or folder in path.parents
