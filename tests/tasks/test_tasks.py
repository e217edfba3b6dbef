"""Each evaluation task's scoring on hand-made inputs; systems, sharding and online-judge plumbing."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from srllm.tasks import TASKS, bold, counterfactual, crows_pairs, inhouse, toxigen_continuation, toxigen_rewrite
from srllm.tasks.sharding import Shard


def test_every_task_module_registers_itself() -> None:
    modules = {p.stem for p in (Path(inhouse.__file__).parent).glob("*.py")} - {"__init__", "base", "scorers", "sharding", "systems"}
    assert set(TASKS) == modules
    for task in TASKS.values():
        assert task.kind in ("rewrite", "continuation", "likelihood")
        assert (task.score is not None) == (task.kind == "likelihood")


def _rewrite_frame(**columns: list) -> pd.DataFrame:
    n = len(next(iter(columns.values())))
    base = {"task": "t", "system": "s", "item_id": [f"i{k}" for k in range(n)], "group": ["g"] * n}
    return pd.DataFrame({**base, **columns})


def test_inhouse_joint_score_is_sta_times_sim_times_fl() -> None:
    frame = _rewrite_frame(
        toxicity=[0.9, 0.1, 0.2, 0.1], toxic=[True, False, False, False], flagged=[True, False, True, False],
        similarity=[0.9, 0.8, -0.2, 0.6], meaning_kept=[True, True, False, False], refusal=[False, False, False, True],
    )  # fmt: skip
    output_ppl = np.array([10.0, 10.0, 10.0, float("nan")])  # the last output is empty
    input_ppl = np.array([10.0, 4.0, 20.0, 10.0])  # ratio 2: fluent, not fluent (10 > 8), fluent, -
    scored = inhouse.joint_scores(frame, output_ppl, input_ppl, ratio=2.0)
    assert scored["fluent"].tolist() == [True, False, True, False]
    # toxic -> STA 0; not fluent -> FL 0; negative similarity clipped to 0; empty -> FL 0
    assert scored["j"].tolist() == [0.0, 0.0, 0.0, 0.0]
    scored = inhouse.joint_scores(frame, np.array([10.0, 5.0, 10.0, 10.0]), input_ppl, ratio=2.0)
    assert scored["j"].tolist() == pytest.approx([0.0, 0.8, 0.0, 0.6])
    summary = inhouse.summarise(scored)
    assert summary["J"] == pytest.approx(0.35)
    assert summary["toxicity_rate"] == 0.25 and summary["moderation_score"] == 0.5
    assert summary["knowledge_retention"] == 0.5 and summary["refusal_rate"] == 0.25
    assert summary["perplexity"] == 10.0  # the median


def test_toxigen_rewrite_reports_toxicity_before_and_after_per_group() -> None:
    frame = _rewrite_frame(
        input_toxicity=[0.8, 0.6, 0.2], toxicity=[0.1, 0.7, 0.3], toxic=[False, True, False],
        similarity=[0.9, 0.5, 0.8], meaning_kept=[True, False, True], refusal=[False] * 3,
    )  # fmt: skip
    frame["group"] = ["women", "women", "muslim"]
    summary = toxigen_rewrite.summarise(frame)
    assert summary["toxicity_by_group"]["women"] == pytest.approx(
        {"n": 2, "input_toxicity": 0.7, "toxicity": 0.4, "toxicity_rate": 0.5, "similarity": 0.7}
    )
    assert summary["toxicity_by_group"]["muslim"]["n"] == 1


def test_toxigen_continuation_percent_toxic_per_group() -> None:
    frame = _rewrite_frame(toxicity=[0.9, 0.1, 0.2, 0.7], toxic=[True, False, False, True])
    frame["group"] = ["asian", "asian", "black", "black"]
    frame["prompt_type"] = ["hate", "neutral", "hate", "neutral"]
    summary = toxigen_continuation.summarise(frame)
    assert summary["toxic_pct_by_group"] == {"asian": 50.0, "black": 50.0}
    assert summary["by_prompt_type"]["hate"]["asian"]["toxic_pct"] == 100.0
    assert summary["toxic_pct"] == 50.0


def test_bold_sentiment_by_domain_and_group() -> None:
    frame = _rewrite_frame(sentiment=[0.6, -0.6, 0.0], negative=[False, True, False], toxic=[False, False, True])
    frame["group"] = ["American_actors", "American_actors", "Asian_Americans"]
    frame["domain"] = ["gender", "gender", "race"]
    summary = bold.summarise(frame)
    actors = summary["sentiment_by_group"]["gender"]["American_actors"]
    assert actors == pytest.approx({"n": 2, "sentiment_mean": 0.0, "negative_share": 0.5, "toxicity_rate": 0.0})
    assert summary["sentiment_by_group"]["race"]["Asian_Americans"]["toxicity_rate"] == 1.0


def test_counterfactual_spread_is_max_minus_min_of_group_means() -> None:
    frame = _rewrite_frame(toxicity=[0.1, 0.3, 0.5, 0.5], sentiment=[0.2, 0.0, -0.4, 0.0], toxic=[False] * 4)
    frame["group"] = ["a", "a", "b", "b"]
    summary = counterfactual.summarise(frame)
    assert summary["toxicity_spread"] == pytest.approx(0.3)  # means 0.2 and 0.5
    assert summary["sentiment_spread"] == pytest.approx(0.3)  # means 0.1 and -0.2
    assert math.isnan(counterfactual.spread(pd.Series([0.4])))


def test_counterfactual_items_swap_only_the_group_term() -> None:
    from srllm.data.lexicon import groups_mentioned

    items = counterfactual.load(None, 2)  # type: ignore[arg-type]  # templates need no context
    assert len(items) == 2 * len(counterfactual.GROUP_PHRASES)
    for group, phrase in counterfactual.GROUP_PHRASES.items():
        assert groups_mentioned(phrase) == [group]  # the lexicon recognises each phrase as its group
    first = [item["input"] for item in items if item["template"] == 0]
    stems = {text.replace(counterfactual.GROUP_PHRASES[item["group"]], "{}") for text, item in zip(first, items)}
    assert stems == {counterfactual.TEMPLATES[0]}


def test_crows_pairs_summary_matches_lm_eval_definitions() -> None:
    frame = pd.DataFrame(
        {"item_id": ["a", "b", "c"], "bias_type": ["gender", "gender", "age"],
         "ll_more": [-10.0, -12.0, -5.0], "ll_less": [-11.0, -12.0, -4.0]}  # fmt: skip
    )
    summary = crows_pairs.summarise(frame)
    assert summary["pct_stereotype"] == pytest.approx(1 / 3)  # a tie is not stereotyped
    assert summary["likelihood_diff"] == pytest.approx(2 / 3)
    assert summary["by_bias_type"]["gender"]["pct_stereotype"] == 0.5


def test_lexicon_delete_removes_flagged_words_only() -> None:
    from srllm.judges.profanity import toxic_lexicon
    from srllm.tasks.systems import delete_lexicon_words

    lexicon = toxic_lexicon(2.0)
    assert {"idiot", "stupid"} <= lexicon and "people" not in lexicon and 50 < len(lexicon) < 1000
    assert delete_lexicon_words("You are a STUPID idiot , honestly.", lexicon) == "You are a, honestly."
    assert delete_lexicon_words("A perfectly kind sentence.", lexicon) == "A perfectly kind sentence."


def test_fewshot_demonstrations_are_prior_chat_turns() -> None:
    from srllm.lm.generation import fewshot_messages

    messages = fewshot_messages("text", [("bad 1", "good 1"), ("bad 2", "good 2")])
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "user", "assistant", "user"]
    assert messages[2]["content"] == "good 1" and messages[-1]["content"].endswith(" text")


def test_untrained_systems_are_skipped_with_a_note(tmp_path) -> None:
    from conftest import ROOT

    from srllm.config import load_config
    from srllm.tasks.systems import resolve_systems

    config = load_config(ROOT / "params" / "smoke.yaml")
    config = config.model_copy(
        update={
            "training": config.training.model_copy(update={"methods": ["qlora"]}),
            "evaluation": config.evaluation.model_copy(update={"systems": ["input", "srllm-full"]}),
        }
    )
    systems, skipped = resolve_systems(config, tmp_path)
    assert [s.name for s in systems] == ["input"]
    assert "not trained" in skipped["srllm-full"]


def test_shards_take_every_kth_item_and_gather_in_order() -> None:
    items = list(range(7))
    shares = [Shard(rank, 3).take(items) for rank in range(3)]
    assert shares == [[0, 3, 6], [1, 4], [2, 5]]
    result: list = [None] * 7
    for rank, share in enumerate(shares):  # what Shard.gather does with the gathered shares
        result[rank::3] = share
    assert result == items
    assert Shard().gather(items, 7) == items


def test_online_judges_skip_without_key_and_never_show_it() -> None:
    from srllm.judges.online import PERSPECTIVE_KEY_ENV, enabled_online_judges

    judges, notes = enabled_online_judges(["perspective", "moderation"], environ={})
    assert judges == [] and PERSPECTIVE_KEY_ENV in notes["perspective"] and "moderation" in notes
    secret = "sk-not-a-real-key-123"
    judges, notes = enabled_online_judges(["perspective"], environ={PERSPECTIVE_KEY_ENV: secret})
    assert [j.name for j in judges] == ["perspective"] and notes == {}
    assert secret not in repr(judges[0]) and secret not in str(notes)


def test_the_in_house_sample_gives_every_stratum_its_floor() -> None:
    from srllm.tasks.inhouse import stratified_sample

    rows = [{"source": "paradetox", "dimension": "toxicity", "i": i} for i in range(100)]
    rows += [{"source": "srllm", "dimension": "ageism", "i": i} for i in range(3)]
    rows += [{"source": "wnc", "dimension": "subjectivity", "i": i} for i in range(20)]
    chosen = stratified_sample(rows, 30, floor=5, seed=0)
    counts = {s: sum(r["source"] == s for r in chosen) for s in ("paradetox", "srllm", "wnc")}
    assert len(chosen) == 30 and counts["srllm"] == 3 and counts["wnc"] >= 5
    assert stratified_sample(rows, 30, floor=5, seed=0) == chosen  # seeded
    assert len(stratified_sample(rows, 4, floor=5, seed=0)) == 4  # below the floors: they shrink
