"""Training a ladder: OLMo 2 models from transformers, one rung or a whole plan.

Needs the ``eval`` extra (torch, transformers).  The recipe is the paper's (section
2.1, OLMo 2's): ``Olmo2ForCausalLM`` (RMSNorm after attention and MLP, QK-norm,
SwiGLU, RoPE, no biases), every weight drawn from N(0, 0.02); AdamW (0.9, 0.95),
weight decay 0.1 except on the input embedding; gradients clipped to norm 1; z-loss
1e-5 (OLMo 2); linear warmup then cosine decay to a tenth of the peak, all from the
:class:`~taskladder.ladder.Rung`.

Three properties a ladder needs and this module guarantees:

* **Data parallel with FSDP2.**  Under ``torchrun`` each transformer block and then the
  model are wrapped with ``fully_shard``; each process takes its slice of every batch.
  The loss is a mean over the process's tokens, so averaging gradients across
  processes gives the single-process gradient.  Some versions of gloo summed where
  FSDP2 asked for an average (pytorch issue 162338); :func:`_reduction_is_sum` probes
  the process group once and rescales the loss when it does.
* **Deterministic and resumable.**  The batch of step ``s`` is a pure function of the
  seed and ``s`` (a seeded permutation of fixed-length chunks per epoch), so a run
  restarted from a checkpoint sees exactly the data it would have seen.  Each
  checkpoint holds the full model and optimizer state; it is written to a temporary
  folder and renamed, so a kill -9 at any moment leaves only whole checkpoints.
* **Checkpoints ``taskladder evaluate`` reads.**  ``<out>/<rung>/step<k>`` are Hugging
  Face model folders with their tokenizer and a ``taskladder.json`` naming the run,
  N, step and tokens seen.
"""

from __future__ import annotations

import functools
import json
import math
import os
import shutil
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from .errors import FitWarning, TaskladderError, cause, listed
from .ladder import Rung

EOS = "<|endoftext|>"


# --------------------------------------------------------------------------- tokenizer

def _byte_chars() -> list[str]:
    """GPT-2's printable stand-in for each byte (Radford et al., 2019): bytes that are
    printable Latin-1 stand for themselves, the others map to code points from 256 up."""
    keep = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    chars, extra = {}, 0
    for b in range(256):
        if b in keep:
            chars[b] = chr(b)
        else:
            chars[b] = chr(256 + extra)
            extra += 1
    return [chars[b] for b in range(256)]


