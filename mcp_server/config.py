"""Settings: one frozen record built once at start-up from defaults, a TOML file, the environment and flags."""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pathspec
import platformdirs

from .errors import ConfigError

ENV_PREFIX = "PGCODE_"
CONFIG_ENV = "PGCODE_CONFIG"
# A TOML file may hold the settings at its top level or under this table (or both).
CONFIG_TABLE = "pgcode"


def _default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir("pgcode"))


def _default_cache_dir() -> Path:
    return Path(platformdirs.user_cache_dir("pgcode"))


@dataclass(frozen=True, slots=True)
class Settings:
    # Where the index lives. None -> pgcode starts its own embedded PostgreSQL under data_dir.
    database_url: str | None = None
    data_dir: Path = field(default_factory=_default_data_dir)
    # Embeddings
    embedding_model: str = "sentence-transformers/all-MiniLM-L6-v2"
    embedding_quantize: bool = True  # dynamic int8: ~2x faster, same retrieval quality
    embed_batch_size: int = (
        1  # texts per model call: padding to the batch's longest text costs more than batching saves
    )
    embed_threads: int = 0  # 0 = the embedder's own default
    # Tokens of each chunk text the model reads. 0 = for the default model 128 of the text as written
    # (measured on docstring-to-code retrieval: the same quality as its 256-token window for a
    # quarter fewer model-seconds) or 112 of its words, and the whole window for other models.
    embed_tokens: int = 0
    # How the model reads each chunk text and query: "code" (as written) or "words" (punctuation
    # and underscores dropped, camelCase split, 112 tokens for the default model: a quarter fewer
    # tokens; better on Python, worse on Go and Rust: see README, The embedding model).
    # "lean": punctuation dropped, names kept as written, 96 tokens (a quarter fewer model-seconds;
    # as good on Python, worse on Go, Java and Rust); "lean-python": lean for Python files only.
    embed_text: str = "code"
    # Vectors no chunk uses are deleted after this long unused: an edit reverted sooner is not re-embedded.
    vector_gc_grace_seconds: int = 3600
    cache_dir: Path = field(default_factory=_default_cache_dir)  # the default model's ONNX build
    model_dir: str = ""  # a folder with model.onnx + tokenizer files, used as-is
    weights_dir: str = ""  # the default model's weights instead of the installed package (sha256-checked)
    offline: bool = False  # never contact the model hub (other models load from fastembed's cache only)
    # Discovery
    max_file_bytes: int = 1_000_000
    # Credentials: more files never to index (gitignore-style patterns, comma-separated, after the
    # built-in list; `!pattern` exempts a file), and whether token shapes are redacted from the rest.
    secret_files: str = ""
    redact_secrets: bool = True
    # HNSW (pgvector)
    hnsw_m: int = 16
    hnsw_ef_construction: int = 64
    hnsw_ef_search: int = 100
    # How a model's vectors are stored and indexed, fixed when the model is first embedded:
    # "vector" (4 bytes a dimension) or "halfvec" (2 bytes: half the table and HNSW index).
    vector_type: str = "vector"
    # Connections
    pool_max_size: int = 8
    statement_timeout_ms: int = 30_000
    # A grep's own, shorter timeout: a costly regex gives up instead of holding a connection.
    grep_timeout_ms: int = 5_000
    # The URL is PgBouncer in transaction pooling: no prepared-statement cache and no session
    # settings (PgBouncer rejects them); only read-only use, the leases need a session.
    pgbouncer: bool = False
    # Serve search and graph only: no migrations, no watcher, index tools refused.
    read_only: bool = False
    # A read-only server on a streaming replica states the replica's lag in every answer once it
    # exceeds this many seconds (0: whenever it is behind at all).
    replica_lag_note_seconds: int = 10
    # Serving
    host: str = "127.0.0.1"
    port: int = 8765
    tokens: str = ""  # comma-separated bearer tokens accepted on HTTP ("admin:TOKEN" may index)
    token_file: str = ""  # a file with one bearer token per line
    # Folders MCP clients may index below (comma-separated). Unset: over HTTP no new roots at all;
    # over stdio anything but system folders, the home folder and its hidden folders.
    allowed_roots: str = ""
    allowed_hosts: str = ""  # extra Host names accepted when bound beyond loopback
    rate_limit_per_minute: int = 600  # per token (or client address without tokens); 0 = no limit
    max_request_bytes: int = 1_048_576
    request_timeout_seconds: int = 20  # an HTTP client gets this long for a request's head, and again for its body
    metrics_port: int = 9765  # `pgcode worker`'s /health, /ready and /metrics
    shutdown_grace_seconds: int = 10  # in-flight HTTP requests get this long after SIGTERM
    # stdio sessions with the same settings relay to one shared server per data dir (one model,
    # one pool, one watcher), which exits this long after its last session left.
    shared_server: bool = True
    shared_idle_seconds: int = 60
    # Which tools a server lists: "all", the profile "core" (search, symbols, references, callers,
    # definition, outline) or tool names, comma-separated and mixable ("core,grep").
    tools: str = "all"
    # The compiler pass (mcp_server/indexer/precise): a language's SCIP indexer, where installed, confirms,
    # adds and drops tree-sitter's edges in the background, this long after the last stored edit,
    # at the lowest priority and within these limits. The executables: these paths, else PATH.
    compiler_pass: bool = True
    compiler_pass_quiet_seconds: int = 30
    compiler_pass_timeout_seconds: int = 1800
    compiler_pass_memory_mb: int = 4096
    scip_typescript: str = ""
    scip_python: str = ""
    # Logging (always to stderr)
    log_level: str = "warning"
    log_format: str = "console"

    @classmethod
    def load(
        cls,
        overrides: Mapping[str, Any] | None = None,
        env: Mapping[str, str] | None = None,
        *,
        config_file: str | Path | None = None,
    ) -> Settings:
        """Defaults < TOML file < environment (PGCODE_*) < explicit overrides (CLI flags); invalid values
        raise ConfigError naming the key and where the value came from."""
        return resolve(overrides, env, config_file=config_file).settings

    def bearer_tokens(self) -> list[str]:
        """Every accepted token, without its role."""
        return [grant.token for grant in self.bearer_grants()]

    def bearer_grants(self) -> list[Grant]:
        """Every accepted token with its role: from `tokens` and from `token_file` (blank lines and
        # comments skipped). An entry is `TOKEN` (read: search and graph) or `ROLE:TOKEN`."""
        return [_grant(entry) for entry in self._token_entries()]

    def allowed_root_paths(self) -> list[Path]:
        """The `allowed_roots` folders (made absolute when read; not resolved: the boundary resolves)."""
        return [Path(p.strip()) for p in self.allowed_roots.split(",") if p.strip()]

    def _token_entries(self) -> list[str]:
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
        problem = _first_problem(self)
        if problem is not None:
            key, rule = problem
            raise ConfigError(f"setting {key} has an invalid value {getattr(self, key)!r}: {rule}")


