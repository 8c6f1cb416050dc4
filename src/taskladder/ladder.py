"""Ladder rules: every rung's size, batch, learning rate, schedule and budget, as pure functions.

The rules are those of the paper's ladder (Bhagia et al., 2024, section 2.1 and
Table 1) as AI2's ladder script applies them: batch size and learning rate from
Porian et al. (2024), "Resolving Discrepancies in Compute-Optimal Scaling of
Language Models", fitted for 2048-token sequences and adjusted for 4096.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from .errors import TaskladderError

#: Padded vocabulary of the dolma2 tokenizer (100,278 tokens padded to a multiple of 128).
VOCAB_SIZE = 100_352
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

    @property
    def mlp_hidden(self) -> int:
        """SwiGLU hidden size: 4 x d_model (OLMo's mlp_ratio 8 counts gate and up together)."""
        return 4 * self.d_model


#: The paper's ladder sizes (Table 1; AI2 ladder configs): d_model / layers / heads.
PAPER_SHAPES: dict[str, Shape] = {
    "190M": Shape(768, 12, 12),
    "370M": Shape(1024, 16, 16),
    "760M": Shape(1536, 16, 16),
    "1B": Shape(2048, 16, 16),
}


def non_embedding_params(shape: Shape, vocab_size: int = VOCAB_SIZE) -> int:
    """N as OLMo counts it: input embedding excluded, LM head included.

    Per block: q, k, v, o projections 4 d^2 (no biases), QK-norm weights 2 d, SwiGLU
    3 d h, and the two RMSNorms after attention and MLP 2 d; then the final norm d
    and the LM head V d.  E.g. 190M: 12 x 9,440,256 + 768 + 100,352 x 768 = 190,354,176.
    """
    d, h = shape.d_model, shape.mlp_hidden
    block = 4 * d * d + 2 * d + 3 * d * h + 2 * d
    return shape.n_layers * block + d + vocab_size * d


def batch_sequences(n: float, seq_len: int = 4096, divisor: int = 64) -> int:
    """Global batch in sequences: 160 (N / 108M)^(2/3) for 2048-token sequences (Porian et al.).

    For 4096-token sequences the count is halved (same tokens per batch), then rounded
    to a multiple of ``divisor`` (AI2's ladder rounds after halving).
    """
    if seq_len not in (2048, 4096):
        raise TaskladderError(f"sequence length must be 2048 or 4096 (the rules' calibration), got {seq_len}")
    b = 160.0 * (n / PORIAN_N0) ** (2.0 / 3.0)
    if seq_len == 4096:
        b /= 2.0
    return max(divisor, int(round(b / divisor)) * divisor)


def peak_lr(n: float, seq_len: int = 4096) -> float:
    """Peak learning rate 0.0047 (N / 108M)^(-1/3) (Porian et al.), divided by 4 for 4096-token sequences."""
    lr = 0.0047 * (n / PORIAN_N0) ** (-1.0 / 3.0)
    return lr / 4.0 if seq_len == 4096 else lr


def warmup_steps(n: float, batch_tokens: int) -> int:
    """Linear warmup over N tokens (as many tokens as parameters), in steps."""
    return int(round(n / batch_tokens))


def train_tokens(n: float, multiple: float) -> int:
    """Tokens of a run: ``multiple`` x the Chinchilla budget 20 N (Hoffmann et al., 2022)."""
    return int(round(multiple * 20 * n))


def train_steps(tokens: int, batch_tokens: int) -> int:
    """Optimizer steps to see ``tokens`` (the last partial batch is a whole step)."""
    return math.ceil(tokens / batch_tokens)


def checkpoint_interval(multiple: float) -> int:
    """Steps between evaluated checkpoints: 200 up to 2xC, 500 up to 5xC, 1000 beyond (the paper's runs)."""
    return 200 if multiple <= 2 else 500 if multiple <= 5 else 1000


def train_flops(n: float, tokens: float) -> float:
    """Training compute 6 N D (Kaplan et al., 2020)."""
    return 6.0 * n * tokens


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
    """Sequence length (2048 or 4096)."""
    sizes: tuple[str, ...] = ("190M", "370M", "760M", "1B")
    """Ladder sizes, names of :data:`PAPER_SHAPES`."""
    multiples: tuple[float, ...] = (1, 2, 5, 10)
    """Token budgets as multiples of 20 N."""
    budget_flops: float | None = None
    """Refuse a plan whose total training compute exceeds this."""
    lr_final_ratio: float = 0.1
    """Cosine decay ends at this fraction of the peak learning rate."""

    def __post_init__(self):
        if not (self.target_n > 0 and self.target_tokens > 0):
            raise TaskladderError("the target needs positive N and tokens")
        unknown = [s for s in self.sizes if s not in PAPER_SHAPES]
        if unknown:
            raise TaskladderError(f"unknown size {unknown[0]!r}; known sizes: {', '.join(PAPER_SHAPES)}")
        if not self.sizes or not self.multiples or any(m <= 0 for m in self.multiples):
            raise TaskladderError("give at least one size and positive Chinchilla multiples")
        if self.seq_len not in (2048, 4096):
            raise TaskladderError(f"sequence length must be 2048 or 4096, got {self.seq_len}")


def plan(config: PlanConfig = PlanConfig()) -> list[Rung]:
    """The table of rungs for ``config``; raises if it exceeds the compute budget."""
    target_c = train_flops(config.target_n, config.target_tokens)
    rungs = []
    for size in config.sizes:
        shape = PAPER_SHAPES[size]
        n = non_embedding_params(shape)
        bs = batch_sequences(n, config.seq_len)
        bt = bs * config.seq_len
        lr = peak_lr(n, config.seq_len)
        for m in config.multiples:
            tokens = train_tokens(n, m)
            c = train_flops(n, tokens)
            rungs.append(Rung(
                name=f"{size}-{m:g}xC", size=size, n=n, d_model=shape.d_model, n_layers=shape.n_layers,
                n_heads=shape.n_heads, mlp_hidden=shape.mlp_hidden, multiple=float(m), seq_len=config.seq_len,
                batch_sequences=bs, batch_tokens=bt, peak_lr=lr, final_lr=lr * config.lr_final_ratio,
                warmup_steps=warmup_steps(n, bt), tokens=tokens, steps=train_steps(tokens, bt),
                checkpoint_interval=checkpoint_interval(m), flops=c, target_share=c / target_c))
    total = sum(r.flops for r in rungs)
    if config.budget_flops is not None and total > config.budget_flops:
        raise TaskladderError(
            f"the plan needs {total:.3e} FLOPs, over the budget of {config.budget_flops:.3e}; drop sizes or multiples")
    return rungs
