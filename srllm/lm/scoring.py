"""Batched log-likelihood scoring of continuations, following lm-evaluation-harness's recipe.

The recipe (lm-eval 0.4.x ``HFLM.loglikelihood``), reproduced exactly so that our CrowS-Pairs and
StereoSet scores can be cross-checked against lm-eval:

- text is tokenized without special tokens and no chat template is applied;
- an empty context conditions on a single token: the tokenizer's BOS id, or its EOS id where it has
  no BOS;
- otherwise trailing whitespace of the context moves onto the continuation, ``context +
  continuation`` is tokenized as a whole and the continuation's tokens are what follows the
  context's own tokenization (``_encode_pair``), so token boundaries are those of the whole text;
- the model sees ``(context + continuation)[:-1]``, left-truncated to its maximum length, and the
  log-softmax (float32) at the continuation's positions is summed.

Requests are sorted by length (longest first, as lm-eval) and right-padded, so a batch's padding
only trails each sequence: with causal attention the real tokens never see it, and the scores equal
the one-at-a-time scores up to float32 rounding (~1e-5). In bfloat16 (``evaluation.dtype``) the
rounding is coarser and depends on the batch's shape: other batches moved a summed score by ~2e-3
(two processes against one, tests/tasks/test_eval_sharding.py).
"""

from __future__ import annotations

from typing import Any

import torch

from ..core.progress import Progress


def prefix_token_id(tokenizer: Any) -> int:
    """The single token an empty context conditions on: BOS, else EOS (as lm-eval)."""
    if tokenizer.bos_token_id is not None:
        return int(tokenizer.bos_token_id)
    if tokenizer.eos_token_id is not None:
        return int(tokenizer.eos_token_id)
    raise ValueError("the tokenizer has neither a BOS nor an EOS token to condition an empty context on")


def encode_pair(tokenizer: Any, context: str, continuation: str) -> tuple[list[int], list[int]]:
    """Token ids of (context, continuation) exactly as lm-eval's ``loglikelihood`` builds them."""
    if context == "":
        return [prefix_token_id(tokenizer)], tokenizer.encode(continuation, add_special_tokens=False)
    # "A " + "B" would put the space in the context's last token; lm-eval moves it to the continuation.
    n_spaces = len(context) - len(context.rstrip())
    if n_spaces > 0:
        continuation = context[-n_spaces:] + continuation
        context = context[:-n_spaces]
    whole = tokenizer.encode(context + continuation, add_special_tokens=False)
    context_ids = tokenizer.encode(context, add_special_tokens=False)
    return context_ids, whole[len(context_ids) :]


def _max_length(model: Any) -> int:
    config = model.config
    for key in ("max_position_embeddings", "n_positions", "max_seq_len"):
        value = getattr(config, key, None)
        if isinstance(value, int) and value > 0:
            return value
    return 2048  # lm-eval's default when the config names none


def continuation_logprobs(
    model: Any,
    tokenizer: Any,
    contexts: list[str],
    continuations: list[str],
    batch_size: int = 16,
    progress: bool = True,
    desc: str = "scoring",
) -> list[tuple[float, int]]:
    """For each (context, continuation): the summed log-probability of the continuation's tokens
    given the context, and the number of continuation tokens. Results are in the input order.

    Raises ValueError for mismatched lists, a non-positive batch size, or a continuation that
    encodes to no tokens or more tokens than the model's maximum length.
    """
    if len(contexts) != len(continuations):
        raise ValueError(f"{len(contexts)} contexts but {len(continuations)} continuations")
    if batch_size < 1:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    max_length = _max_length(model)

    requests: list[tuple[list[int], list[int]]] = []  # (model input ids, continuation ids)
    for index, (context, continuation) in enumerate(zip(contexts, continuations)):
        context_ids, continuation_ids = encode_pair(tokenizer, context, continuation)
        if not continuation_ids:
            raise ValueError(f"request {index}: the continuation {continuation!r} encodes to no tokens")
        if len(continuation_ids) > max_length:
            raise ValueError(f"request {index}: the continuation has {len(continuation_ids)} tokens > {max_length}")
        # The last token is only predicted, never fed; over-long inputs lose context from the left.
        tokens = (context_ids + continuation_ids)[-(max_length + 1) :][:-1]
        requests.append((tokens, continuation_ids))

    # Longest first (ties by tokens, as lm-eval) so each batch pads little; results go back by index.
    order = sorted(range(len(requests)), key=lambda i: (-len(requests[i][0]), tuple(requests[i][0])))
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    device = next(model.parameters()).device
    results: list[tuple[float, int]] = [(0.0, 0)] * len(requests)

    model.eval()
    with torch.inference_mode(), Progress(desc, len(requests), "sentences", enabled=progress) as bar:
        for start in range(0, len(order), batch_size):
            batch = order[start : start + batch_size]
            width = max(len(requests[i][0]) for i in batch)
            input_ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
            attention_mask = torch.zeros((len(batch), width), dtype=torch.long)
            for row, i in enumerate(batch):
                tokens = requests[i][0]
                input_ids[row, : len(tokens)] = torch.tensor(tokens, dtype=torch.long)
                attention_mask[row, : len(tokens)] = 1
            logits = model(input_ids=input_ids.to(device), attention_mask=attention_mask.to(device)).logits
            for row, i in enumerate(batch):
                length, continuation_ids = len(requests[i][0]), requests[i][1]
                n_cont = len(continuation_ids)
                # Position p predicts token p + 1: the continuation's logits are its last n_cont positions.
                cont_logits = logits[row, length - n_cont : length].float()
                log_probs = torch.log_softmax(cont_logits, dim=-1)
                target = torch.tensor(continuation_ids, dtype=torch.long, device=log_probs.device)
                total = log_probs.gather(1, target.unsqueeze(1)).sum()
                results[i] = (float(total), n_cont)
            bar.update(len(batch))
    return results

