"""Converts a BERT safetensors checkpoint into an ONNX encoder graph (and a dynamic-int8 copy) with numpy + onnx only."""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    import onnx

# Bump whenever the emitted graph changes, so cached models built by older code are rebuilt.
CONVERTER_VERSION = 2

# 17 is the first opset with LayerNormalization, which onnxruntime runs as one fused kernel.
OPSET = 17

INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids")
OUTPUT_NAME = "last_hidden_state"


@dataclass(frozen=True)
class BertConfig:
    """The subset of a Hugging Face BERT config.json that determines the encoder graph."""

    vocab_size: int
    hidden_size: int
    num_hidden_layers: int
    num_attention_heads: int
    intermediate_size: int
    max_position_embeddings: int
    type_vocab_size: int
    layer_norm_eps: float
    hidden_act: str = "gelu"

    @property
    def head_dim(self) -> int:
        return self.hidden_size // self.num_attention_heads

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> BertConfig:
        if raw.get("model_type", "bert") != "bert":
            raise ValueError(f"not a BERT config: model_type={raw.get('model_type')!r}")
        # Only the exact (erf) GELU is emitted; other activations would silently give wrong vectors.
        if raw.get("hidden_act", "gelu") != "gelu":
            raise ValueError(f"unsupported hidden_act {raw.get('hidden_act')!r} (only 'gelu')")
        if raw.get("position_embedding_type", "absolute") != "absolute":
            raise ValueError("only absolute position embeddings are supported")
        config = cls(
            vocab_size=int(raw["vocab_size"]),
            hidden_size=int(raw["hidden_size"]),
            num_hidden_layers=int(raw["num_hidden_layers"]),
            num_attention_heads=int(raw["num_attention_heads"]),
            intermediate_size=int(raw["intermediate_size"]),
            max_position_embeddings=int(raw["max_position_embeddings"]),
            type_vocab_size=int(raw.get("type_vocab_size", 2)),
            layer_norm_eps=float(raw.get("layer_norm_eps", 1e-12)),
        )
        if config.hidden_size % config.num_attention_heads:
            raise ValueError("hidden_size is not a multiple of num_attention_heads")
        return config

    @classmethod
    def from_file(cls, path: Path) -> BertConfig:
        return cls.from_dict(json.loads(path.read_text(encoding="utf-8")))


def load_bert_weights(path: Path) -> dict[str, np.ndarray]:
    """Read a BertModel checkpoint, normalising the `bert.` prefix some checkpoints carry."""
    from safetensors.numpy import load_file

    raw = load_file(str(path))
    weights: dict[str, np.ndarray] = {}
    for name, value in raw.items():
        key = name[len("bert.") :] if name.startswith("bert.") else name
        weights[key] = value
    return weights


def _expected_shapes(config: BertConfig) -> dict[str, tuple[int, ...]]:
    h, i = config.hidden_size, config.intermediate_size
    shapes: dict[str, tuple[int, ...]] = {
        "embeddings.word_embeddings.weight": (config.vocab_size, h),
        "embeddings.position_embeddings.weight": (config.max_position_embeddings, h),
        "embeddings.token_type_embeddings.weight": (config.type_vocab_size, h),
        "embeddings.LayerNorm.weight": (h,),
        "embeddings.LayerNorm.bias": (h,),
    }
    for n in range(config.num_hidden_layers):
        p = f"encoder.layer.{n}."
        for proj in ("query", "key", "value"):
            shapes[f"{p}attention.self.{proj}.weight"] = (h, h)
            shapes[f"{p}attention.self.{proj}.bias"] = (h,)
        shapes[f"{p}attention.output.dense.weight"] = (h, h)
        shapes[f"{p}attention.output.dense.bias"] = (h,)
        shapes[f"{p}attention.output.LayerNorm.weight"] = (h,)
        shapes[f"{p}attention.output.LayerNorm.bias"] = (h,)
        shapes[f"{p}intermediate.dense.weight"] = (i, h)
        shapes[f"{p}intermediate.dense.bias"] = (i,)
        shapes[f"{p}output.dense.weight"] = (h, i)
        shapes[f"{p}output.dense.bias"] = (h,)
        shapes[f"{p}output.LayerNorm.weight"] = (h,)
        shapes[f"{p}output.LayerNorm.bias"] = (h,)
    return shapes


def check_weights(weights: Mapping[str, np.ndarray], config: BertConfig) -> None:
    """Fail loudly on a checkpoint that does not fit the config, rather than emit a broken graph."""
    problems: list[str] = []
    for name, shape in _expected_shapes(config).items():
        if name not in weights:
            problems.append(f"missing {name}")
        elif tuple(weights[name].shape) != shape:
            problems.append(f"{name} has shape {tuple(weights[name].shape)}, expected {shape}")
    if problems:
        shown = "; ".join(problems[:5]) + ("; ..." if len(problems) > 5 else "")
        raise ValueError(f"checkpoint does not match the BERT config: {shown}")


