"""Vectors for neural patterns: the offline embedder and the Chroma index.

Nothing here is imported by the store-only paths; onnxruntime, tokenizers and
chromadb load on first use.
"""
