"""srllm: a reproducible study of SR-LLM (arXiv 2404.01399)."""

__version__ = "0.1.0"
