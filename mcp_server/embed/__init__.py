"""Text embedding: offline model build (safetensors → ONNX) and the Embedder used by indexing and search."""