ROLES = ("read", "admin")


@dataclass(frozen=True, slots=True)
class Grant:
    """A bearer token and what it may do: `read` (search and graph) or `admin` (also index and remove)."""

    token: str
    role: str


def _grant(entry: str) -> Grant:
    role, sep, token = entry.partition(":")
    if not sep:
        return Grant(entry, "read")
    if role not in ROLES or not token.strip():
        raise ConfigError(
            f"token entry {role}:... has an unknown role {role!r}: write TOKEN (read-only) "
            "or admin:TOKEN (may also index and remove repositories)"
        )
    return Grant(token.strip(), role)


# key -> (check, what a valid value is)
_RULES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "embed_batch_size": (lambda v: 1 <= v <= 1024, "between 1 and 1024"),
    "embed_threads": (lambda v: 0 <= v <= 256, "between 0 and 256"),
    "embed_tokens": (lambda v: v == 0 or 16 <= v <= 100_000, "0 (automatic) or between 16 and 100000"),
    "embed_text": (lambda v: v in ("code", "words", "lean", "lean-python"), "code, words, lean or lean-python"),
    "vector_gc_grace_seconds": (lambda v: 0 <= v <= 2_592_000, "between 0 and 2592000 (30 days)"),
    "max_file_bytes": (lambda v: v >= 1, "at least 1"),
    "secret_files": (lambda v: _patterns_valid(v), "gitignore-style patterns, comma-separated"),
    "hnsw_m": (lambda v: 2 <= v <= 100, "between 2 and 100"),
    "hnsw_ef_construction": (lambda v: 4 <= v <= 1000, "between 4 and 1000"),
    "hnsw_ef_search": (lambda v: 1 <= v <= 1000, "between 1 and 1000"),
    "vector_type": (lambda v: v in ("vector", "halfvec"), "vector or halfvec"),
    "pool_max_size": (lambda v: 1 <= v <= 1000, "between 1 and 1000"),
    "port": (lambda v: 0 <= v <= 65535, "a port number, 0 to 65535"),
    "metrics_port": (lambda v: 0 <= v <= 65535, "a port number, 0 to 65535"),
    "statement_timeout_ms": (lambda v: v >= 0, "0 (no timeout) or more"),
    "replica_lag_note_seconds": (lambda v: 0 <= v <= 86400, "between 0 and 86400"),
    "grep_timeout_ms": (lambda v: 100 <= v <= 3_600_000, "between 100 and 3600000"),
    "rate_limit_per_minute": (lambda v: 0 <= v <= 1_000_000, "0 (no limit) to 1000000"),
    "max_request_bytes": (lambda v: 1024 <= v <= 1 << 30, "between 1024 and 1073741824"),
    "request_timeout_seconds": (lambda v: 1 <= v <= 3600, "between 1 and 3600"),
    "shutdown_grace_seconds": (lambda v: 0 <= v <= 3600, "between 0 and 3600"),
    "shared_idle_seconds": (lambda v: 1 <= v <= 86400, "between 1 and 86400"),
    "tools": (lambda v: bool(v.strip(", ")), '"all", a profile such as "core", or tool names, comma-separated'),
    "compiler_pass_quiet_seconds": (lambda v: 0 <= v <= 86400, "between 0 and 86400"),
    "compiler_pass_timeout_seconds": (lambda v: 10 <= v <= 86400, "between 10 and 86400"),
    "compiler_pass_memory_mb": (lambda v: 256 <= v <= 1_048_576, "between 256 and 1048576"),
    "log_level": (lambda v: v in ("debug", "info", "warning", "error"), "one of debug, info, warning, error"),
    "log_format": (lambda v: v in ("console", "json"), "console or json"),
}


