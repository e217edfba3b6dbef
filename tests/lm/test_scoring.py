"""Log-likelihood scoring (lm-eval's recipe) and the StereoSet / CrowS-Pairs metrics.

The model is the tiny random Llama with the real SmolLM2 tokenizer: what matters here is that the
scores are computed the right way, not what they are.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import torch

from srllm.config import ModelConfig, RandomInitConfig
from srllm.corpus.build import load_stereoset
from srllm.data.datadir import DataDir, DataError
from srllm.data.parsers import load_crows_pairs, read_crows_pairs_csv
from srllm.lm.models import load_causal_lm, load_tokenizer, resolve_base_model
from srllm.lm.scoring import continuation_logprobs
from srllm.tasks.crows_pairs import crows_pairs_metrics, score_crows_pairs
from srllm.tasks.stereoset import score_stereoset, stereoset_metrics

DATA_ROOT = Path(os.environ.get("SRLLM_DATA_DIR", Path(__file__).resolve().parents[3] / "shared" / "data"))


@pytest.fixture(scope="module")
def data() -> DataDir:
    if not DATA_ROOT.is_dir():
        pytest.skip(f"data mirror {DATA_ROOT} not found (set SRLLM_DATA_DIR)")
    return DataDir(DATA_ROOT)


@pytest.fixture(scope="module")
def tiny() -> tuple[Any, Any]:
    path = resolve_base_model(ModelConfig(random_init=RandomInitConfig()), seed=0)
    return load_causal_lm(path), load_tokenizer(path)


@pytest.fixture(scope="module")
def stereoset_items(data: DataDir) -> list[dict[str, str]]:
    return load_stereoset(data)


@pytest.fixture(scope="module")
def crows_pairs(data: DataDir) -> list[dict[str, str]]:
    return load_crows_pairs(data)


@pytest.fixture(scope="module")
def requests(stereoset_items: list[dict[str, str]], crows_pairs: list[dict[str, str]]) -> tuple[list[str], list[str]]:
    """~20 real (context, continuation) pairs of varied length: sentences alone and sentence pairs."""
    intra = [item for item in stereoset_items if item["type"] == "intrasentence"][:4]
    inter = [item for item in stereoset_items if item["type"] == "intersentence"][:6]
    by_length = sorted(crows_pairs, key=lambda pair: len(pair["sent_more"]))
    crows = [by_length[0], by_length[len(by_length) // 2], by_length[-1]]  # shortest, median, longest
    contexts, continuations = [], []
    for item in intra:
        contexts += ["", ""]
        continuations += [item["stereotype"], item["unrelated"]]
    for item in inter:
        contexts += [item["context"]]
        continuations += [" " + item["anti-stereotype"]]
    for pair in crows:
        contexts += ["", ""]
        continuations += [pair["sent_more"], pair["sent_less"]]
    return contexts, continuations


# -- continuation_logprobs ----------------------------------------------------------------------


def test_batched_equals_one_at_a_time(tiny: tuple[Any, Any], requests: tuple[list[str], list[str]]) -> None:
    model, tokenizer = tiny
    contexts, continuations = requests
    assert len(contexts) == 20
    single = continuation_logprobs(model, tokenizer, contexts, continuations, batch_size=1, progress=False)
    for batch_size in (3, 16):
        batched = continuation_logprobs(
            model, tokenizer, contexts, continuations, batch_size=batch_size, progress=False
        )
        for (lp_one, n_one), (lp_batch, n_batch) in zip(single, batched):
            assert n_one == n_batch
            assert lp_batch == pytest.approx(lp_one, abs=1e-4)
    lengths = {n for _, n in single}
    assert max(lengths) > 2 * min(lengths), "the requests should differ in length, so batches pad"


def _direct_logprob(model: Any, tokenizer: Any, context: str, continuation: str) -> tuple[float, int]:
    """The recipe written out plainly for one request: no batching, padding or masks."""
    if context == "":
        context_ids = [tokenizer.bos_token_id]  # SmolLM2's tokenizer has a BOS (<|im_start|>, id 1)
        continuation_ids = tokenizer.encode(continuation, add_special_tokens=False)
    else:
        whole = tokenizer.encode(context + continuation, add_special_tokens=False)
        context_ids = tokenizer.encode(context, add_special_tokens=False)
        continuation_ids = whole[len(context_ids) :]
    ids = torch.tensor([context_ids + continuation_ids])
    with torch.no_grad():
        log_probs = torch.log_softmax(model(ids).logits[0].float(), dim=-1)
    total = 0.0
    for offset, token in enumerate(continuation_ids):
        position = len(context_ids) + offset - 1  # the logits at position p predict token p + 1
        total += float(log_probs[position, token])
    return total, len(continuation_ids)


def test_matches_a_plain_forward_pass(tiny: tuple[Any, Any], requests: tuple[list[str], list[str]]) -> None:
    model, tokenizer = tiny
    contexts, continuations = requests
    scored = continuation_logprobs(model, tokenizer, contexts, continuations, batch_size=8, progress=False)
    for context, continuation, (logprob, n_tokens) in zip(contexts, continuations, scored):
        expected, expected_n = _direct_logprob(model, tokenizer, context, continuation)
        assert n_tokens == expected_n
        assert logprob == pytest.approx(expected, abs=1e-4)  # summed float32 rounding over <= ~50 tokens


def test_trailing_space_of_the_context_moves_to_the_continuation(tiny: tuple[Any, Any]) -> None:
    model, tokenizer = tiny
    moved = continuation_logprobs(model, tokenizer, ["My neighbour is a nurse. "], ["She is kind."], progress=False)
    plain = continuation_logprobs(model, tokenizer, ["My neighbour is a nurse."], [" She is kind."], progress=False)
    assert moved == plain


def test_rejects_an_empty_continuation(tiny: tuple[Any, Any]) -> None:
    model, tokenizer = tiny
    with pytest.raises(ValueError, match="no tokens"):
        continuation_logprobs(model, tokenizer, ["A context."], [""], progress=False)


def test_score_functions_use_the_conventions(
    tiny: tuple[Any, Any], stereoset_items: list[dict[str, str]], crows_pairs: list[dict[str, str]]
) -> None:
    model, tokenizer = tiny
    intra = next(item for item in stereoset_items if item["type"] == "intrasentence")
    inter = next(item for item in stereoset_items if item["type"] == "intersentence")
    frame = score_stereoset(model, tokenizer, [intra, inter], batch_size=4, progress=False)
    assert list(frame["id"]) == [intra["id"], inter["id"]]
    (lp, n), = continuation_logprobs(model, tokenizer, [""], [intra["unrelated"]], progress=False)
    assert frame.loc[0, "score_unrelated"] == pytest.approx(lp / n, abs=1e-5)
    (lp, n), = continuation_logprobs(model, tokenizer, [inter["context"]], [" " + inter["stereotype"]], progress=False)
    assert frame.loc[1, "score_stereotype"] == pytest.approx(lp / n, abs=1e-5)

    pairs = score_crows_pairs(model, tokenizer, crows_pairs[:2], batch_size=4, progress=False)
    (lp_more, _), = continuation_logprobs(model, tokenizer, [""], [crows_pairs[1]["sent_more"]], progress=False)
    assert pairs.loc[1, "ll_more"] == pytest.approx(lp_more, abs=1e-4)


# -- StereoSet metrics --------------------------------------------------------------------------


def _stereoset_frame() -> pd.DataFrame:
    rows = [
        # id, type, target, domain, stereotype, anti-stereotype, unrelated  -> pro?, related
        ("i1", "intrasentence", "A", "gender", -1.0, -2.0, -3.0),  # pro, 2
        ("i2", "intrasentence", "A", "gender", -1.0, -2.0, -1.5),  # pro, 1 (anti < unrelated)
        ("i3", "intrasentence", "A", "gender", -2.0, -1.0, -3.0),  # anti, 2
        ("i4", "intersentence", "B", "gender", -2.0, -2.0, -1.0),  # tie -> anti, 0
        ("i5", "intrasentence", "C", "race", -1.0, -3.0, -2.0),  # pro, 1
        ("i6", "intersentence", "C", "race", -1.0, -1.5, -4.0),  # pro, 2
    ]
    columns = ["id", "type", "target", "bias_type", "score_stereotype", "score_anti_stereotype", "score_unrelated"]
    return pd.DataFrame(rows, columns=columns)


def test_stereoset_metrics_average_over_target_terms() -> None:
    metrics = stereoset_metrics(_stereoset_frame())
    # overall, per term:  A: pro 2/3 -> ss 200/3, related 5/6 -> lms 250/3
    #                     B: pro 0/1 -> ss 0,     related 0/2 -> lms 0
    #                     C: pro 2/2 -> ss 100,   related 3/4 -> lms 75   (C pools an intra and an inter item)
    # SS = (200/3 + 0 + 100)/3 = 500/9 = 55.556; LMS = (250/3 + 0 + 75)/3 = 475/9 = 52.778
    # ICAT = LMS * min(SS, 100 - SS)/50 = (475/9) * (400/9)/50 = 3800/81 = 46.914
    # (pooled counting would give SS = 4/6 = 66.7 and LMS = 8/12 = 66.7: a different answer)
    overall = metrics["overall"]
    assert overall["SS"] == pytest.approx(500 / 9)
    assert overall["LMS"] == pytest.approx(475 / 9)
    assert overall["ICAT"] == pytest.approx(3800 / 81)
    assert overall["count"] == 6
    # intrasentence: A (i1-i3): ss 200/3, lms 250/3; C (i5): ss 100, lms 1/2 -> 50
    # SS = (200/3 + 100)/2 = 250/3; LMS = (250/3 + 50)/2 = 200/3; ICAT = (200/3) * (50/3)/50 = 200/9
    intra = metrics["intrasentence"]
    assert (intra["SS"], intra["LMS"], intra["ICAT"], intra["count"]) == pytest.approx((250 / 3, 200 / 3, 200 / 9, 4))
    # intersentence: B (i4): ss 0, lms 0; C (i6): ss 100, lms 100 -> SS 50, LMS 50, ICAT 50 * 50/50 = 50
    inter = metrics["intersentence"]
    assert (inter["SS"], inter["LMS"], inter["ICAT"], inter["count"]) == pytest.approx((50, 50, 50, 2))
    # gender = terms A and B: SS = (200/3 + 0)/2 = 100/3; LMS = (250/3 + 0)/2 = 125/3
    # ICAT = (125/3) * min(100/3, 200/3)/50 = (125/3) * (100/3)/50 = 250/9
    gender = metrics["by_domain"]["gender"]
    expected = (100 / 3, 125 / 3, 250 / 9, 4)
    assert (gender["SS"], gender["LMS"], gender["ICAT"], gender["count"]) == pytest.approx(expected)
    # race = term C only: SS 100, LMS 75, ICAT = 75 * min(100, 0)/50 = 0
    race = metrics["by_domain"]["race"]
    assert (race["SS"], race["LMS"], race["ICAT"], race["count"]) == pytest.approx((100, 75, 0, 2))


# -- CrowS-Pairs metrics ------------------------------------------------------------------------


def test_crows_pairs_metrics_with_a_tie() -> None:
    frame = pd.DataFrame(
        [
            ("c1", "race-color", -10.0, -12.0),  # more > less, |diff| 2
            ("c2", "race-color", -5.0, -5.0),  # tie: counts 0, |diff| 0
            ("c3", "race-color", -1.0, -1.5),  # more > less, |diff| 0.5
            ("c4", "gender", -8.0, -7.0),  # less > more, |diff| 1
            ("c5", "gender", -3.0, -6.0),  # more > less, |diff| 3
        ],
        columns=["id", "bias_type", "ll_more", "ll_less"],
    )
    metrics = crows_pairs_metrics(frame)
    # overall: 3 of 5 stereotyped -> 0.6; mean |diff| = (2 + 0 + 0.5 + 1 + 3)/5 = 1.3
    assert metrics["overall"] == pytest.approx({"pct_stereotype": 0.6, "likelihood_diff": 1.3, "count": 5})
    # race-color: 2 of 3 -> 2/3; (2 + 0 + 0.5)/3 = 5/6.  gender: 1 of 2 -> 0.5; (1 + 3)/2 = 2
    by_type = metrics["by_bias_type"]
    assert by_type["race-color"] == pytest.approx({"pct_stereotype": 2 / 3, "likelihood_diff": 5 / 6, "count": 3})
    assert by_type["gender"] == pytest.approx({"pct_stereotype": 0.5, "likelihood_diff": 2.0, "count": 2})


# -- loaders ------------------------------------------------------------------------------------


def test_loaders_read_the_real_files(stereoset_items: list[dict[str, str]], crows_pairs: list[dict[str, str]]) -> None:
    assert len(stereoset_items) == 4229
    assert sum(item["type"] == "intrasentence" for item in stereoset_items) == 2106
    assert sum(item["type"] == "intersentence" for item in stereoset_items) == 2123
    assert len(crows_pairs) == 1508
    assert len({pair["id"] for pair in crows_pairs}) == 1508
    assert sum(pair["bias_type"] == "race-color" for pair in crows_pairs) == 516
    assert {pair["stereo_antistereo"] for pair in crows_pairs} == {"stereo", "antistereo"}


def test_malformed_crows_pairs_row_names_file_and_row(tmp_path: Path) -> None:
    path = tmp_path / "crows.csv"
    path.write_text(
        ",sent_more,sent_less,stereo_antistereo,bias_type,annotations,anon_writer,anon_annotators\n"
        '0,"Poor people are lazy.","Rich people are lazy.",stereo,socioeconomic,"[]",a0,"[]"\n'
        '1,"A sentence with too few fields.",stereo\n',
        encoding="utf-8",
    )
    with pytest.raises(DataError) as error:
        read_crows_pairs_csv(path)
    assert str(path) in str(error.value) and "row 2" in str(error.value)

    path.write_text(
        ",sent_more,sent_less,stereo_antistereo,bias_type\n" '0,"One.","",stereo,gender\n', encoding="utf-8"
    )
    with pytest.raises(DataError, match=r"row 1 .*empty field\(s\) \['sent_less'\]"):
        read_crows_pairs_csv(path)