def byte_tokenizer():
    """A Hugging Face fast tokenizer whose token ``i`` is byte ``i`` (and 256 is end-of-text).

    Built from the ``tokenizers`` library's byte-level pieces with no merges, so it is
    saved with every checkpoint and loads anywhere ``AutoTokenizer`` does; corpus
    encoding takes the UTF-8 bytes directly (:func:`encode_corpus`), which is the same.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {c: i for i, c in enumerate(_byte_chars())}
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[]))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens([EOS])
    return PreTrainedTokenizerFast(tokenizer_object=tok, eos_token=EOS, pad_token=EOS)


def load_tokenizer(spec: str):
    """``"bytes"`` (the default), a ``tokenizer.json`` file, or a folder with a Hugging Face tokenizer."""
    if spec == "bytes":
        return byte_tokenizer()
    from transformers import AutoTokenizer, PreTrainedTokenizerFast

    p = Path(spec)
    if p.is_file():
        try:
            tok = PreTrainedTokenizerFast(tokenizer_file=str(p))
        except Exception as e:  # the tokenizers library raises a bare Exception on bad JSON
            raise TaskladderError(f"{p}: not a tokenizer file ({cause(e, named=False)})") from None
    elif p.is_dir():
        try:
            tok = AutoTokenizer.from_pretrained(p, local_files_only=True)
        except (OSError, ValueError) as e:
            raise TaskladderError(f"{p}: no usable tokenizer ({cause(e, named=False)})") from None
    else:
        raise TaskladderError(f"--tokenizer: {spec!r} is neither 'bytes' nor a tokenizer file or folder")
    if tok.eos_token is None:
        tok.add_special_tokens({"eos_token": EOS})
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    return tok


# --------------------------------------------------------------------------- corpus

def read_documents(path: Path) -> list[str]:
    """Documents of a corpus: a text file is one document; JSONL and Parquet give one per row
    (``text``).  A corpus with no text is refused here, naming the file, not left to fail later."""
    docs = _documents(Path(path))
    if not any(docs):
        raise TaskladderError(f"{path}: the corpus holds no text")
    return docs


def _documents(path: Path) -> list[str]:
    if not path.exists():
        raise TaskladderError(f"{path}: no such corpus file")
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        import pandas as pd

        try:
            df = pd.read_parquet(path)
        except Exception as e:  # pyarrow raises many types for a file that is not Parquet
            raise TaskladderError(f"{path}: cannot be read as Parquet ({type(e).__name__})") from None
        if "text" not in df.columns:
            raise TaskladderError(f"{path}: no 'text' column (columns: {listed(df.columns, 6)})")
        return [str(t) for t in df["text"].dropna()]
    if suffix in (".jsonl", ".json"):
        docs = []
        with open(path, "rb") as f:
            for i, raw in enumerate(f, 1):
                try:
                    line = raw.decode("utf-8")
                    if not line.strip():
                        continue
                    docs.append(str(json.loads(line)["text"]))
                except (UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError):
                    raise TaskladderError(f"{path}, line {i}: expected a JSON object with a 'text' field") from None
        return docs
    return [path.read_text(encoding="utf-8", errors="replace")]


def split_heldout(docs: list[str], fraction: float) -> tuple[list[str], str]:
    """Hold out the last ``fraction`` of the corpus (whole documents; the tail of a single text)."""
    if len(docs) == 1:
        text = docs[0]
        cut = int(len(text) * (1 - fraction))
        return [text[:cut]], text[cut:]
    k = max(1, int(round(len(docs) * fraction)))
    return docs[:-k], "\n\n".join(docs[-k:])


def encode_corpus(docs: list[str], tokenizer) -> np.ndarray:
    """One token stream, end-of-text between documents."""
    eos = tokenizer.eos_token_id
    if not docs:  # a fast tokenizer's batch call fails on an empty list
        return np.zeros(0, np.int32)
    if _is_byte_tokenizer(tokenizer):
        parts = []
        for d in docs:
            parts += [np.frombuffer(d.encode("utf-8"), np.uint8).astype(np.int32), np.array([eos], np.int32)]
        return np.concatenate(parts)
    ids = tokenizer(docs, add_special_tokens=False)["input_ids"]
    return np.concatenate([np.asarray(x + [eos], np.int32) for x in ids])


def _is_byte_tokenizer(tok) -> bool:
    return len(tok) == 257 and tok.convert_ids_to_tokens(256) == EOS and tok.convert_tokens_to_ids("A") == 65


class Batches:
    """Fixed-length chunks of the token stream; the batch of a step is a pure function of (seed, step)."""

    def __init__(self, tokens: np.ndarray, seq_len: int, batch_sequences: int, seed: int):
        self.tokens, self.seq_len, self.batch_sequences, self.seed = tokens, seq_len, batch_sequences, seed
        self.n_chunks = len(tokens) // seq_len
        self._perms: dict[int, np.ndarray] = {}

    def _perm(self, epoch: int) -> np.ndarray:
        """Epoch ``epoch``'s order of the chunks (each epoch reshuffled, from the seed alone)."""
        if epoch not in self._perms:
            self._perms = {epoch: np.random.default_rng([self.seed, epoch]).permutation(self.n_chunks)}
        return self._perms[epoch]

    def batch(self, step: int, rank: int = 0, world: int = 1) -> np.ndarray:
        """Token ids (sequences x seq_len) of optimizer step ``step`` (0-based), this process's slice."""
        first = step * self.batch_sequences
        idx = np.arange(first, first + self.batch_sequences)[rank::world]
        rows = []
        for g in idx:
            epoch, pos = divmod(int(g), self.n_chunks)
            c = int(self._perm(epoch)[pos])
            rows.append(self.tokens[c * self.seq_len: (c + 1) * self.seq_len])
        return np.stack(rows)


# --------------------------------------------------------------------------- recipe

def lr_at(step: int, rung: Rung) -> float:
    """Learning rate of update ``step`` (0-based): linear warmup over ``warmup_steps``,
    then cosine decay from the peak to ``final_lr`` at the last step (OLMo 2's schedule)."""
    w = max(rung.warmup_steps, 1)
    if step < w:
        return rung.peak_lr * (step + 1) / w
    span = max(rung.steps - w, 1)
    frac = min((step - w) / span, 1.0)
    return rung.final_lr + (rung.peak_lr - rung.final_lr) * 0.5 * (1 + math.cos(math.pi * frac))