def _patterns_valid(patterns: str) -> bool:
    try:
        pathspec.GitIgnoreSpec.from_lines([p.strip() for p in patterns.split(",") if p.strip()])
    except ValueError:  # GitIgnorePatternError: a lone "!", a trailing backslash
        return False
    return True


def _first_problem(settings: Settings) -> tuple[str, str] | None:
    for key, (check, rule) in _RULES.items():
        if not check(getattr(settings, key)):
            return key, rule
    return None


@dataclass(frozen=True, slots=True)
class ResolvedSettings:
    """The effective settings, where each came from, and the config file read (if any)."""

    settings: Settings
    sources: dict[str, str]  # key -> "default" | "file PATH" | "env PGCODE_X" | "flag --x"
    config_file: Path | None
    config_file_source: str | None  # "flag --config" | "env PGCODE_CONFIG"

    def describe(self) -> list[dict[str, Any]]:
        """Every setting with its effective value (secrets masked) and its source, in declaration order."""
        return [
            {"key": f.name, "value": masked(f.name, getattr(self.settings, f.name)), "source": self.sources[f.name]}
            for f in dataclasses.fields(Settings)
        ]


def resolve(
    overrides: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    *,
    config_file: str | Path | None = None,
) -> ResolvedSettings:
    """Build the settings layer by layer, remembering the source of each value."""
    env = os.environ if env is None else env
    values: dict[str, Any] = {}
    sources = {f.name: "default" for f in dataclasses.fields(Settings)}

    path: Path | None = None
    path_source: str | None = None
    if config_file is not None and str(config_file) != "":
        path, path_source = Path(config_file).expanduser().absolute(), "flag --config"
    elif env.get(CONFIG_ENV):
        path, path_source = Path(env[CONFIG_ENV]).expanduser().absolute(), f"env {CONFIG_ENV}"
    if path is not None:
        for key, value in _read_file(path, path_source or "").items():
            values[key] = value
            sources[key] = f"file {path}"

    for f in dataclasses.fields(Settings):
        env_name = ENV_PREFIX + f.name.upper()
        if env_name in env and env[env_name] != "":
            values[f.name] = _coerce(f, env[env_name], f"env {env_name}")
            sources[f.name] = f"env {env_name}"
        elif env_name in env and f.name == "database_url":
            # PGCODE_DATABASE_URL="" explicitly asks for the embedded server, whatever the file says.
            values.pop(f.name, None)
            sources[f.name] = f"env {env_name}"

    for key, raw in (overrides or {}).items():
        if raw is None:
            continue
        f = _field(key)
        source = f"flag --{key.replace('_', '-')}"
        values[key] = _coerce(f, raw, source)
        sources[key] = source

    if sources["allowed_roots"] != "default" and not sources["allowed_roots"].startswith("file "):
        values["allowed_roots"] = absolute_roots(values["allowed_roots"], Path.cwd())

    settings = Settings(**values)
    problem = _first_problem(settings)
    if problem is not None:
        key, rule = problem
        raise ConfigError(f"{sources[key]}: {key} = {getattr(settings, key)!r} is invalid: expected {rule}")
    return ResolvedSettings(settings, sources, path, path_source)


