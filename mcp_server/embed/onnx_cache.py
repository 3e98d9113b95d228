"""The default model's ONNX form, built once from the verified weights into a cache directory shared by every process."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import structlog

from ..errors import ModelUnavailable
from .embedder import DEFAULT_DIM, DEFAULT_MAX_TOKENS, Embedder, embedder_from_dir
from .weights import DEFAULT_MODEL, DEFAULT_MODEL_SHA256, find_weights, sha256_file

log = structlog.get_logger(__name__)

INT8_SUFFIX = ":int8"
MANIFEST = "manifest.json"
MODEL_FILE = "model.onnx"
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


def safe_name(model: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in model.replace("/", "--"))


def model_key(model: str, quantize: bool) -> str:
    """The key vectors of `model` are stored under, without loading it (a model_dir aside)."""
    return model + (INT8_SUFFIX if quantize and model == DEFAULT_MODEL else "")


def load_default(base: Path, *, quantize: bool, threads: int, weights_dir: Path | None) -> Embedder:
    variant = "int8" if quantize else "fp32"
    key = model_key(DEFAULT_MODEL, quantize)
    models_dir = base / "models"
    name = safe_name(DEFAULT_MODEL) + ("-int8" if quantize else "")
    final = models_dir / name
    try:
        models_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ModelUnavailable(
            f"Cannot create the model cache directory {models_dir}: {exc}. "
            "Set cache_dir (PGCODE_CACHE_DIR) to a writable directory."
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
        return embedder_from_dir(DEFAULT_MODEL, final, model_key=key, threads=threads)


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

    manifest_path = final / MANIFEST
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
        "max_tokens": DEFAULT_MAX_TOKENS,
    }
    for key, value in expected.items():
        if manifest.get(key) != value:
            return f"manifest {key}={manifest.get(key)!r}, expected {value!r}"
    files = manifest.get("files")
    if not isinstance(files, dict) or MODEL_FILE not in files:
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


def _build_default(models_dir: Path, final: Path, *, variant: str, model_key: str, weights_dir: Path | None) -> None:
    """Convert (and quantise) into a temp dir next to `final`, then swap it in with renames."""
    source = find_weights(weights_dir)
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
                f"Install them (`pip install onnx safetensors`) or set model_dir (PGCODE_MODEL_DIR)."
            ) from exc

        # Third-party libraries may print; stdout is the MCP transport and must stay clean.
        with contextlib.redirect_stdout(sys.stderr):
            if variant == "int8":
                fp32_path = tmp / "model.fp32.onnx"
                export_bert_onnx(source.directory / "model.safetensors", source.directory / "config.json", fp32_path)
                quantize_int8(
                    fp32_path,
                    tmp / MODEL_FILE,
                    per_channel=bool(QUANTIZATION["per_channel"]),
                    reduce_range=bool(QUANTIZATION["reduce_range"]),
                )
                fp32_path.unlink()
            else:
                export_bert_onnx(
                    source.directory / "model.safetensors", source.directory / "config.json", tmp / MODEL_FILE
                )

        for file_name in _COPIED_TOKENIZER_FILES:
            if (source.directory / file_name).is_file():
                shutil.copyfile(source.directory / file_name, tmp / file_name)
        tokenizer_config = json.loads((source.directory / "tokenizer_config.json").read_text(encoding="utf-8"))
        tokenizer_config["model_max_length"] = DEFAULT_MAX_TOKENS
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
            "max_tokens": DEFAULT_MAX_TOKENS,
            "dim": DEFAULT_DIM,
            "onnx_sha256": sha256_file(tmp / MODEL_FILE),
            "files": files,
            "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "build_seconds": round(time.perf_counter() - started, 2),
        }
        # Written last: a directory without a manifest is never mistaken for a finished build.
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
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
            f"Check that {models_dir} is writable and has ~150 MB free (or set cache_dir, PGCODE_CACHE_DIR), "
            f"or set model_dir (PGCODE_MODEL_DIR) to a directory with a ready model.onnx + tokenizer files."
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
