"""Settings: one frozen record built once at start-up from defaults, environment and flags."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import platformdirs

from .errors import ConfigError

ENV_PREFIX = "PGCODE_"


def _default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("pgcode"))


@dataclass(frozen=True, slots=True)
class Settings:
    # Where the index lives. None -> pgcode starts its own embedded PostgreSQL under data_dir.
    database_url: str | None = None
    data_dir: Path = field(default_factory=_default_data_dir)
    # Embeddings
    embedding_model: str = "sentence-transformers/all-MiniLM-L6-v2"
    embedding_quantize: bool = True   # dynamic int8: ~2x faster, same retrieval quality
    embed_batch_size: int = 16        # peak RSS grows linearly with the batch
    embed_threads: int = 0            # 0 = the embedder's own default
    # Discovery
    max_file_bytes: int = 1_000_000
    # HNSW (pgvector)
    hnsw_m: int = 16
    hnsw_ef_construction: int = 64
    hnsw_ef_search: int = 100
    # Connections
    pool_max_size: int = 8
    statement_timeout_ms: int = 30_000
    # Serving
    host: str = "127.0.0.1"
    port: int = 8765
    tokens: str = ""                  # comma-separated bearer tokens accepted on HTTP
    token_file: str = ""              # a file with one bearer token per line
    allowed_hosts: str = ""           # extra Host names accepted when bound beyond loopback
    # Logging (always to stderr)
    log_level: str = "warning"
    log_format: str = "console"

    @classmethod
    def load(cls, overrides: Mapping[str, Any] | None = None, env: Mapping[str, str] | None = None) -> Settings:
        """Defaults < environment (PGCODE_*) < explicit overrides (CLI flags); invalid values raise ConfigError."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for f in dataclasses.fields(cls):
            env_name = ENV_PREFIX + f.name.upper()
            if env_name in env and env[env_name] != "":
                values[f.name] = _coerce(f, env[env_name], f"environment variable {env_name}")
        for key, raw in (overrides or {}).items():
            if raw is None:
                continue
            f = _field(cls, key)
            values[key] = _coerce(f, raw, f"option --{key.replace('_', '-')}")
        settings = cls(**values)
        settings.validate()
        return settings

    def bearer_tokens(self) -> list[str]:
        """Every accepted token: from `tokens` and from `token_file` (blank lines and # comments skipped)."""
        found = [t.strip() for t in self.tokens.split(",") if t.strip()]
        if self.token_file:
            path = Path(self.token_file).expanduser()
            try:
                lines = path.read_text(encoding="utf-8").splitlines()
            except OSError as exc:
                raise ConfigError(f"token_file {path} cannot be read: {exc.strerror}") from None
            found += [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]
        return found

    def validate(self) -> None:
        checks = {
            "embed_batch_size": 1 <= self.embed_batch_size <= 1024,
            "embed_threads": 0 <= self.embed_threads <= 256,
            "max_file_bytes": self.max_file_bytes >= 1,
            "hnsw_m": 2 <= self.hnsw_m <= 100,
            "hnsw_ef_construction": 4 <= self.hnsw_ef_construction <= 1000,
            "hnsw_ef_search": 1 <= self.hnsw_ef_search <= 1000,
            "pool_max_size": 1 <= self.pool_max_size <= 1000,
            "port": 0 <= self.port <= 65535,
            "statement_timeout_ms": self.statement_timeout_ms >= 0,
            "log_level": self.log_level in ("debug", "info", "warning", "error"),
            "log_format": self.log_format in ("console", "json"),
        }
        for key, ok in checks.items():
            if not ok:
                raise ConfigError(f"setting {key} has an invalid value {getattr(self, key)!r}")


def _field(cls: type, key: str) -> dataclasses.Field[Any]:
    for f in dataclasses.fields(cls):
        if f.name == key:
            return f
    raise ConfigError(f"unknown setting {key!r}")


def _coerce(f: dataclasses.Field[Any], raw: Any, source: str) -> Any:
    kind = str(f.type)
    try:
        if kind == "bool":
            if isinstance(raw, bool):
                return raw
            text = str(raw).strip().lower()
            if text in ("1", "true", "yes", "on"):
                return True
            if text in ("0", "false", "no", "off"):
                return False
            raise ValueError(raw)
        if kind == "int":
            return int(raw)
        if kind == "Path":
            return Path(str(raw)).expanduser()
        return str(raw)
    except ValueError:
        raise ConfigError(f"{source}: {f.name} expects a {kind}, got {raw!r}") from None