def _read_file(path: Path, source: str) -> dict[str, Any]:
    """The settings a TOML file sets, type-checked; unknown keys are errors (a typo must not pass)."""
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"config file {path} (from {source}) does not exist") from None
    except OSError as exc:
        raise ConfigError(f"config file {path} (from {source}) cannot be read: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from None
    flat = {k: v for k, v in data.items() if k != CONFIG_TABLE}
    table = data.get(CONFIG_TABLE, {})
    if not isinstance(table, dict):
        raise ConfigError(f"config file {path}: [{CONFIG_TABLE}] must be a table of settings")
    names = {f.name: f for f in dataclasses.fields(Settings)}
    found: dict[str, Any] = {}
    for key, raw in [*flat.items(), *table.items()]:
        f = names.get(key)
        if f is None:
            hint = (
                f" (did you mean {key.lower().removeprefix('pgcode_')!r}?)"
                if key.lower().removeprefix("pgcode_") in names
                else ""
            )
            raise ConfigError(
                f"config file {path}: unknown setting {key!r}{hint}; `pgcode config show` lists the settings"
            )
        found[key] = _from_toml(f, raw, f"config file {path}", path.parent)
    return found


def _from_toml(f: dataclasses.Field[Any], raw: Any, source: str, base: Path) -> Any:
    """TOML values carry their type: take them strictly (a quoted number is a mistake worth reporting)."""
    kind = str(f.type)
    if kind == "bool":
        if isinstance(raw, bool):
            return raw
        raise ConfigError(f"{source}: {f.name} expects true or false, got {raw!r}")
    if kind == "int":
        if isinstance(raw, int) and not isinstance(raw, bool):
            return raw
        raise ConfigError(f"{source}: {f.name} expects an integer, got {raw!r}")
    if (
        f.name in ("tokens", "allowed_hosts", "allowed_roots", "secret_files")
        and isinstance(raw, list)
        and all(isinstance(x, str) for x in raw)
    ):
        raw = ",".join(raw)
    if f.name == "allowed_roots" and isinstance(raw, str):
        return absolute_roots(raw, base)
    if not isinstance(raw, str):
        raise ConfigError(f"{source}: {f.name} expects a string, got {raw!r}")
    if kind == "Path" or f.name in _PATH_STRINGS:
        if raw == "":
            return raw if kind != "Path" else Path(raw)
        # Relative paths in a file are relative to the file, not to wherever pgcode was started.
        resolved = Path(raw).expanduser()
        resolved = resolved if resolved.is_absolute() else base / resolved
        return resolved if kind == "Path" else str(resolved)
    if f.name == "database_url" and raw == "":
        return None
    return raw


def absolute_roots(text: str, base: Path) -> str:
    """`allowed_roots` with `~` expanded and relative folders made absolute against `base` (the config
    file's folder, or the working directory for the environment and flags), so that a process started
    elsewhere (the shared server runs from /) reads the same folders."""
    roots = [Path(p.strip()).expanduser() for p in text.split(",") if p.strip()]
    return ",".join(str(r if r.is_absolute() else base / r) for r in roots)


# Optional paths (empty = unset), relative to the config file like Path settings.
_PATH_STRINGS = frozenset({"token_file", "model_dir", "weights_dir"})


def _field(key: str) -> dataclasses.Field[Any]:
    for f in dataclasses.fields(Settings):
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
            if isinstance(raw, bool):
                raise ValueError(raw)
            return int(raw)
        if kind == "Path":
            return Path(str(raw)).expanduser()
        return str(raw)
    except ValueError:
        expected = {"bool": "true or false", "int": "an integer"}.get(kind, f"a {kind}")
        raise ConfigError(f"{source}: {f.name} expects {expected}, got {raw!r}") from None


SECRET_KEYS = frozenset({"tokens"})


def masked(key: str, value: Any) -> Any:
    """A value safe to print: passwords in URLs and bearer tokens are replaced by ***."""
    if key == "database_url" and isinstance(value, str):
        return redact_url(value)
    if key in SECRET_KEYS and value:
        count = len([t for t in str(value).split(",") if t.strip()])
        return f"*** ({count} token{'s' if count != 1 else ''})"
    if isinstance(value, Path):
        return str(value)
    return value


def redact_url(dsn: str) -> str:
    """A PostgreSQL URL without its password (in the authority or as a `password=` parameter)."""
    if "://" not in dsn:
        # A key=value connection string.
        return " ".join("password=***" if part.lower().startswith("password=") else part for part in dsn.split())
    try:
        parts = urlsplit(dsn)
    except ValueError:
        return "***"
    netloc = parts.netloc
    if "@" in netloc:
        creds, host = netloc.rsplit("@", 1)
        if ":" in creds:
            user, password = creds.split(":", 1)
            creds = f"{user}:***" if password else f"{user}:"
        netloc = f"{creds}@{host}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(k.lower() == "password" for k, _ in pairs):
            query = urlencode([(k, "***" if k.lower() == "password" else v) for k, v in pairs], safe="/*")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