@dataclass(frozen=True)
class TrainConfig:
    """How to train (the rungs themselves come from :func:`taskladder.ladder.plan`)."""

    out_dir: Path
    """Where each rung's folder of checkpoints goes."""
    corpus: Path
    """Training text: .txt (one document), .jsonl or .parquet (a ``text`` field per document)."""
    tokenizer: str = "bytes"
    """``bytes`` (byte-level, 257 tokens) or a tokenizer.json / Hugging Face tokenizer folder."""
    seed: int = 0
    """Seeds the initial weights and the data order."""
    dtype: str = "float32"
    """float32, or bfloat16 (autocast; FSDP2 gathers bf16 parameters and reduces in fp32)."""
    grad_clip: float = 1.0
    """Global gradient-norm clip (OLMo 2)."""
    z_loss: float = 1e-5
    """Weight of log(Z)^2 in the loss, which keeps the softmax normaliser near 1 (OLMo 2: 1e-5)."""
    betas: tuple[float, float] = (0.9, 0.95)
    """AdamW betas (OLMo 2)."""
    weight_decay: float = 0.1
    """AdamW weight decay, not applied to the input embedding (OLMo 2)."""
    eps: float = 1e-8
    """AdamW epsilon."""
    micro_batch: int | None = None
    """Sequences per forward pass (gradient accumulation); default: the whole per-process batch."""
    heldout_fraction: float = 0.05
    """Tail of the corpus kept out of training, for the held-out language-modelling loss."""
    max_epochs: float = 16.0
    """Refuse a plan whose largest run would pass over the training tokens more often than this."""
    max_steps: int | None = None
    """Stop every rung after this many steps (for tests and smoke runs)."""
    device: str = "cpu"
    """cpu or cuda (under torchrun: each process's own GPU)."""
    rope_theta: float = 500_000.0
    """RoPE base (OLMo 2)."""

    def __post_init__(self):
        if self.dtype not in ("float32", "bfloat16"):
            raise TaskladderError(f"unknown dtype {self.dtype!r}; choose float32 or bfloat16")
        if not (isinstance(self.seed, int) and self.seed >= 0):  # numpy's generators take none below 0
            raise TaskladderError(f"seed must be a non-negative integer, got {self.seed!r}")
        if not (self.grad_clip > 0 and self.eps > 0 and self.rope_theta > 0):
            raise TaskladderError("grad_clip, eps and rope_theta must be positive, got "
                                  f"{self.grad_clip}, {self.eps}, {self.rope_theta}")
        if not (self.z_loss >= 0 and self.weight_decay >= 0):
            raise TaskladderError(f"z_loss and weight_decay must be >= 0, got {self.z_loss}, {self.weight_decay}")
        if len(self.betas) != 2 or not all(0 <= b < 1 for b in self.betas):
            raise TaskladderError(f"betas must be two numbers in [0, 1), got {self.betas}")
        if not 0 < self.heldout_fraction < 0.5:
            raise TaskladderError(f"heldout fraction must be in (0, 0.5), got {self.heldout_fraction}")
        if self.micro_batch is not None and self.micro_batch <= 0:
            raise TaskladderError("micro batch must be positive")
        if self.max_steps is not None and self.max_steps < 1:
            raise TaskladderError(f"max steps must be at least 1, got {self.max_steps}")
        if not self.max_epochs > 0:
            raise TaskladderError(f"max epochs must be positive, got {self.max_epochs}")
        check_device(self.device)


def check_device(device: str) -> None:
    """Refuse a device this machine does not have, before any work starts."""
    if device == "cpu":
        return
    if not device.startswith("cuda"):
        raise TaskladderError(f"unknown device {device!r}; choose cpu or cuda")
    import torch

    if not torch.cuda.is_available():
        raise TaskladderError(f"device {device!r}: no CUDA GPU is available here (torch {torch.__version__}); use cpu")


def cross_entropy_z_loss(logits, target, z: float):
    """(mean cross-entropy + z * mean log(Z)^2, mean cross-entropy detached) in one fused step.

    The gradient is written directly, softmax x (1 + 2 z log Z) / M minus the one-hot
    target / M: one softmax over the vocabulary in the backward pass, where autograd
    through log-softmax plus a separate log-sum-exp makes two and more copies
    (benchmarks/train_speed.py).  Checked against autograd with gradcheck.
    """
    return _fused_loss_class().apply(logits, target, z)