class _GraphBuilder:
    """Accumulates nodes and initialisers with readable, unique names."""

    def __init__(self) -> None:
        from onnx import helper, numpy_helper

        self._helper = helper
        self._numpy_helper = numpy_helper
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []
        self._const_cache: dict[tuple[str, bytes, tuple[int, ...]], str] = {}

    def weight(self, name: str, value: np.ndarray) -> str:
        self.initializers.append(self._numpy_helper.from_array(np.ascontiguousarray(value), name))
        return name

    def const(self, value: np.ndarray | float | int | list[int], dtype: type = np.float32) -> str:
        array: np.ndarray = np.asarray(value, dtype=dtype)
        key = (array.dtype.str, array.tobytes(), array.shape)
        if key not in self._const_cache:
            name = f"const_{len(self._const_cache)}"
            self.weight(name, array)
            self._const_cache[key] = name
        return self._const_cache[key]

    def op(self, op_type: str, inputs: list[str], name: str, **attrs: Any) -> str:
        self.nodes.append(self._helper.make_node(op_type, inputs, [name], name=name, **attrs))
        return name


def build_bert_model(weights: Mapping[str, np.ndarray], config: BertConfig) -> onnx.ModelProto:
    """Emit a BertModel encoder graph: (input_ids, attention_mask, token_type_ids) → last_hidden_state."""
    import onnx
    from onnx import TensorProto, helper

    check_weights(weights, config)
    g = _GraphBuilder()
    h, heads, head_dim = config.hidden_size, config.num_attention_heads, config.head_dim
    eps = config.layer_norm_eps

    def w(name: str) -> np.ndarray:
        return np.asarray(weights[name], dtype=np.float32)

    def layer_norm(x: str, prefix: str, out: str) -> str:
        return g.op(
            "LayerNormalization",
            [x, g.weight(f"{prefix}.weight", w(f"{prefix}.weight")), g.weight(f"{prefix}.bias", w(f"{prefix}.bias"))],
            out,
            axis=-1,
            epsilon=eps,
        )

    def linear(x: str, prefix: str, out: str) -> str:
        # Torch stores Linear weights as (out, in); MatMul wants (in, out). A MatMul with a constant
        # B is also exactly what quantize_dynamic turns into MatMulInteger.
        kernel = g.weight(f"{prefix}.weight_t", w(f"{prefix}.weight").T)
        product = g.op("MatMul", [x, kernel], f"{out}/matmul")
        return g.op("Add", [product, g.weight(f"{prefix}.bias", w(f"{prefix}.bias"))], out)

    # Embeddings. Positions are a slice of the table up to the runtime sequence length, which keeps
    # both batch and sequence axes dynamic without a Range op.
    seq_len = g.op("Shape", ["input_ids"], "emb/seq_len", start=1, end=2)
    words = g.op(
        "Gather",
        [g.weight("embeddings.word_embeddings.weight", w("embeddings.word_embeddings.weight")), "input_ids"],
        "emb/words",
    )
    positions = g.op(
        "Slice",
        [
            g.weight("embeddings.position_embeddings.weight", w("embeddings.position_embeddings.weight")),
            g.const([0], np.int64),
            seq_len,
            g.const([0], np.int64),
        ],
        "emb/positions",
    )
    token_types = g.op(
        "Gather",
        [
            g.weight("embeddings.token_type_embeddings.weight", w("embeddings.token_type_embeddings.weight")),
            "token_type_ids",
        ],
        "emb/token_types",
    )
    summed = g.op("Add", [g.op("Add", [words, positions], "emb/words_pos"), token_types], "emb/sum")
    hidden = layer_norm(summed, "embeddings.LayerNorm", "emb/out")

    # Additive mask as in transformers: 0 where attended, float32 min where padded, shaped
    # (batch, 1, 1, seq) to broadcast over heads and query positions.
    mask_f = g.op("Cast", ["attention_mask"], "mask/float", to=TensorProto.FLOAT)
    inverted = g.op("Sub", [g.const(1.0), mask_f], "mask/inverted")
    additive = g.op("Mul", [inverted, g.const(float(np.finfo(np.float32).min))], "mask/additive")
    mask = g.op("Unsqueeze", [additive, g.const([1, 2], np.int64)], "mask/bias")

    split_heads = g.const([0, 0, heads, head_dim], np.int64)
    merge_heads = g.const([0, 0, h], np.int64)
    scale = g.const(1.0 / math.sqrt(head_dim))
    sqrt2 = g.const(math.sqrt(2.0))

    for n in range(config.num_hidden_layers):
        p = f"encoder.layer.{n}."
        tag = f"layer{n}"
        q = linear(hidden, f"{p}attention.self.query", f"{tag}/attn/q")
        k = linear(hidden, f"{p}attention.self.key", f"{tag}/attn/k")
        v = linear(hidden, f"{p}attention.self.value", f"{tag}/attn/v")
        # (batch, seq, hidden) → (batch, heads, seq, head_dim); K goes straight to its transposed form.
        q = g.op("Reshape", [q, split_heads], f"{tag}/attn/q_heads")
        q = g.op("Transpose", [q], f"{tag}/attn/q_t", perm=[0, 2, 1, 3])
        k = g.op("Reshape", [k, split_heads], f"{tag}/attn/k_heads")
        k = g.op("Transpose", [k], f"{tag}/attn/k_t", perm=[0, 2, 3, 1])
        v = g.op("Reshape", [v, split_heads], f"{tag}/attn/v_heads")
        v = g.op("Transpose", [v], f"{tag}/attn/v_t", perm=[0, 2, 1, 3])
        scores = g.op("MatMul", [q, k], f"{tag}/attn/scores")
        scores = g.op("Mul", [scores, scale], f"{tag}/attn/scaled")
        scores = g.op("Add", [scores, mask], f"{tag}/attn/masked")
        probs = g.op("Softmax", [scores], f"{tag}/attn/probs", axis=-1)
        context = g.op("MatMul", [probs, v], f"{tag}/attn/context")
        context = g.op("Transpose", [context], f"{tag}/attn/context_t", perm=[0, 2, 1, 3])
        context = g.op("Reshape", [context, merge_heads], f"{tag}/attn/context_merged")
        attn_out = linear(context, f"{p}attention.output.dense", f"{tag}/attn/out")
        attn_res = g.op("Add", [attn_out, hidden], f"{tag}/attn/residual")
        hidden = layer_norm(attn_res, f"{p}attention.output.LayerNorm", f"{tag}/attn/norm")

        # Exact GELU, 0.5·x·(1 + erf(x/√2)), as BERT was trained with; onnxruntime fuses it.
        inter = linear(hidden, f"{p}intermediate.dense", f"{tag}/ffn/inter")
        erf = g.op("Erf", [g.op("Div", [inter, sqrt2], f"{tag}/ffn/scaled")], f"{tag}/ffn/erf")
        gate = g.op("Add", [erf, g.const(1.0)], f"{tag}/ffn/erf_plus_one")
        x_gate = g.op("Mul", [inter, gate], f"{tag}/ffn/x_gate")
        gelu = g.op("Mul", [x_gate, g.const(0.5)], f"{tag}/ffn/gelu")
        ffn_out = linear(gelu, f"{p}output.dense", f"{tag}/ffn/out")
        ffn_res = g.op("Add", [ffn_out, hidden], f"{tag}/ffn/residual")
        hidden = layer_norm(ffn_res, f"{p}output.LayerNorm", f"{tag}/ffn/norm")

    g.nodes.append(helper.make_node("Identity", [hidden], [OUTPUT_NAME], name="output"))

    inputs = [helper.make_tensor_value_info(name, TensorProto.INT64, ["batch", "sequence"]) for name in INPUT_NAMES]
    outputs = [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, ["batch", "sequence", h])]
    graph = helper.make_graph(g.nodes, "bert_encoder", inputs, outputs, initializer=g.initializers)
    model = helper.make_model(
        graph,
        opset_imports=[helper.make_opsetid("", OPSET)],
        producer_name="pgcode.onnx_export",
        producer_version=str(CONVERTER_VERSION),
    )
    # Pin an IR version every onnxruntime of the last years accepts, not whatever onnx defaults to.
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def export_bert_onnx(weights_path: Path, config_path: Path, out_path: Path) -> None:
    """Convert `weights_path` (safetensors) with `config_path` (config.json) into `out_path` (ONNX)."""
    import onnx

    config = BertConfig.from_file(config_path)
    model = build_bert_model(load_bert_weights(weights_path), config)
    onnx.save_model(model, str(out_path))


class _DropPreprocessHint(logging.Filter):
    """quantize_dynamic logs an unconditional 'consider pre-processing' warning on the root logger."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "pre-processing before quantization" not in record.getMessage()


def quantize_int8(src: Path, dst: Path, *, per_channel: bool = True, reduce_range: bool = False) -> None:
    """Dynamic int8 quantisation of the weight MatMuls; attention score MatMuls stay fp32.

    Only MatMuls with a constant B (the Linear layers) are quantised: that is where the time goes,
    and quantising activations x activations costs accuracy for little speed.
    """
    from onnxruntime.quantization import QuantType, quantize_dynamic

    hint_filter = _DropPreprocessHint()
    root = logging.getLogger()
    root.addFilter(hint_filter)
    try:
        quantize_dynamic(
            str(src),
            str(dst),
            op_types_to_quantize=["MatMul"],
            per_channel=per_channel,
            reduce_range=reduce_range,
            weight_type=QuantType.QInt8,
            extra_options={"MatMulConstBOnly": True},
        )
    finally:
        root.removeFilter(hint_filter)
