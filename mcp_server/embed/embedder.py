"""A loaded embedding model behind one small API: unit vectors for documents and queries, and token counts."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import ModelUnavailable
from .lean import lean
from .weights import DEFAULT_MODEL
from .words import words

if TYPE_CHECKING:
    from tokenizers import Tokenizer

DEFAULT_DIM = 384
# sentence-transformers truncates this model at 256 (max_seq_length) although the tokenizer
# config says 512; fastembed only reads the tokenizer config, so the copy is rewritten.
DEFAULT_MAX_TOKENS = 256
# How the model may read each indexed text and each query (Settings.embed_text): as written, as
# its words (words.py) or without its punctuation (lean.py); "lean-python" reads Python files'
# texts and every query without punctuation, other languages' texts as written.
TEXT_FORMS: dict[str, Callable[[str], str] | None] = {"code": None, "words": words, "lean": lean, "lean-python": None}
# Python's texts lose no quality without their punctuation, and 96 of those tokens hold about what
# 128 as written do; Go's, Java's and Rust's lose (see README, The embedding model).
_LEAN_LANGUAGES = frozenset({"python"})


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
        self.passage_tokens = max_tokens  # of each indexed text, the tokens the model reads
        self.passage_text = "code"  # how the model reads texts and queries: a key of TEXT_FORMS
        self._form: Callable[[str], str] | None = None
        self._query_form: Callable[[str], str] | None = None
        self._lean_tokens = 0  # with "lean-python", the tokens of a Python text the model reads (0: none lean)
        # Where the ONNX files were loaded from (None for models living in fastembed's cache).
        self.model_dir = model_dir

    def __repr__(self) -> str:
        return f"Embedder(model_key={self.model_key!r}, dim={self.dim}, max_tokens={self.max_tokens})"

    def embed_documents(
        self, texts: Sequence[str], batch_size: int = 16, languages: Sequence[str | None] | None = None
    ) -> np.ndarray:
        """Embed texts for indexing; returns (len(texts), dim) float32, each row unit-length.
        `languages` (each text's file's) matter only to a reading that depends on them."""
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        docs = list(texts)
        if not docs:
            return np.zeros((0, self.dim), dtype=np.float32)
        caps = [self.passage_tokens] * len(docs)
        if self._form is not None:
            form = self._form
            docs = [form(d) for d in docs]
        if self._lean_tokens and languages is not None:
            for i, language in enumerate(languages):
                if language in _LEAN_LANGUAGES:
                    docs[i], caps[i] = lean(docs[i]), self._lean_tokens
        if min(caps) < self.max_tokens:
            docs = self._cut(docs, caps)
        # Batches are padded to their longest text: texts of like length batched together waste
        # little on padding (the order is restored below).
        order = sorted(range(len(docs)), key=lambda i: len(docs[i]))
        rows = list(self._engine.passage_embed([docs[i] for i in order], batch_size=batch_size))
        vectors = np.empty((len(docs), self.dim), dtype=np.float32)
        vectors[order] = np.asarray(rows, dtype=np.float32).reshape(len(docs), self.dim)
        return _normalise(vectors)

    def read_passages(self, tokens: int | None, model_key: str, *, text: str = "code") -> None:
        """Read only the first `tokens` tokens of each indexed text (None: the whole window), each
        text and query in the form `text` names (TEXT_FORMS) before the cut; the vectors are then
        stored under `model_key`, which must say so."""
        self.passage_tokens = min(tokens or self.max_tokens, self.max_tokens)
        self.passage_text = text
        self._form = TEXT_FORMS[text]
        lean_python = text == "lean-python"
        self._query_form = lean if lean_python else self._form
        # Three quarters: what the punctuation dropped frees (Django: 128 tokens as written, 96 lean).
        self._lean_tokens = self.passage_tokens * 3 // 4 if lean_python else 0
        self.model_key = model_key

    def _cut(self, docs: list[str], caps: list[int]) -> list[str]:
        """Each text cut after its first caps[i] tokens (special tokens included), at the end of
        the last whole token kept: what the model would read if it truncated there."""
        cut: list[str] = []
        for text, cap, encoding in zip(docs, caps, self._count_tokenizer.encode_batch(docs), strict=True):
            if len(encoding.ids) <= cap:
                cut.append(text)
            else:
                cut.append(text[: encoding.offsets[cap - 2][1]])  # [CLS] and [SEP] are in the cap
        return cut

    def embed_query(self, text: str) -> np.ndarray:
        """Embed one search query; returns (dim,) float32 of unit length."""
        if self._query_form is not None:
            # Read as the texts are: `resolve_redirects()` then meets the words of its definition.
            text = self._query_form(text)
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


def embedder_from_dir(model: str, directory: Path, *, model_key: str, threads: int) -> Embedder:
    try:
        from fastembed import TextEmbedding

        # specific_model_path makes fastembed use the directory and never contact the hub.
        engine = TextEmbedding(
            model,
            cache_dir=str(directory),
            threads=threads,
            specific_model_path=str(directory),
            enable_cpu_mem_arena=False,
        )
    except Exception as exc:
        raise ModelUnavailable(
            f"fastembed could not load {model} from {directory}: {exc!r}. "
            f"If this is the pgcode cache, delete {directory} to rebuild it; if it is model_dir (PGCODE_MODEL_DIR), "
            "check that it holds a valid model.onnx + tokenizer.json + tokenizer_config.json."
        ) from exc
    return wrap(engine, model, model_key=model_key, model_dir=directory)


def wrap(engine: Any, model: str, *, model_key: str, model_dir: Path | None) -> Embedder:
    from tokenizers import Tokenizer

    inner = getattr(engine, "model", None)
    tokenizer: Tokenizer | None = getattr(inner, "tokenizer", None)
    if tokenizer is None and model_dir is not None:
        tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    if tokenizer is None:
        raise ModelUnavailable(f"fastembed loaded {model!r} without a tokenizer; pgcode needs one to count tokens")
    truncation = tokenizer.truncation or {}
    max_tokens = int(truncation.get("max_length") or DEFAULT_MAX_TOKENS)
    # A private copy without truncation or padding, so counts show how much a text overflows.
    counter = Tokenizer.from_str(tokenizer.to_str())
    counter.no_truncation()
    counter.no_padding()
    dim = DEFAULT_DIM if model == DEFAULT_MODEL else int(engine.embedding_size)
    return Embedder(
        engine, model_key=model_key, dim=dim, max_tokens=max_tokens, count_tokenizer=counter, model_dir=model_dir
    )