@functools.cache
def _fused_loss_class():
    """The autograd Function, built on first use so that importing this module does not import torch."""
    import torch

    class CrossEntropyZLoss(torch.autograd.Function):
        @staticmethod
        def forward(ctx, logits, target, z):
            lse = torch.logsumexp(logits, -1)
            ce = (lse - logits.gather(1, target[:, None])[:, 0]).mean()
            ctx.save_for_backward(logits, target, lse)
            ctx.z = z
            total = ce + z * (lse * lse).mean()
            ce = ce.clone()
            ctx.mark_non_differentiable(ce)
            return total, ce

        @staticmethod
        def backward(ctx, grad_total, _grad_ce):
            logits, target, lse = ctx.saved_tensors
            m = logits.shape[0]
            g = torch.exp(logits - lse[:, None])  # softmax, from the saved log-sum-exp
            g.mul_(((1.0 + 2.0 * ctx.z * lse) * (grad_total / m))[:, None])
            g.scatter_add_(1, target[:, None], (-grad_total / m).expand(m, 1).to(g.dtype))
            return g, None, None

    return CrossEntropyZLoss


def model_config(rung: Rung, vocab_size: int, tokenizer, rope_theta: float = 500_000.0):
    """transformers' ``Olmo2Config`` for a rung: its shape, no biases, untied LM head, N(0, 0.02) init."""
    from transformers import Olmo2Config

    return Olmo2Config(vocab_size=vocab_size, hidden_size=rung.d_model, intermediate_size=rung.mlp_hidden,
                       num_hidden_layers=rung.n_layers, num_attention_heads=rung.n_heads,
                       num_key_value_heads=rung.n_heads, max_position_embeddings=rung.seq_len,
                       rope_theta=rope_theta, attention_bias=False, tie_word_embeddings=False,
                       initializer_range=0.02, rms_norm_eps=1e-6, pad_token_id=tokenizer.pad_token_id,
                       eos_token_id=tokenizer.eos_token_id, bos_token_id=None)


def count_non_embedding(model) -> int:
    """N as OLMo counts it: every parameter but the input embedding."""
    emb = model.get_input_embeddings().weight
    return sum(p.numel() for p in model.parameters()) - emb.numel()


def _reduction_is_sum(mesh) -> bool:
    """Whether FSDP2 on this process group sums gradients where it should average (pytorch #162338)."""
    import torch
    import torch.distributed as dist
    from torch.distributed.fsdp import fully_shard

    probe = torch.nn.Linear(1, dist.get_world_size(), bias=False)
    torch.nn.init.ones_(probe.weight)
    fully_shard(probe, mesh=mesh)
    probe(torch.ones(1, 1)).sum().backward()  # every process's gradient is 1
    g = probe.weight.grad.full_tensor()
    return bool(g.max() > 1.5)


#: Settings a run's checkpoints must share with the command that continues it: with the rung
#: itself and the training tokens (corpus, tokenizer, held-out split), they make its weights,
#: its data order and its loss.  ``micro_batch``, ``device``, ``max_steps``, ``max_epochs``,
#: the world size and the paths may change: the same batches give the same gradients.
RUN_SETTINGS = ("seed", "dtype", "grad_clip", "z_loss", "betas", "weight_decay", "eps", "rope_theta")


