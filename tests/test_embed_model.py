"""Tests for the offline embedding model: converter exactness, vector quality, caching and failure modes."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import shutil
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mcp_server.config import Settings, resolve
from mcp_server.embed.lean import lean
from mcp_server.embed.model import DEFAULT_MODEL, Embedder, ModelUnavailable, embedder_for, key_for, load_embedder
from mcp_server.embed.weights import find_weights
from mcp_server.embed.words import words
from mcp_server.errors import ConfigError

REPO_ROOT = Path(__file__).resolve().parents[1]
_ENV_VARS = ("PGCODE_MODEL_DIR", "PGCODE_WEIGHTS_DIR", "PGCODE_CACHE_DIR", "PGCODE_EMBED_THREADS")

CODE_SNIPPETS = [
    "def read_file(path):\n    with open(path) as f:\n        return f.read()",
    "def load_text(filename):\n    fh = open(filename)\n    data = fh.read()\n    fh.close()\n    return data",
    "const total = items.reduce((acc, x) => acc + x.price, 0);",
    "class HttpClient:\n    def get(self, url):\n        return requests.get(url, timeout=10).json()",
    "SELECT id, name FROM users WHERE created_at > now() - interval '7 days' ORDER BY name;",
    "func Max(a, b int) int {\n\tif a > b {\n\t\treturn a\n\t}\n\treturn b\n}",
    "fn parse_port(s: &str) -> Result<u16, ParseIntError> {\n    s.trim().parse::<u16>()\n}",
    "public static String reverse(String s) {\n    return new StringBuilder(s).reverse().toString();\n}",
    "#include <stdio.h>\nint main(void) {\n    printf(\"hello\\n\");\n    return 0;\n}",
    "def fib(n):\n    a, b = 0, 1\n    for _ in range(n):\n        a, b = b, a + b\n    return a",
    "async def fetch_all(urls):\n    async with aiohttp.ClientSession() as s:\n        return await asyncio.gather(*(s.get(u) for u in urls))",
    "import json\n\ndef save_config(cfg, path):\n    with open(path, 'w') as f:\n        json.dump(cfg, f, indent=2)",
    "export function debounce(fn, ms) {\n  let t;\n  return (...args) => { clearTimeout(t); t = setTimeout(() => fn(...args), ms); };\n}",
    "CREATE TABLE chunks (id bigserial PRIMARY KEY, path text NOT NULL, embedding vector(384));",
    "def sort_by_key(items, key):\n    return sorted(items, key=lambda item: item[key], reverse=True)",
    "class Stack:\n    def __init__(self):\n        self._items = []\n    def push(self, x):\n        self._items.append(x)\n    def pop(self):\n        return self._items.pop()",
    "for (let i = 0; i < rows.length; i++) {\n  table.appendChild(renderRow(rows[i]));\n}",
    "def retry(times):\n    def deco(fn):\n        def wrapper(*a, **kw):\n            for i in range(times):\n                try:\n                    return fn(*a, **kw)\n                except Exception:\n                    if i == times - 1:\n                        raise\n        return wrapper\n    return deco",
    "users = db.query(User).filter(User.active.is_(True)).order_by(User.email).all()",
    "def sha256_file(path):\n    h = hashlib.sha256()\n    with open(path, 'rb') as f:\n        for block in iter(lambda: f.read(65536), b''):\n            h.update(block)\n    return h.hexdigest()",
    "impl Display for Point {\n    fn fmt(&self, f: &mut Formatter) -> fmt::Result {\n        write!(f, \"({}, {})\", self.x, self.y)\n    }\n}",
]


@pytest.fixture(scope="session")
def clean_env() -> Iterator[None]:
    """Keep a developer's PGCODE_* settings from steering the session-wide builds."""
    with pytest.MonkeyPatch.context() as mp:
        for name in _ENV_VARS:
            mp.delenv(name, raising=False)
        yield


@pytest.fixture(autouse=True)
def _isolated_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in _ENV_VARS:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session")
def cache_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("pgcode-cache")


