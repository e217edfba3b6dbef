"""Sentences of the book that depend on the run are written from the run's numbers."""

from __future__ import annotations

from types import SimpleNamespace

from srllm.report.training import memory_context, truncation_sentence


def test_the_length_limit_sentence_follows_the_run() -> None:
    cut = {"truncated_by_source": {"wnc": {"share": 0.66, "median_tokens": 143.0}, "paradetox": {"share": 0.01, "median_tokens": 105.0}}}
    sentence = truncation_sentence(cut, 128)
    assert "of 128 tokens" in sentence and "66% of the wnc examples" in sentence and "Most wnc examples" in sentence
    long = truncation_sentence({"truncated_by_source": {"wnc": {"share": 0.02, "median_tokens": 143.0}}}, 512)
    assert "512 tokens" in long and "Most" not in long
    assert "No training example" in truncation_sentence({}, 512)


def test_the_memory_sentence_takes_the_batch_from_the_parameters(tmp_path) -> None:
    config = SimpleNamespace(training=SimpleNamespace(batch_size=4, max_length=512))
    sentence = memory_context(config, tmp_path)  # no trained model in tmp_path: the vocabulary is not named
    assert "batch of 4 sequences of up to 512 tokens" in sentence and "the vocabulary" in sentence