class RunCheckpoints:
    """A rung's checkpoints in ``out_dir/<rung>/step<k>``: the Hugging Face model, its tokenizer,
    ``taskladder.json`` (rung, settings, losses so far) and, in the latest only, the optimizer.

    Written to a hidden temporary folder and renamed into place, so a run killed mid-save
    resumes from the previous checkpoint; only process 0 writes, every process resumes."""

    def __init__(self, out_dir: Path, rank: int = 0, settings: dict | None = None):
        """``settings``: this command's :data:`RUN_SETTINGS` and ``train_tokens``; a checkpoint
        made under others is refused rather than continued or reported as done."""
        self.out_dir, self.rank, self.settings = Path(out_dir), rank, settings

    def _check(self, rung: Rung, path: Path, meta: dict) -> None:
        """Refuse to continue (or count as done) a checkpoint of another run under the same name."""
        def shape(d):  # the rung's share of the target and checkpoint spacing do not touch its weights
            return {f"rung {k}": v for k, v in d.items() if k not in ("target_share", "checkpoint_interval")}

        had = {**shape(meta.get("rung", {})), **{k: meta.get("train", {}).get(k) for k in RUN_SETTINGS},
               "train_tokens": meta.get("train_tokens")}
        now = {**shape(rung.as_dict()), **(self.settings or {})}
        for k, v in now.items():
            old = had.get(k)
            if old is not None and old != v:
                what = (f"trained on {old:,} training tokens, this command's corpus and tokenizer give {v:,}"
                        if k == "train_tokens" else f"trained with {k} {old}, this command has {v}")
                raise TaskladderError(f"{path}: {what}; continue it with the same settings, or train into "
                                      "another --out")

    def run_dir(self, rung: Rung) -> Path:
        return self.out_dir / rung.name

    @staticmethod
    def finished(run_dir: Path) -> list[tuple[int, Path]]:
        """Finished checkpoints of a run folder, by step."""
        out = []
        for p in Path(run_dir).glob("step*"):
            if p.is_dir() and p.name[4:].isdigit() and (p / "taskladder.json").exists():
                out.append((int(p.name[4:]), p))
        return sorted(out)

    def save(self, rung: Rung, model, opt, step: int, metrics: list[dict], tokenizer, meta: dict) -> None:
        """Checkpoint ``step`` (every process gathers the full state; process 0 writes it).
        ``meta``: more fields for ``taskladder.json`` (the training settings, the world size)."""
        import torch
        from torch.distributed.checkpoint.state_dict import (
            StateDictOptions,
            get_model_state_dict,
            get_optimizer_state_dict,
        )

        full = StateDictOptions(full_state_dict=True, cpu_offload=True)
        msd = get_model_state_dict(model, options=full)
        osd = get_optimizer_state_dict(model, opt, options=full)
        if self.rank != 0:
            return
        run_dir = self.run_dir(rung)
        final = run_dir / f"step{step}"
        tmp = run_dir / f".step{step}.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        model.save_pretrained(tmp, state_dict=msd, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        torch.save({"optimizer": osd, "step": step}, tmp / "train_state.pt")
        info = {"run": rung.name, "size": rung.size, "n": rung.n, "step": step, "tokens": step * rung.batch_tokens,
                "batch_tokens": rung.batch_tokens, "rung": rung.as_dict(), **meta, "losses": metrics}
        (tmp / "taskladder.json").write_text(json.dumps(info, indent=1))
        shutil.rmtree(final, ignore_errors=True)
        os.replace(tmp, final)
        # only the latest checkpoint keeps optimizer state (the model weights stay for evaluation)
        for s, p in self.finished(run_dir):
            if s < step:
                (p / "train_state.pt").unlink(missing_ok=True)

    def _resumable(self, rung: Rung) -> tuple[int, Path] | None:
        """The latest checkpoint that kept its optimizer state: (step, folder), or None."""
        done = [(s, p) for s, p in self.finished(self.run_dir(rung)) if (p / "train_state.pt").exists()]
        return done[-1] if done else None

    def done_summary(self, rung: Rung, last: int) -> dict | None:
        """What :meth:`Trainer.train` returns for a rung already trained to ``last`` steps, read
        from its latest checkpoint's ``taskladder.json`` without building the model (a resumed
        ``taskladder run`` spawned a worker, imported torch and loaded every finished rung
        just to learn it had nothing to do); None when the rung is not that far."""
        latest = self._resumable(rung)
        if latest is None or latest[0] < last:
            return None
        step, path = latest
        meta = json.loads((path / "taskladder.json").read_text())
        self._check(rung, path, meta)
        losses = meta["losses"]
        return {"run": rung.name, "steps": last, "resumed_from": step,
                "final_loss": losses[-1]["loss"] if losses else None, "tokens_per_s": None}

    def resume(self, rung: Rung, model, opt) -> tuple[int, list[dict]]:
        """Load the latest checkpoint with optimizer state into ``model`` and ``opt``: (its step,
        the losses logged up to it); (0, []) when there is none."""
        import torch

        run_dir = self.run_dir(rung)
        for tmp in run_dir.glob(".step*.tmp"):  # a save cut short by a kill
            if self.rank == 0:
                shutil.rmtree(tmp, ignore_errors=True)
        latest = self._resumable(rung)
        if latest is None:
            return 0, []
        step, path = latest
        meta = json.loads((path / "taskladder.json").read_text())
        self._check(rung, path, meta)
        from safetensors.torch import load_file
        from torch.distributed.checkpoint.state_dict import (
            StateDictOptions,
            set_model_state_dict,
            set_optimizer_state_dict,
        )

        msd = load_file(path / "model.safetensors")
        state = torch.load(path / "train_state.pt", weights_only=False)
        full = StateDictOptions(full_state_dict=True)
        set_model_state_dict(model, msd, options=full)
        set_optimizer_state_dict(model, opt, state["optimizer"], options=full)
        return step, meta["losses"]


