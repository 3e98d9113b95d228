"""Load the configured text embedding model offline (the default from verified weights, built once into ONNX) behind the Embedder API."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

import structlog

from ..errors import ModelUnavailable
from .embedder import DEFAULT_MAX_TOKENS, Embedder, embedder_from_dir, wrap
from .onnx_cache import MANIFEST, MODEL_FILE, load_default, model_key
from .weights import DEFAULT_MODEL, sha256_file

if TYPE_CHECKING:
    from ..config import Settings

__all__ = ["DEFAULT_MODEL", "Embedder", "ModelUnavailable", "embedder_for", "key_for", "load_embedder", "model_key"]

log = structlog.get_logger(__name__)

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


def load_embedder(
    model: str = DEFAULT_MODEL,
    *,
    quantize: bool = True,
    cache_dir: Path | None = None,
    threads: int | None = None,
    model_dir: Path | None = None,
    weights_dir: Path | None = None,
    offline: bool = False,
) -> Embedder:
    """Load `model`, building the default model's ONNX files into the cache on first use.

    `quantize` selects the dynamic-int8 build of the default model (other models load as
    published). `cache_dir` is the base cache (default: the user cache dir); builds go to
    `<base>/models/<name>[-int8]/`. `threads=None` means default_threads(). `model_dir` names a
    ready directory (model.onnx + tokenizer files) used as-is; `weights_dir` holds model.safetensors
    + tokenizer files to use instead of the installed packages (they must still match the pinned
    sha256); `offline` (or huggingface's own HF_HUB_OFFLINE) keeps fastembed from contacting the
    hub for other models.

    Raises ModelUnavailable with what was tried and how to fix it.
    """
    started = time.perf_counter()
    base = Path(cache_dir).expanduser() if cache_dir is not None else _default_cache_dir()
    threads = default_threads() if threads is None else threads
    is_default = _is_default(model)
    if model_dir is not None:
        embedder = _load_model_dir(DEFAULT_MODEL if is_default else model, Path(model_dir).expanduser(), threads)
    elif is_default:
        embedder = load_default(base, quantize=quantize, threads=threads, weights_dir=weights_dir)
    else:
        offline = offline or (os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in {"1", "true", "yes", "on"})
        embedder = _load_fastembed_model(model, base, threads, offline=offline)
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
    """Intra-op threads used when load_embedder gets threads=None: half the cores, at most four."""
    try:
        cpus = len(os.sched_getaffinity(0))  # honours taskset/cgroup cpusets, unlike cpu_count()
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    return max(1, min(_MAX_DEFAULT_THREADS, cpus // 2))


def _default_cache_dir() -> Path:
    import platformdirs

    return Path(platformdirs.user_cache_dir("pgcode"))


# What the default model reads of each chunk unless told otherwise (see Settings.embed_tokens):
# 128 tokens of the text as written (96 lost, 256 gained nothing), or 112 of its words, which hold
# more of a chunk (a quarter of Django's chunks run past 112 as words, two fifths past 128 as
# written) and scored as 128 words did (strict MRR@10 within ±.007 on 300 queries per corpus).
# Without its punctuation a text is about a quarter fewer tokens, and 96 of them hold about what
# 128 of the text as written do (Django: 36 % and 38 % of the chunks run past them).
DEFAULT_CODE_TOKENS = 128
DEFAULT_WORD_TOKENS = 112
DEFAULT_LEAN_TOKENS = 96
_DEFAULT_TOKENS = {
    "code": DEFAULT_CODE_TOKENS,
    "words": DEFAULT_WORD_TOKENS,
    "lean": DEFAULT_LEAN_TOKENS,
    "lean-python": DEFAULT_CODE_TOKENS,  # of other languages' texts; a Python text's are 3/4 of it
}


def _is_default(model: str) -> bool:
    return model.lower() == DEFAULT_MODEL.lower()


def passage_tokens(settings: Settings) -> int | None:
    """Tokens of each chunk the model reads; None for the model's whole window."""
    if settings.embed_tokens:
        return settings.embed_tokens
    if not _is_default(settings.embedding_model):
        return None
    return _DEFAULT_TOKENS[settings.embed_text]


def _passage_suffix(settings: Settings) -> str:
    """Vectors of texts cut shorter than the model's window, or read as their words, are other
    vectors: their key says so, and they are never mixed with the text's as written."""
    tokens = passage_tokens(settings)
    whole_window = _is_default(settings.embedding_model) and tokens is not None and tokens >= DEFAULT_MAX_TOKENS
    suffix = "" if tokens is None or whole_window else f":{tokens}t"
    return suffix + ("" if settings.embed_text == "code" else f":{settings.embed_text}")


def key_for(settings: Settings) -> str:
    """The vector key of the model the settings name."""
    return model_key(settings.embedding_model, settings.embedding_quantize) + _passage_suffix(settings)


def embedder_for(settings: Settings) -> Embedder:
    """The model the settings name, with their quantisation, cache, sources and thread count."""
    embedder = load_embedder(
        settings.embedding_model,
        quantize=settings.embedding_quantize,
        cache_dir=settings.cache_dir,
        threads=settings.embed_threads or None,
        model_dir=Path(settings.model_dir) if settings.model_dir else None,
        weights_dir=Path(settings.weights_dir) if settings.weights_dir else None,
        offline=settings.offline,
    )
    embedder.read_passages(
        passage_tokens(settings), embedder.model_key + _passage_suffix(settings), text=settings.embed_text
    )
    return embedder


# --- ready ONNX directories and other fastembed models ------------------------------------------


def _load_model_dir(model: str, directory: Path, threads: int) -> Embedder:
    """PGCODE_MODEL_DIR: a ready directory, used as-is with `model`'s pooling/normalisation."""
    model_file = MODEL_FILE if model == DEFAULT_MODEL else _registry_model_file(model)
    missing = [f for f in (model_file, "tokenizer.json", "tokenizer_config.json") if not (directory / f).is_file()]
    if missing:
        raise ModelUnavailable(
            f"model_dir {directory} lacks {', '.join(missing)}. It must hold {model_file}, "
            f"tokenizer.json and tokenizer_config.json for {model}; unset model_dir (PGCODE_MODEL_DIR) to build "
            "the default model from the installed weights package instead."
        )
    onnx_sha = sha256_file(directory / model_file)
    # A directory built by this module keeps its key, so its vectors stay comparable with an index
    # built through the cache; any other ONNX file gets a key of its own content.
    model_key = f"{model}@sha256:{onnx_sha[:16]}"
    try:
        manifest = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
        if manifest.get("onnx_sha256") == onnx_sha and manifest.get("model") == model:
            model_key = str(manifest["model_key"])
    except (OSError, ValueError, KeyError):
        pass
    embedder = embedder_from_dir(model, directory, model_key=model_key, threads=threads)
    if model == DEFAULT_MODEL and embedder.max_tokens != DEFAULT_MAX_TOKENS:
        log.warning(
            "model dir truncates at a different length than sentence-transformers",
            directory=str(directory),
            max_tokens=embedder.max_tokens,
            expected=DEFAULT_MAX_TOKENS,
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


def _load_fastembed_model(model: str, base: Path, threads: int, *, offline: bool) -> Embedder:
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
        # Offline, fastembed reads its cache only; online it may retry the hub for ~40 s before giving up.
        engine = TextEmbedding(
            model, cache_dir=str(fastembed_cache), threads=threads, local_files_only=offline, enable_cpu_mem_arena=False
        )
    except Exception as exc:
        mode = "offline (offline/PGCODE_OFFLINE or HF_HUB_OFFLINE set, cache only)" if offline else "online"
        raise ModelUnavailable(
            f"Could not load embedding model {model!r} with fastembed, {mode}, cache {fastembed_cache}: "
            f"{str(exc).rstrip('.')}. Either run once with network access to download it into that cache, set "
            f"model_dir (PGCODE_MODEL_DIR) to a directory with its ONNX file + tokenizer.json + tokenizer_config.json, "
            f"or use the default model {DEFAULT_MODEL}, which needs no download."
        ) from exc
    return wrap(engine, model, model_key=model, model_dir=None)
