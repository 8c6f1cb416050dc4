"""Ladder rules: every rung's size, batch, learning rate, schedule and budget, as pure functions.

The rules are those of the paper's ladder (Bhagia et al., 2024, section 2.1 and
Table 1) as AI2's ladder script applies them: batch size and learning rate from
Porian et al. (2024), "Resolving Discrepancies in Compute-Optimal Scaling of
Language Models", fitted for 2048-token sequences and adjusted for 4096.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import asdict, dataclass

from .errors import TaskladderError, did_you_mean

#: Padded vocabulary of the dolma2 tokenizer (100,278 tokens padded to a multiple of 128).
VOCAB_SIZE = 100_352
#: Vocabulary of taskladder's byte-level tokenizer: 256 bytes + end-of-text, padded to a multiple of 8.
BYTE_VOCAB_SIZE = 264
#: Reference size of Porian et al.'s batch-size and learning-rate fits.
PORIAN_N0 = 108e6


@dataclass(frozen=True)
class Shape:
    """Transformer shape of one ladder size (OLMo 2 architecture)."""

    d_model: int
    """Residual width."""
    n_layers: int
    """Number of transformer blocks."""
    n_heads: int
    """Attention heads (head size d_model / n_heads)."""
    hidden: int | None = None
    """SwiGLU hidden size, when it is not 4 x d_model (OLMo-core's 30M, 7B, 13B)."""

    @property
    def mlp_hidden(self) -> int:
        """SwiGLU hidden size: 4 x d_model unless given (OLMo's mlp_ratio 8 counts gate and up together)."""
        return self.hidden or 4 * self.d_model


#: The paper's ladder sizes (Table 1; AI2 ladder configs): d_model / layers / heads.
PAPER_SHAPES: dict[str, Shape] = {
    "190M": Shape(768, 12, 12),
    "370M": Shape(1024, 16, 16),
    "760M": Shape(1536, 16, 16),
    "1B": Shape(2048, 16, 16),
}

#: Micro sizes for CPU ladders with the byte-level tokenizer (names: N with that vocabulary).
#: Same architecture scaled down.  Heads of width 12-20: on a CPU every extra head costs
#: more than its FLOPs (the 62k model trains 1.5x faster with 2 heads than with 4).
MICRO_SHAPES: dict[str, Shape] = {
    "3k": Shape(8, 1, 1),
    "6k": Shape(12, 1, 1),
    "8k": Shape(12, 2, 1),
    "12k": Shape(16, 2, 1),
    "25k": Shape(24, 2, 2),
    "42k": Shape(32, 2, 2),
    "62k": Shape(40, 2, 2),
    "87k": Shape(48, 2, 2),
}

#: OLMo-core's other OLMo 2 sizes (``TransformerConfig.olmo2_<size>``), for ladders of other
#: targets: the same architecture, full multi-head attention.  OLMo-core's "1B" is 18 layers
#: deep (1.41B); the paper's 1B, above, is its ``olmo2_1B_v2``.  ``tests/test_ladder.py``
#: checks every N against OLMo-core's own count.
OLMO_CORE_SHAPES: dict[str, Shape] = {
    "14M": Shape(128, 4, 8),
    "30M": Shape(256, 4, 8, hidden=768),
    "60M": Shape(384, 8, 8),
    "100M": Shape(512, 12, 8),
    "600M": Shape(1344, 16, 16),
    "3B": Shape(3328, 16, 16),
    "7B": Shape(4096, 32, 32, hidden=11008),
    "13B": Shape(5120, 40, 40, hidden=13824),
}

#: Every named size :func:`plan` knows.
SHAPES: dict[str, Shape] = {**PAPER_SHAPES, **OLMO_CORE_SHAPES, **MICRO_SHAPES}

#: The largest rung :func:`auto_sizes` picks is at most this fraction of the target's N: the
#: paper's 1B rung is 1/5.4 of 7B (and 1/10 of 13B, predicted from the same ladder).
AUTO_LARGEST = 1 / 5
#: ... and each smaller size at most this fraction of the next (the paper's: 1/1.7 to 1/2.0).
AUTO_STEP = 1 / 1.6


def auto_sizes(target_n: float, count: int = 4, vocab_size: int = VOCAB_SIZE) -> tuple[str, ...]:
    """``count`` OLMo 2 sizes for a target of ``target_n``: the largest at most 1/5 of it, each
    below at most 1/1.6 of the next (:data:`AUTO_LARGEST`, :data:`AUTO_STEP`), smallest first.
    For 7B and 13B targets this is the paper's ladder (190M, 370M, 760M, 1B)."""
    known = sorted(((non_embedding_params(sh, vocab_size), name) for name, sh in {**PAPER_SHAPES,
                   **OLMO_CORE_SHAPES}.items()), reverse=True)
    picked, limit = [], target_n * AUTO_LARGEST
    for n, name in known:
        if n <= limit and len(picked) < count:
            picked.append(name)
            limit = n * AUTO_STEP
    if len(picked) < 2:
        raise TaskladderError(f"no two OLMo 2 sizes fit below a target of N={target_n:.3g} (the largest rung at most "
                              f"1/5 of it, the smallest known {min(known)[0]:.3g}); name --sizes")
    return tuple(reversed(picked))


def size_names(text: str, target_n: float, vocab_size: int = VOCAB_SIZE) -> tuple[str, ...]:
    """The sizes of a ``--sizes`` option: comma-separated names of :data:`SHAPES`, or ``auto``
    (:func:`auto_sizes` for the target)."""
    if text.strip().lower() == "auto":
        return auto_sizes(target_n, vocab_size=vocab_size)
    return tuple(x.strip() for x in text.split(",") if x.strip())


def non_embedding_params(shape: Shape, vocab_size: int = VOCAB_SIZE) -> int:
    """N as OLMo counts it: input embedding excluded, LM head included.

    Per block: q, k, v, o projections 4 d^2 (no biases), QK-norm weights 2 d, SwiGLU
    3 d h, and the two RMSNorms after attention and MLP 2 d; then the final norm d
    and the LM head V d.  E.g. 190M: 12 x 9,440,256 + 768 + 100,352 x 768 = 190,354,176.
    """
    d, h = shape.d_model, shape.mlp_hidden
    block = 4 * d * d + 2 * d + 3 * d * h + 2 * d
    return shape.n_layers * block + d + vocab_size * d


def batch_sequences(n: float, seq_len: int = 4096, divisor: int = 64, n0: float = PORIAN_N0,
                    tokens_at_n0: float = 160 * 2048) -> int:
    """Global batch in sequences: 160 (N / 108M)^(2/3) sequences of 2048 tokens (Porian et al.).

    The rule is one of tokens per batch, so 4096-token sequences halve the count (as
    AI2's ladder does); the count is then rounded to a multiple of ``divisor`` (AI2
    rounds after halving).  ``n0`` and ``tokens_at_n0`` re-anchor the same N^(2/3) law
    for micro ladders, whose sizes lie far below Porian et al.'s fits.
    """
    b = tokens_at_n0 / seq_len * (n / n0) ** (2.0 / 3.0)
    return max(divisor, int(round(b / divisor)) * divisor)


def peak_lr(n: float, seq_len: int = 4096, n0: float = PORIAN_N0, lr_at_n0: float = 0.0047) -> float:
    """Peak learning rate 0.0047 (N / 108M)^(-1/3) (Porian et al.), divided by 4 for 4096-token sequences.

    The division by 4 is AI2's adjustment for its 4096-token runs (the bundled runs'
    logged ``learning_rate_peak``); ``n0`` and ``lr_at_n0`` re-anchor the law.
    """
    lr = lr_at_n0 * (n / n0) ** (-1.0 / 3.0)
    return lr / 4.0 if seq_len == 4096 else lr


def warmup_steps(n: float, batch_tokens: int) -> int:
    """Linear warmup over N tokens (as many tokens as parameters), in steps."""
    return int(round(n / batch_tokens))


def train_tokens(n: float, multiple: float) -> int:
    """Tokens of a run: ``multiple`` x the Chinchilla budget 20 N (Hoffmann et al., 2022)."""
    return int(round(multiple * 20 * n))


def chinchilla_multiple(n: float, d: float) -> float:
    """Tokens as a multiple of the Chinchilla-optimal budget 20 N (Hoffmann et al., 2022):
    :func:`train_tokens`' inverse."""
    return d / (20.0 * n)


def train_steps(tokens: int, batch_tokens: int) -> int:
    """Optimizer steps to see ``tokens`` (the last partial batch is a whole step)."""
    return math.ceil(tokens / batch_tokens)


def checkpoint_interval(multiple: float, intervals: tuple[int, int, int] = (200, 500, 1000)) -> int:
    """Steps between evaluated checkpoints: 200 up to 2xC, 500 up to 5xC, 1000 beyond (the paper's runs)."""
    return intervals[0] if multiple <= 2 else intervals[1] if multiple <= 5 else intervals[2]


def train_flops(n: float, tokens: float) -> float:
    """Training compute 6 N D (Kaplan et al., 2020)."""
    return 6.0 * n * tokens


def olmo_flops_per_token(n: int, d_model: int, n_layers: int, seq_len: int = 4096,
                         vocab_size: int = VOCAB_SIZE) -> int:
    """Training FLOPs per token as OLMo counts and logs them: 6 N + 4 V d + 12 L d s.

    Matches ``throughput/total_training_Gflops / throughput/total_tokens`` of every
    bundled ladder run exactly (190M: 1,903,391,232) and the released paper scripts'
    per-token FLOPs of the 7B and 13B targets (49,412,071,424 and 91,335,915,520).
    The paper's FLOPs pipeline (section 6.1) uses these, not 6 N D.
    """
    return 6 * n + 4 * vocab_size * d_model + 12 * n_layers * d_model * seq_len


#: (d_model, layers) of OLMo 2 7B and 13B, the paper's targets, by their N.
TARGET_SHAPES = {6_887_575_552: (4096, 32), 13_202_396_160: (5120, 40)}


#: Why the flops_olmo design refuses a ladder or target of another size.
OLMO_FLOPS_UNKNOWN = ("design flops_olmo needs OLMo's per-token FLOPs, known for the paper's sizes only "
                      "(190M, 370M, 760M, 1B, 7B, 13B); use flops (C = 6ND)")


def known_flops_per_token(n: int) -> int | None:
    """OLMo's per-token FLOPs for the paper's ladder sizes and targets (by N), else None."""
    for shape in PAPER_SHAPES.values():
        if non_embedding_params(shape) == n:
            return olmo_flops_per_token(n, shape.d_model, shape.n_layers)
    if n in TARGET_SHAPES:
        return olmo_flops_per_token(n, *TARGET_SHAPES[n])
    return None


@dataclass(frozen=True)
class Rung:
    """One training run of the ladder."""

    name: str
    size: str
    n: int
    d_model: int
    n_layers: int
    n_heads: int
    mlp_hidden: int
    multiple: float
    seq_len: int
    batch_sequences: int
    batch_tokens: int
    peak_lr: float
    final_lr: float
    warmup_steps: int
    tokens: int
    steps: int
    checkpoint_interval: int
    flops: float
    target_share: float

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class PlanConfig:
    """What to plan.  Defaults: the paper's ladder for OLMo 2 7B-4T."""

    target_n: int = 6_887_575_552
    """Non-embedding parameters of the target."""
    target_tokens: int = 3_945_065_873_408
    """Training tokens of the target."""
    seq_len: int = 4096
    """Sequence length (4096 also divides the learning rate by 4, as AI2's ladder does)."""
    sizes: tuple[str, ...] = ("190M", "370M", "760M", "1B")
    """Ladder sizes, names of :data:`SHAPES`."""
    multiples: tuple[float, ...] = (1, 2, 5, 10)
    """Token budgets as multiples of 20 N."""
    budget_flops: float | None = None
    """Refuse a plan whose total training compute exceeds this."""
    lr_final_ratio: float = 0.1
    """Cosine decay ends at this fraction of the peak learning rate."""
    vocab_size: int = VOCAB_SIZE
    """Padded vocabulary (counts in N through the LM head): dolma2's, or 264 for bytes."""
    n0: float = PORIAN_N0
    """Anchor size of the batch and learning-rate laws."""
    batch_tokens_at_n0: float = 160 * 2048
    """Tokens per batch at ``n0`` (Porian et al.: 160 sequences of 2048)."""
    lr_at_n0: float = 0.0047
    """Peak learning rate at ``n0`` before the 4096-token adjustment (Porian et al.)."""
    batch_divisor: int = 64
    """Batches are rounded to a multiple of this many sequences (AI2: 64)."""
    checkpoint_intervals: tuple[int, int, int] = (200, 500, 1000)
    """Steps between checkpoints up to 2xC, up to 5xC and beyond (the paper's runs)."""

    def __post_init__(self):
        if not (self.target_n > 0 and self.target_tokens > 0):
            raise TaskladderError("the target needs positive N and tokens")
        unknown = [s for s in self.sizes if s not in SHAPES]
        if unknown:
            raise TaskladderError(f"unknown size {unknown[0]!r}{did_you_mean(unknown[0], SHAPES)}; "
                                  f"known sizes: {', '.join(SHAPES)}")
        if not self.sizes or not self.multiples:
            raise TaskladderError("give at least one size and one Chinchilla multiple")
        bad = [m for m in self.multiples if not 0 < m < math.inf]
        if bad:
            raise TaskladderError(f"Chinchilla multiples must be positive and finite, got {bad[0]:g}")
        # a repeated size or multiple would plan (and train) the same rung twice under one name
        for what, values in (("size", self.sizes), ("Chinchilla multiple", [f"{m:g}" for m in self.multiples])):
            twice = sorted(v for v, k in Counter(values).items() if k > 1)
            if twice:
                raise TaskladderError(f"{what} {twice[0]} is given twice")
        if not 8 <= self.seq_len <= 1 << 20:
            raise TaskladderError(f"sequence length must be between 8 and 2^20 tokens, got {self.seq_len}")
        if self.vocab_size <= 0 or self.batch_divisor <= 0 or min(self.checkpoint_intervals) <= 0:
            raise TaskladderError("vocab_size, batch_divisor and checkpoint intervals must be positive")


def plan(config: PlanConfig = PlanConfig()) -> list[Rung]:
    """The table of rungs for ``config``; raises if it exceeds the compute budget."""
    target_c = train_flops(config.target_n, config.target_tokens)
    rungs = []
    for size in config.sizes:
        shape = SHAPES[size]
        n = non_embedding_params(shape, config.vocab_size)
        bs = batch_sequences(n, config.seq_len, config.batch_divisor, config.n0, config.batch_tokens_at_n0)
        bt = bs * config.seq_len
        lr = peak_lr(n, config.seq_len, config.n0, config.lr_at_n0)
        for m in config.multiples:
            tokens = train_tokens(n, m)
            c = train_flops(n, tokens)
            rungs.append(Rung(
                name=f"{size}-{m:g}xC", size=size, n=n, d_model=shape.d_model, n_layers=shape.n_layers,
                n_heads=shape.n_heads, mlp_hidden=shape.mlp_hidden, multiple=float(m), seq_len=config.seq_len,
                batch_sequences=bs, batch_tokens=bt, peak_lr=lr, final_lr=lr * config.lr_final_ratio,
                warmup_steps=warmup_steps(n, bt), tokens=tokens, steps=train_steps(tokens, bt),
                checkpoint_interval=checkpoint_interval(m, config.checkpoint_intervals), flops=c, target_share=c / target_c))
    total = sum(r.flops for r in rungs)
    if config.budget_flops is not None and total > config.budget_flops:
        raise TaskladderError(
            f"the plan needs {total:.3e} FLOPs, over the budget of {config.budget_flops:.3e}; drop sizes or multiples")
    return rungs


#: A ladder above this share of its target's compute (6ND) is warned about: the paper's costs
#: 3.2% of 7B-4T's by 6ND (about 1% by its own count), which is the method's point.
COSTLY_SHARE = 0.10


def plan_notes(config: PlanConfig, rungs: list[Rung]) -> list[str]:
    """Warnings about a plan that is no ladder for its target: rungs not smaller than the
    target (a ladder extrapolates upwards), or a total above :data:`COSTLY_SHARE` of the
    target's compute (:class:`PlanConfig`'s sizes are the paper's, chosen for a 7B target)."""
    notes = []
    big = sorted({r.size: r.n for r in rungs if r.n >= config.target_n}.items(), key=lambda kv: kv[1])
    if big:
        names = ", ".join(f"{s} (N={n:.3g})" for s, n in big)
        notes.append(f"{'size' if len(big) == 1 else 'sizes'} {names} {'is' if len(big) == 1 else 'are'} not smaller "
                     f"than the target (N={config.target_n:.3g}): a ladder predicts a larger model from smaller "
                     "ones; choose smaller --sizes")
    share = sum(r.flops for r in rungs) / train_flops(config.target_n, config.target_tokens)
    if share > COSTLY_SHARE:
        paper = PlanConfig()
        ref = sum(r.flops for r in plan(paper)) / train_flops(paper.target_n, paper.target_tokens)
        notes.append(f"the ladder costs {share:.0%} of the target's compute (6ND; the paper's ladder costs {ref:.1%} "
                     "of 7B-4T's): choose smaller --sizes or fewer --multiples")
    return notes


def plan_table(rungs: list[Rung], progress=None):
    """The plan as a flat table, a row per rung (``plan --out``'s Parquet and CSV); with
    ``progress`` (:func:`planprogress.plan_progress`) also each rung's ``run``, ``reached_tokens``,
    ``share`` of its planned tokens and ``status``."""
    import pandas as pd

    table = pd.DataFrame([r.as_dict() for r in rungs])
    if progress is None:
        return table
    got = progress[["rung", "run", "tokens", "share", "status"]].rename(
        columns={"rung": "name", "tokens": "reached_tokens"})
    return table.merge(got, on="name", how="left", validate="one_to_one")


#: Plans for CPU ladders trained on a small corpus with the byte-level tokenizer.  The
#: Porian laws' N^(2/3) and N^(-1/3) shapes are kept but re-anchored at 42k parameters:
#: extrapolated four orders of magnitude down, they give batches of a few hundred tokens
#: (all overhead on a CPU) and learning rates above 0.05.  The anchor batch is 4,096
#: tokens: with 8,192 the 1xC runs took 55-120 steps and the loss of a 87k model at 5xC
#: came out 6-13% below the ladder's step-1 law; with 4,096 (twice the steps) within 0.3%.
MICRO_PLAN = dict(seq_len=256, vocab_size=BYTE_VOCAB_SIZE, n0=42_000, batch_tokens_at_n0=4096, lr_at_n0=0.01,
                  batch_divisor=8, checkpoint_intervals=(20, 50, 100))

def _micro(size: str, multiple: float, sizes: tuple[str, ...]) -> PlanConfig:
    n = non_embedding_params(MICRO_SHAPES[size], BYTE_VOCAB_SIZE)
    return PlanConfig(target_n=n, target_tokens=train_tokens(n, multiple), sizes=sizes, multiples=(1, 2, 5),
                      **MICRO_PLAN)


#: Presets of ``taskladder run``: a micro ladder (4 sizes x 3 multiples, minutes on 2 CPU
#: cores; every size 2 layers deep, as the target) whose target, 87k-5xC, is 4.4x the
#: compute of its largest rung (paper: 7B-4T is ~20x its 1B-10xC); and a tiny one for CI,
#: whose target is its own largest rung.
PRESETS: dict[str, PlanConfig] = {
    "micro": _micro("87k", 5, ("8k", "12k", "25k", "42k")),
    "tiny": _micro("12k", 5, ("3k", "6k", "12k")),
}


def target_rung(config: PlanConfig) -> Rung:
    """The rung that trains ``config``'s target with the ladder's rules (batch, learning
    rate, schedule), for ladders whose target is a model one can train (micro presets).

    The target's size is the named shape whose N is ``target_n`` and its multiple
    ``target_tokens / 20 N``; when that is one of the ladder's own rungs, it is that rung.
    """
    sizes = [k for k, sh in SHAPES.items() if non_embedding_params(sh, config.vocab_size) == config.target_n]
    if not sizes:
        raise TaskladderError(f"no named size has N = {config.target_n:,}: the target cannot be planned as a rung")
    multiple = config.target_tokens / (20 * config.target_n)
    from dataclasses import replace

    return plan(replace(config, sizes=(sizes[0],), multiples=(round(multiple, 6),), budget_flops=None))[0]