@pytest.fixture(scope="session")
def fp32(clean_env: None, cache_root: Path) -> Embedder:
    return load_embedder(quantize=False, cache_dir=cache_root)


@pytest.fixture(scope="session")
def int8(clean_env: None, cache_root: Path) -> Embedder:
    return load_embedder(quantize=True, cache_dir=cache_root)


@pytest.fixture(scope="session")
def weights_dir() -> Path:
    return find_weights(None).directory


# --- converter vs an independent numpy forward pass ------------------------------------------


def _np_layer_norm(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray, eps: float) -> np.ndarray:
    mean = x.mean(-1, keepdims=True)
    var = ((x - mean) ** 2).mean(-1, keepdims=True)
    out: np.ndarray = (x - mean) / np.sqrt(var + eps) * gamma + beta
    return out


_erf = np.vectorize(math.erf, otypes=[np.float64])


def _np_bert(
    w: dict[str, np.ndarray], cfg: dict[str, Any], ids: np.ndarray, mask: np.ndarray, types: np.ndarray
) -> np.ndarray:
    """BertModel.forward in float64 numpy, written from the architecture, not from the ONNX graph."""
    w = {k.removeprefix("bert."): v.astype(np.float64) for k, v in w.items() if v.dtype.kind == "f"}
    batch, seq = ids.shape
    heads = cfg["num_attention_heads"]
    head_dim = cfg["hidden_size"] // heads
    eps = cfg["layer_norm_eps"]

    def lin(x: np.ndarray, name: str) -> np.ndarray:
        out: np.ndarray = x @ w[f"{name}.weight"].T + w[f"{name}.bias"]
        return out

    def ln(x: np.ndarray, name: str) -> np.ndarray:
        return _np_layer_norm(x, w[f"{name}.weight"], w[f"{name}.bias"], eps)

    x = (
        w["embeddings.word_embeddings.weight"][ids]
        + w["embeddings.position_embeddings.weight"][np.arange(seq)][None]
        + w["embeddings.token_type_embeddings.weight"][types]
    )
    x = ln(x, "embeddings.LayerNorm")
    keep = mask.astype(bool)[:, None, None, :]
    for n in range(cfg["num_hidden_layers"]):
        p = f"encoder.layer.{n}"

        def heads_of(t: np.ndarray) -> np.ndarray:
            return t.reshape(batch, seq, heads, head_dim).transpose(0, 2, 1, 3)

        q = heads_of(lin(x, f"{p}.attention.self.query"))
        k = heads_of(lin(x, f"{p}.attention.self.key"))
        v = heads_of(lin(x, f"{p}.attention.self.value"))
        scores = np.where(keep, q @ k.transpose(0, 1, 3, 2) / math.sqrt(head_dim), -np.inf)
        scores = np.exp(scores - scores.max(-1, keepdims=True))
        probs = scores / scores.sum(-1, keepdims=True)
        ctx = (probs @ v).transpose(0, 2, 1, 3).reshape(batch, seq, heads * head_dim)
        x = ln(x + lin(ctx, f"{p}.attention.output.dense"), f"{p}.attention.output.LayerNorm")
        h = lin(x, f"{p}.intermediate.dense")
        h = 0.5 * h * (1.0 + _erf(h / math.sqrt(2.0)))
        x = ln(x + lin(h, f"{p}.output.dense"), f"{p}.output.LayerNorm")
    return x


def _tokenize(weights_dir: Path, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(weights_dir / "tokenizer.json"))
    tok.enable_truncation(256)
    tok.enable_padding(pad_id=0, pad_token="[PAD]")
    enc = tok.encode_batch(texts)
    return np.array([e.ids for e in enc], dtype=np.int64), np.array([e.attention_mask for e in enc], dtype=np.int64)