class Trainer:
    """Trains rungs into ``config.out_dir``; call :meth:`train` per rung (resumes if checkpoints
    exist, :class:`RunCheckpoints`)."""

    def __init__(self, config: TrainConfig, vocab_size: int, rank: int = 0, world: int = 1, progress=None):
        import torch

        from .evaluation import quiet_transformers

        quiet_transformers()
        self.torch, self.cfg, self.rank, self.world = torch, config, rank, world
        self.tokenizer = load_tokenizer(config.tokenizer)
        if len(self.tokenizer) > vocab_size:
            raise TaskladderError(f"the tokenizer has {len(self.tokenizer)} tokens but the plan's vocabulary only "
                                  f"{vocab_size}; plan with a larger vocabulary")
        self.vocab_size = vocab_size
        self.progress = progress
        docs = read_documents(config.corpus)
        train_docs, self.heldout = split_heldout(docs, config.heldout_fraction)
        self.tokens = encode_corpus(train_docs, self.tokenizer)
        self._settings = _jsonable(asdict(config))  # recorded in every checkpoint
        self.store = RunCheckpoints(config.out_dir, rank, {**{k: self._settings[k] for k in RUN_SETTINGS},
                                                           "train_tokens": len(self.tokens)})
        self.mesh = None
        self.sum_reduction = False
        if world > 1:
            from torch.distributed.device_mesh import init_device_mesh

            self.mesh = init_device_mesh("cuda" if config.device.startswith("cuda") else "cpu", (world,))
            self.sum_reduction = _reduction_is_sum(self.mesh)

    def check_plan(self, rungs: list[Rung]) -> None:
        """Corpus large enough for every rung; batches divide among the processes."""
        n = len(self.tokens)
        for r in rungs:
            if n < r.batch_tokens:
                raise TaskladderError(f"{self.cfg.corpus}: corpus too small: {n:,} training tokens, fewer than one "
                                      f"batch of {r.name} ({r.batch_tokens:,})")
            epochs = r.steps * r.batch_tokens / n
            if epochs > self.cfg.max_epochs:
                raise TaskladderError(
                    f"{self.cfg.corpus}: corpus too small for the plan: {r.name} needs {r.steps * r.batch_tokens:,} "
                    f"tokens, {epochs:.1f} passes over its {n:,} training tokens (limit {self.cfg.max_epochs:g}); "
                    "use a larger corpus or smaller multiples")
            if r.batch_sequences % self.world:
                raise TaskladderError(f"{r.name}: batch of {r.batch_sequences} sequences does not split over "
                                      f"{self.world} processes")
        worst = max(r.steps * r.batch_tokens / n for r in rungs)
        if worst > 1 and self.rank == 0:
            warnings.warn(f"the largest run passes {worst:.1f} times over the corpus; repeated tokens bend "
                          "scaling laws beyond about 4 passes (Muennighoff et al., 2023)", FitWarning, stacklevel=2)

    # -- model and optimizer
    def _build(self, rung: Rung):
        torch = self.torch
        from transformers import Olmo2ForCausalLM

        torch.manual_seed(self.cfg.seed)
        cfg = model_config(rung, self.vocab_size, self.tokenizer, self.cfg.rope_theta)
        with torch.device("cpu"):
            model = Olmo2ForCausalLM(cfg)
        model.to(self.cfg.device)
        if self.world > 1:
            from torch.distributed.fsdp import MixedPrecisionPolicy, fully_shard

            mp = MixedPrecisionPolicy(param_dtype=torch.bfloat16, reduce_dtype=torch.float32) \
                if self.cfg.dtype == "bfloat16" and self.cfg.device.startswith("cuda") else MixedPrecisionPolicy()
            for layer in model.model.layers:
                fully_shard(layer, mesh=self.mesh, mp_policy=mp)
            fully_shard(model, mesh=self.mesh, mp_policy=mp)
        emb = model.get_input_embeddings().weight
        decay = [p for p in model.parameters() if p is not emb]
        opt = torch.optim.AdamW([{"params": decay, "weight_decay": self.cfg.weight_decay},
                                 {"params": [emb], "weight_decay": 0.0}],
                                lr=rung.peak_lr, betas=self.cfg.betas, eps=self.cfg.eps,
                                foreach=True if self.world > 1 else None, fused=None if self.world > 1 else True)
        return model, opt

    def _loss(self, model, ids):
        """Mean next-token cross-entropy plus z-loss over this process's chunk, and the CE alone."""
        torch = self.torch
        x = torch.as_tensor(ids, dtype=torch.long, device=self.cfg.device)
        ctx = torch.autocast(device_type=x.device.type, dtype=torch.bfloat16) \
            if self.cfg.dtype == "bfloat16" else torch.autocast(device_type=x.device.type, enabled=False)
        with ctx:
            logits = model(input_ids=x[:, :-1]).logits
        total, ce = cross_entropy_z_loss(logits.float().flatten(0, 1), x[:, 1:].flatten(), self.cfg.z_loss)
        return total, ce.detach()

    # -- the loop
    def train(self, rung: Rung) -> dict:
        """Train (or finish) one rung; returns its summary: steps done, final loss, tokens/s."""
        import time

        torch = self.torch
        run_dir = self.store.run_dir(rung)
        if self.rank == 0:
            run_dir.mkdir(parents=True, exist_ok=True)
        if self.world > 1:
            import torch.distributed as dist

            dist.barrier()
        model, opt = self._build(rung)
        start, metrics = self.store.resume(rung, model, opt)
        last = rung.steps if self.cfg.max_steps is None else min(rung.steps, self.cfg.max_steps)
        data = Batches(self.tokens, rung.seq_len + 1, rung.batch_sequences, self.cfg.seed)
        per_rank = rung.batch_sequences // self.world
        micro = min(self.cfg.micro_batch or per_rank, per_rank)
        scale = 1.0 / self.world if self.sum_reduction else 1.0
        t0, steps_run = time.perf_counter(), 0
        for step in range(start, last):
            lr = lr_at(step, rung)
            for g in opt.param_groups:
                g["lr"] = lr
            ids = data.batch(step, self.rank, self.world)
            ce_sum = 0.0
            for m0 in range(0, per_rank, micro):
                chunk = ids[m0: m0 + micro]
                loss, ce = self._loss(model, chunk)
                (loss * (len(chunk) / per_rank) * scale).backward()
                ce_sum += float(ce) * len(chunk) / per_rank
            gnorm = torch.nn.utils.clip_grad_norm_(model.parameters(), self.cfg.grad_clip)
            if hasattr(gnorm, "full_tensor"):
                gnorm = gnorm.full_tensor()
            opt.step()
            opt.zero_grad(set_to_none=True)
            if self.world > 1:
                import torch.distributed as dist

                t = torch.tensor([ce_sum], dtype=torch.float64)
                dist.all_reduce(t)
                ce_sum = float(t) / self.world
            metrics.append({"step": step + 1, "loss": ce_sum, "lr": lr, "grad_norm": float(gnorm)})
            steps_run += 1
            if not math.isfinite(ce_sum):
                raise TaskladderError(f"{rung.name}: loss became {ce_sum} at step {step + 1}; lower the learning rate")
            if (step + 1) % rung.checkpoint_interval == 0 or step + 1 in (rung.steps, last):
                self.store.save(rung, model, opt, step + 1, metrics, self.tokenizer,
                                {"train": self._settings, "world_size": self.world,
                                 "train_tokens": len(self.tokens)})
            if self.progress is not None:
                self.progress(rung, step + 1, last, ce_sum)
        dt = time.perf_counter() - t0
        return {"run": rung.name, "steps": last, "resumed_from": start, "final_loss": metrics[-1]["loss"] if metrics else None,
                "tokens_per_s": steps_run * rung.batch_tokens / dt if steps_run else None, "losses": metrics}


def _jsonable(d: dict) -> dict:
    return {k: (str(v) if isinstance(v, Path) else list(v) if isinstance(v, tuple) else v) for k, v in d.items()}