def test_converter_graph_matches_numpy_forward(weights_dir: Path) -> None:
    import onnxruntime as ort
    from safetensors.numpy import load_file

    from mcp_server.embed.onnx_export import BertConfig, build_bert_model, load_bert_weights

    cfg = json.loads((weights_dir / "config.json").read_text())
    onnx_model = build_bert_model(load_bert_weights(weights_dir / "model.safetensors"), BertConfig.from_dict(cfg))
    assert [i.name for i in onnx_model.graph.input] == ["input_ids", "attention_mask", "token_type_ids"]
    assert [o.name for o in onnx_model.graph.output] == ["last_hidden_state"]
    for value_info in onnx_model.graph.input:
        dims = value_info.type.tensor_type.shape.dim
        assert [d.dim_param for d in dims] == ["batch", "sequence"]  # both axes dynamic

    session = ort.InferenceSession(onnx_model.SerializeToString(), providers=["CPUExecutionProvider"])
    raw = load_file(str(weights_dir / "model.safetensors"))

    # Two shapes to exercise the dynamic axes; padding and token types 1 exercise mask and segment table.
    batches = [
        CODE_SNIPPETS[:3] + ["short"],
        ["read the contents of a file", CODE_SNIPPETS[17]],
    ]
    for texts in batches:
        ids, mask = _tokenize(weights_dir, texts)
        types = np.zeros_like(ids)
        types[0, ids.shape[1] // 2 :] = 1
        (got,) = session.run(None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": types})
        want = _np_bert(raw, cfg, ids, mask, types)
        assert got.shape == want.shape == (len(texts), ids.shape[1], 384)
        assert got.dtype == np.float32
        real = mask.astype(bool)  # padded positions carry no meaning and are pooled away
        assert np.abs(got[real] - want[real]).max() < 1e-4


def test_embedder_matches_numpy_mean_pooling(fp32: Embedder, weights_dir: Path) -> None:
    from safetensors.numpy import load_file

    cfg = json.loads((weights_dir / "config.json").read_text())
    texts = CODE_SNIPPETS[:4]
    ids, mask = _tokenize(weights_dir, texts)
    hidden = _np_bert(load_file(str(weights_dir / "model.safetensors")), cfg, ids, mask, np.zeros_like(ids))
    m = mask[..., None].astype(np.float64)
    pooled = (hidden * m).sum(1) / m.sum(1)
    want = pooled / np.linalg.norm(pooled, axis=1, keepdims=True)
    got = fp32.embed_documents(texts)
    assert np.abs(got - want).max() < 1e-5


# --- the fp32 and int8 embedders --------------------------------------------------------------


def test_api_shape_and_keys(fp32: Embedder, int8: Embedder) -> None:
    assert fp32.model_key == DEFAULT_MODEL
    assert int8.model_key == DEFAULT_MODEL + ":int8"
    for emb in (fp32, int8):
        assert emb.dim == 384
        assert emb.max_tokens == 256
        empty = emb.embed_documents([])
        assert empty.shape == (0, 384) and empty.dtype == np.float32
        q = emb.embed_query("open a file")
        assert q.shape == (384,) and q.dtype == np.float32


def test_fp32_vectors_unit_norm_and_deterministic(fp32: Embedder) -> None:
    a = fp32.embed_documents(CODE_SNIPPETS)
    b = fp32.embed_documents(CODE_SNIPPETS)
    assert a.shape == (len(CODE_SNIPPETS), 384) and a.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-5)
    assert np.array_equal(a, b)
    # Batch composition changes padding only; the mask must make that irrelevant.
    one_by_one = fp32.embed_documents(CODE_SNIPPETS, batch_size=1)
    assert np.abs(a - one_by_one).max() < 1e-5
    # A query is embedded exactly like a document for this model.
    assert np.abs(fp32.embed_query(CODE_SNIPPETS[0]) - a[0]).max() < 1e-6


def test_fp32_semantic_sanity(fp32: Embedder) -> None:
    docs = fp32.embed_documents(CODE_SNIPPETS[:5])  # read_file, load_text, JS reduce, HttpClient, SQL
    q = fp32.embed_query("read the contents of a file")
    sims = docs @ q
    assert sims[0] > 0.5 and sims[1] > 0.5  # reference: 0.575 / 0.586
    assert sims[4] < 0.1  # SQL SELECT
    assert sims[0] > sims[4] + 0.4
    assert max(sims[2:]) < min(sims[:2])
    assert float(docs[0] @ docs[1]) > 0.6  # the two file readers resemble each other (ref 0.644)


def test_int8_close_to_fp32(fp32: Embedder, int8: Embedder) -> None:
    a = fp32.embed_documents(CODE_SNIPPETS)
    b = int8.embed_documents(CODE_SNIPPETS)
    np.testing.assert_allclose(np.linalg.norm(b, axis=1), 1.0, atol=1e-5)
    cos = (a * b).sum(1)
    assert cos.mean() >= 0.98, cos
    assert cos.min() >= 0.95, cos
    q = int8.embed_query("read the contents of a file")
    sims = b[:5] @ q
    assert sims[0] > sims[4] + 0.3


def test_count_tokens_uncapped_and_truncation(fp32: Embedder) -> None:
    assert fp32.count_tokens([]) == []
    long_text = "alpha " * 1000
    counts = fp32.count_tokens(["hello world", long_text])
    assert counts[0] == 4  # [CLS] hello world [SEP]
    assert counts[1] == 1002
    # The model only sees the first 256 tokens: text beyond them changes nothing.
    a, b = fp32.embed_documents([long_text, "alpha " * 300])
    assert np.abs(a - b).max() < 1e-6
    c = fp32.embed_documents(["alpha " * 200])[0]
    assert np.abs(a - c).max() > 1e-4


# --- cache behaviour --------------------------------------------------------------------------


def test_second_load_reuses_cache(fp32: Embedder, cache_root: Path) -> None:
    assert fp32.model_dir is not None
    onnx_file = fp32.model_dir / "model.onnx"
    before = onnx_file.stat()
    manifest_before = (fp32.model_dir / "manifest.json").read_text()
    started = time.perf_counter()
    again = load_embedder(quantize=False, cache_dir=cache_root)
    elapsed = time.perf_counter() - started
    after = onnx_file.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
    assert (fp32.model_dir / "manifest.json").read_text() == manifest_before
    assert elapsed < 5.0, elapsed  # a warm load is ~0.1-0.6 s; a rebuild would take seconds more
    assert np.array_equal(again.embed_documents(CODE_SNIPPETS[:3]), fp32.embed_documents(CODE_SNIPPETS[:3]))


def test_cache_dir_from_env(fp32: Embedder, cache_root: Path) -> None:
    settings = Settings.load({"embedding_quantize": False}, env={"PGCODE_CACHE_DIR": str(cache_root)})
    emb = embedder_for(settings)
    assert emb.model_dir == fp32.model_dir


def test_model_settings_are_listed_with_their_sources(tmp_path: Path) -> None:
    resolved = resolve(env={"PGCODE_CACHE_DIR": str(tmp_path), "PGCODE_OFFLINE": "1"})
    rows = {row["key"]: row for row in resolved.describe()}
    assert rows["cache_dir"] == {"key": "cache_dir", "value": str(tmp_path), "source": "env PGCODE_CACHE_DIR"}
    assert rows["offline"]["value"] is True
    assert rows["model_dir"]["source"] == rows["weights_dir"]["source"] == "default"


def test_stale_cache_is_rebuilt(fp32: Embedder, tmp_path: Path) -> None:
    assert fp32.model_dir is not None
    cached = tmp_path / "models" / fp32.model_dir.name
    shutil.copytree(fp32.model_dir, cached)
    manifest = json.loads((cached / "manifest.json").read_text())
    manifest["converter_version"] = -1
    (cached / "manifest.json").write_text(json.dumps(manifest))
    old_inode = (cached / "model.onnx").stat().st_ino
    # Debris of a build killed mid-way, and of the other variant's build, which must survive.
    (tmp_path / "models" / f".build-{cached.name}.dead1234").mkdir()
    (tmp_path / "models" / f".build-{cached.name}-int8.other123").mkdir()

    emb = load_embedder(quantize=False, cache_dir=tmp_path)
    rebuilt = json.loads((cached / "manifest.json").read_text())
    assert rebuilt["converter_version"] != -1
    assert (cached / "model.onnx").stat().st_ino != old_inode
    # The converter is deterministic, so the rebuilt file is byte-identical to the session's.
    assert rebuilt["onnx_sha256"] == json.loads((fp32.model_dir / "manifest.json").read_text())["onnx_sha256"]
    assert np.array_equal(emb.embed_documents(CODE_SNIPPETS[:2]), fp32.embed_documents(CODE_SNIPPETS[:2]))
    leftovers = [p.name for p in (tmp_path / "models").iterdir() if p.name.startswith((".build-", ".stale-"))]
    assert leftovers == [f".build-{cached.name}-int8.other123"]


def test_concurrent_builds_share_one_result(clean_env: None, tmp_path: Path) -> None:
    script = textwrap.dedent(
        """
        import sys
        from pathlib import Path
        from mcp_server.embed.model import load_embedder
        e = load_embedder(quantize=False, cache_dir=Path(sys.argv[1]), threads=1)
        sys.stderr.write("VEC %r\\n" % float(e.embed_query("open a file")[0]))
        """
    )
    env = {k: v for k, v in os.environ.items() if k not in _ENV_VARS}
    env["PYTHONPATH"] = str(REPO_ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", script, str(tmp_path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=120) for p in procs]
    for proc, (_, err) in zip(procs, outputs):
        assert proc.returncode == 0, err
    logs = "".join(out + err for out, err in outputs)
    assert logs.count("embedding model built") == 1, logs
    vecs = {line for _, err in outputs for line in err.splitlines() if line.startswith("VEC ")}
    assert len(vecs) == 1
    names = sorted(p.name for p in (tmp_path / "models").iterdir() if not p.name.endswith(".lock"))
    assert names == ["sentence-transformers--all-MiniLM-L6-v2"]


# --- failure modes and overrides ----------------------------------------------------------------


def _corrupted_copy(weights_dir: Path, dest: Path) -> Path:
    dest.mkdir()
    for f in weights_dir.iterdir():
        if f.is_file():
            shutil.copyfile(f, dest / f.name)
    with (dest / "model.safetensors").open("r+b") as fh:
        fh.seek(50_000_000)
        byte = fh.read(1)
        fh.seek(50_000_000)
        fh.write(bytes([byte[0] ^ 0x01]))
    return dest


def test_corrupted_weights_refused(weights_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    bad = _corrupted_copy(weights_dir, tmp_path / "weights")
    cache = tmp_path / "cache"
    with pytest.raises(ModelUnavailable) as info:
        load_embedder(quantize=False, cache_dir=cache, weights_dir=bad)
    message = str(info.value)
    assert "sha256" in message and "does not match" in message
    assert str(bad) in message
    assert "pip install" in message  # says what to do about it
    assert not (cache / "models" / "sentence-transformers--all-MiniLM-L6-v2").exists()

    settings = Settings.load({"cache_dir": str(cache)}, env={"PGCODE_WEIGHTS_DIR": str(bad)})
    with pytest.raises(ModelUnavailable, match="does not match"):
        embedder_for(settings)


def test_every_copied_file_is_checked(weights_dir: Path, tmp_path: Path) -> None:
    copy = tmp_path / "weights"
    shutil.copytree(weights_dir, copy)
    vocab = copy / "vocab.txt"
    vocab.write_text(vocab.read_text().replace("[UNK]", "[UNK2]", 1))
    with pytest.raises(ModelUnavailable, match="vocab.txt sha256 .* does not match"):
        load_embedder(quantize=False, cache_dir=tmp_path / "cache", weights_dir=copy)


def test_missing_weights_files_reported(tmp_path: Path) -> None:
    with pytest.raises(ModelUnavailable, match="missing model.safetensors"):
        load_embedder(quantize=False, cache_dir=tmp_path / "cache", weights_dir=tmp_path)


def test_model_dir_used_as_is(fp32: Embedder, tmp_path: Path) -> None:
    assert fp32.model_dir is not None
    # Our own build keeps its key, so an index made through the cache stays valid (the settings
    # read the default 128 tokens of each text: the key says so).
    same = embedder_for(
        Settings.load({"cache_dir": str(tmp_path / "unused")}, env={"PGCODE_MODEL_DIR": str(fp32.model_dir)})
    )
    assert same.model_key == fp32.model_key + ":128t"
    assert not (tmp_path / "unused" / "models").exists()  # nothing built
    assert np.array_equal(same.embed_documents(CODE_SNIPPETS[:2]), fp32.embed_documents(CODE_SNIPPETS[:2]))

    # A foreign directory (no manifest) gets a key derived from its ONNX bytes.
    foreign = tmp_path / "foreign"
    shutil.copytree(fp32.model_dir, foreign)
    (foreign / "manifest.json").unlink()
    other = load_embedder(quantize=True, cache_dir=tmp_path / "unused", model_dir=foreign)
    assert other.model_key.startswith(DEFAULT_MODEL + "@sha256:")
    assert other.model_key != fp32.model_key
    assert other.max_tokens == 256

    (foreign / "tokenizer.json").unlink()
    with pytest.raises(ModelUnavailable, match="tokenizer.json"):
        load_embedder(cache_dir=tmp_path / "unused", model_dir=foreign)


@pytest.mark.parametrize("name", ["BAAI/bge-small-en-v1.5", "no-such-org/no-such-model"])
def test_unavailable_model_fails_fast_offline(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    started = time.perf_counter()
    with pytest.raises(ModelUnavailable) as info:
        load_embedder(name, cache_dir=tmp_path)
    assert time.perf_counter() - started < 10
    assert name in str(info.value)
    assert DEFAULT_MODEL in str(info.value)  # points at the model that works offline
    assert os.environ["HF_HUB_OFFLINE"] == "1"


def test_the_offline_setting_fails_fast_and_leaves_the_environment_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    settings = Settings.load(
        {"embedding_model": "BAAI/bge-small-en-v1.5", "cache_dir": str(tmp_path)}, env={"PGCODE_OFFLINE": "true"}
    )
    before = dict(os.environ)
    started = time.perf_counter()
    with pytest.raises(ModelUnavailable, match="offline"):
        embedder_for(settings)
    assert time.perf_counter() - started < 10
    assert dict(os.environ) == before


def test_import_is_cheap() -> None:
    code = (
        "import sys, mcp_server.embed.model\n"
        "heavy = [m for m in ('fastembed', 'onnx', 'onnxruntime', 'tokenizers', 'safetensors') if m in sys.modules]\n"
        "sys.stderr.write(repr(heavy))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout == ""  # stdout belongs to the MCP transport
    assert out.stderr.strip() == "[]"


def test_the_settings_key_says_how_much_of_each_text_was_read() -> None:
    assert key_for(Settings()) == DEFAULT_MODEL + ":int8:128t"
    assert key_for(Settings(embedding_quantize=False)) == DEFAULT_MODEL + ":128t"
    assert key_for(Settings(embed_tokens=64)) == DEFAULT_MODEL + ":int8:64t"
    # The model's whole window reads what the earlier vectors read: the same key.
    assert key_for(Settings(embed_tokens=256)) == key_for(Settings(embed_tokens=4096)) == DEFAULT_MODEL + ":int8"
    # Read as words, 112 tokens of them unless told otherwise: other vectors, another key.
    assert key_for(Settings(embed_text="words")) == DEFAULT_MODEL + ":int8:112t:words"
    assert key_for(Settings(embed_text="words", embed_tokens=128)) == DEFAULT_MODEL + ":int8:128t:words"
    assert key_for(Settings(embed_text="words", embed_tokens=256)) == DEFAULT_MODEL + ":int8:words"
    other = "jinaai/jina-embeddings-v2-base-code"
    assert key_for(Settings(embedding_model=other)) == other
    assert key_for(Settings(embedding_model=other, embed_tokens=512)) == other + ":512t"
    assert key_for(Settings(embedding_model=other, embed_text="words")) == other + ":words"
    # Read without punctuation, 96 tokens unless told otherwise.
    assert key_for(Settings(embed_text="lean")) == DEFAULT_MODEL + ":int8:96t:lean"
    assert key_for(Settings(embed_text="lean", embed_tokens=128)) == DEFAULT_MODEL + ":int8:128t:lean"
    assert key_for(Settings(embedding_model=other, embed_text="lean")) == other + ":lean"
    assert key_for(Settings(embed_text="lean-python")) == DEFAULT_MODEL + ":int8:128t:lean-python"


def test_embed_text_words_reads_words_and_code_the_text_as_written(tmp_path: Path) -> None:
    settings = Settings.load({"cache_dir": str(tmp_path / "cache")}, env={"PGCODE_EMBED_TEXT": "words"})
    embedder = embedder_for(settings)
    assert embedder.passage_text == "words" and embedder.passage_tokens == 112
    assert embedder.model_key == DEFAULT_MODEL + ":int8:112t:words"
    assert embedder_for(dataclasses.replace(settings, embed_text="code")).passage_text == "code"
    lean_reader = embedder_for(dataclasses.replace(settings, embed_text="lean"))
    assert lean_reader.passage_text == "lean" and lean_reader.passage_tokens == 96
    with pytest.raises(ConfigError, match="code, words, lean or lean-python"):
        Settings.load({}, env={"PGCODE_EMBED_TEXT": "prose"})


def test_the_words_of_a_code_text() -> None:
    assert (
        words("def get_user(self, req):\n    return self._cache[req.id]")
        == "def get user self req return self cache req id"
    )
    assert words("resp = HTTPAdapter().getUserName(x2Y)") == "resp HTTP Adapter get User Name x2 Y"
    assert words("naïve = 'café' # 日本語 42") == "naïve café 日本語 42"
    assert words("  ->  ::  ") == ""


def test_a_code_text_without_its_punctuation_keeps_its_names_as_written() -> None:
    # Whitespace is no token to the model: the words left are what counts.
    assert lean("@property\ndef get_user(self, req) -> User:\n    return self._cache[req.id]  # ======").split() == [
        *("property", "def", "get_user", "self", "req", "User", "return", "self._cache", "req.id"),
    ]
    # camelCase, paths and dotted names stay whole; a dot ending a sentence or a call goes.
    assert lean("io::Read::read(buf).unwrap(); LocalFlags returns it.").split() == [
        *("io::Read::read", "buf", "unwrap", "LocalFlags", "returns", "it"),
    ]
    assert lean("naïve = 'café' # doesn't 1.5 日本語").split() == ["naïve", "café", "doesn't", "1.5", "日本語"]
    assert lean("  ->  ::  ") == ""


def test_an_embedder_reading_words_embeds_texts_and_queries_as_their_words(clean_env: None, cache_root: Path) -> None:
    emb = load_embedder(quantize=True, cache_dir=cache_root)
    code = "def resolve_redirects(self, resp, req):\n    return self.getNextHop(resp.headers['Location'])"
    plain = "def resolve redirects self resp req return self get Next Hop resp headers Location"
    as_written = emb.embed_documents([code, plain], batch_size=1)
    query_as_written = emb.embed_query("resolve_redirects()")
    emb.read_passages(128, emb.model_key + ":128t:words", text="words")
    try:
        read = emb.embed_documents([code], batch_size=1)[0]
        assert np.abs(read - as_written[1]).max() < 1e-6  # what the model read is the words
        assert float(read @ as_written[0]) < 0.99  # not the text as written
        # A query is read the same way, so `resolve_redirects()` meets the words of its definition.
        assert np.abs(emb.embed_query("resolve_redirects()") - emb.embed_query("resolve redirects")).max() < 1e-6
        assert float(emb.embed_query("resolve_redirects()") @ query_as_written) < 0.99
    finally:
        emb.read_passages(None, DEFAULT_MODEL + ":int8")


def test_an_embedder_reading_128_tokens_embeds_a_long_text_as_its_first_128_tokens(
    clean_env: None, cache_root: Path
) -> None:
    emb = load_embedder(quantize=True, cache_dir=cache_root)
    long = "def settle(account):\n" + "".join(f"    total_{i} = reconcile(account, {i})\n" for i in range(80))
    short = CODE_SNIPPETS[0]
    whole = emb.embed_documents([long, short], batch_size=1)
    emb.read_passages(128, emb.model_key + ":128t")
    assert emb.model_key.endswith(":int8:128t") and emb.passage_tokens == 128
    read = emb.embed_documents([long, short], batch_size=1)
    assert np.abs(read[1] - whole[1]).max() < 1e-6  # a text within 128 tokens is read whole
    assert float(read[0] @ whole[0]) < 0.999  # the long one is not
    # Queries are read whole: a long bug report keeps all the words the model's window holds.
    query_read = emb.embed_query(long)
    # ... and the long text is read as its first 128 tokens, [CLS] and [SEP] included.
    prefix = emb._count_tokenizer.decode(emb._count_tokenizer.encode(long).ids[1:127])
    emb.read_passages(None, DEFAULT_MODEL + ":int8")
    assert float(emb.embed_documents([prefix], batch_size=1)[0] @ read[0]) > 0.99
    assert np.abs(emb.embed_query(long) - query_read).max() < 1e-6


def test_an_embedder_reading_lean_texts_embeds_texts_and_queries_without_punctuation(
    clean_env: None, cache_root: Path
) -> None:
    emb = load_embedder(quantize=True, cache_dir=cache_root)
    code = 'func (c *Command) LocalFlags() *flag.FlagSet {\n\treturn c.lflags // "local"\n}'
    as_written = emb.embed_documents([code, lean(code)], batch_size=1)
    query = "LocalFlags() returns the local FlagSet."
    query_as_written = emb.embed_query(query)
    emb.read_passages(96, emb.model_key + ":96t:lean", text="lean")
    try:
        read = emb.embed_documents([code], batch_size=1)[0]
        assert np.abs(read - as_written[1]).max() < 1e-6  # what the model read is the text without punctuation
        assert float(read @ as_written[0]) < 0.99
        assert np.abs(emb.embed_query(query) - emb.embed_query("LocalFlags returns the local FlagSet")).max() < 1e-6
        assert float(emb.embed_query(query) @ query_as_written) < 0.999
    finally:
        emb.read_passages(None, DEFAULT_MODEL + ":int8")


def test_lean_python_reads_python_texts_lean_and_other_languages_as_written(clean_env: None, cache_root: Path) -> None:
    emb = load_embedder(quantize=True, cache_dir=cache_root)
    python = "def get_user(self, req):\n    return self._cache[req.id]"
    go = "func (c *Command) LocalFlags() *flag.FlagSet {\n\treturn c.lflags\n}"
    expected = emb.embed_documents([lean(python), go], batch_size=1)
    query = emb.embed_query("get_user() returns the user.")
    emb.read_passages(128, emb.model_key + ":128t:lean-python", text="lean-python")
    try:
        read = emb.embed_documents([python, go], batch_size=1, languages=["python", "go"])
        assert np.abs(read - expected).max() < 1e-6
        assert (
            np.abs(emb.embed_query("get_user() returns the user.") - emb.embed_query("get_user returns the user")).max()
            < 1e-6
        )
        assert float(emb.embed_query("get_user() returns the user.") @ query) < 0.999
    finally:
        emb.read_passages(None, DEFAULT_MODEL + ":int8")
