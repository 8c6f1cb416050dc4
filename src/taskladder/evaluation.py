"""Scoring multiple-choice tasks with any causal LM: task loss, accuracies, TaskCE.

Needs the ``eval`` extra (torch, transformers).  A task is a shared few-shot
``prefix`` (OLMES uses the same 5 examples for every question of a task) and
items of (question, choices, gold).  Scoring reuses work the way the text is
shared: the prefix is run once per task; then each question and all its choices
are packed into one row (a 4-D attention mask keeps the choices apart), 16
questions per forward pass.  Per-choice log-likelihoods equal a naive
full-sequence computation (tested to 1e-4 nats in fp32) and lm-evaluation-harness
(benchmarks/eval_speed.py).

Metrics follow OLMo's in-loop evaluator (the bundled ladder's logs) by default; the
lengths that normalise them follow a convention (:mod:`taskladder.conventions`:
``olmo`` does not count the answer's leading space, OLMES and lm-eval differ):

* ``bpb`` (task loss): -log p(gold continuation) / (ln 2 x its UTF-8 bytes),
  averaged over questions;
* accuracies: ``acc_raw`` (sum of log-probabilities), ``acc_per_token``,
  ``acc_per_char`` (OLMES "len_norm"), ``acc_uncond`` (log p(choice | question)
  - log p(choice | "Answer:")); ``acc`` is the task's OLMES primary one;
* ``taskce``: -log softmax over choices of the primary-normalised
  log-likelihoods, at the gold choice (paper eq. 7).
"""

from __future__ import annotations

import copy
import gzip
import json
from collections.abc import Iterable, Sequence
from typing import NamedTuple
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import TaskladderError, cause, did_you_mean
from .tokenized import choice_tokens, encode, requests

UNCOND_CONTEXT = "Answer:"


@dataclass(frozen=True)
class MCItem:
    """One question: the text after the shared prefix, its choices and the gold index."""

    question: str
    choices: tuple[str, ...]
    gold: int
    id: str = ""
    group: str = ""
    """Key into the task's ``prefixes`` (MMLU: the subject, whose own 5 examples precede it)."""
    contexts: tuple[str, ...] = ()
    """One context per choice, replacing ``question`` (Winogrande's partial scoring: the
    sentence with each option filled in, then the same continuation)."""


@dataclass(frozen=True)
class MCTask:
    """A multiple-choice task in ranked-classification form."""

    name: str
    prefix: str
    items: tuple[MCItem, ...]
    primary: str = "acc_per_char"
    """Which accuracy is the task's OLMES primary metric (``acc_per_char`` or ``acc_raw``)."""
    uncond_context: str = UNCOND_CONTEXT
    meta: dict = field(default_factory=dict, compare=False)
    prefixes: dict = field(default_factory=dict, compare=False)
    """Few-shot prefix of each item group (an item with no group uses ``prefix``)."""
    uncond: bool = True
    """Whether to score the choices unconditionally too (``acc_uncond``); off for tasks
    whose choices are spellings of one word (:mod:`taskladder.cloze`), where it means nothing."""

    def __post_init__(self):
        if self.primary not in ("acc_per_char", "acc_raw", "acc_per_token", "acc_uncond"):
            raise TaskladderError(f"task {self.name!r}: unknown primary metric {self.primary!r}")
        for it in self.items:
            if not it.choices or not 0 <= it.gold < len(it.choices):
                raise TaskladderError(f"task {self.name!r}, item {it.id!r}: gold index {it.gold} outside its choices")
            if it.group and it.group not in self.prefixes:
                raise TaskladderError(f"task {self.name!r}, item {it.id!r}: no prefix for group {it.group!r}")
            if it.contexts and len(it.contexts) != len(it.choices):
                raise TaskladderError(f"task {self.name!r}, item {it.id!r}: {len(it.contexts)} contexts for "
                                      f"{len(it.choices)} choices")

    def prefix_of(self, item: MCItem) -> str:
        return self.prefixes[item.group] if item.group else self.prefix


def load_task(path: str | Path, limit: int | None = None) -> MCTask:
    """Read a task file: JSON (or .json.gz) ``{"name", "prefix", "primary", "items": [...]}``.

    Each item is ``{"question", "choices", "gold"}`` (optionally ``"id"``; ``"group"``
    naming one of the task's ``"prefixes"``; ``"contexts"``, one per choice); ``"uncond":
    false`` skips the unconditional scoring.  Choices
    carry their leading space, e.g. ``" Paris"``.  ``limit`` keeps the first items of
    each group (MMLU: of each subject).
    """
    path = Path(path)
    if not path.exists():
        raise TaskladderError(f"{path}: no such task file")
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8") as f:
            obj = json.load(f)
        raw, seen = [], {}
        for i, it in enumerate(obj["items"]):
            g = str(it.get("group", ""))
            seen[g] = seen.get(g, 0) + 1
            if limit is None or seen[g] <= limit:
                raw.append((i, it))
        items = tuple(MCItem(str(it["question"]), tuple(str(c) for c in it["choices"]), int(it["gold"]),
                             str(it.get("id", i)), str(it.get("group", "")),
                             tuple(str(c) for c in it.get("contexts", ()))) for i, it in raw)
        return MCTask(str(obj["name"]), str(obj.get("prefix", "")), items, str(obj.get("primary", "acc_per_char")),
                      str(obj.get("uncond_context", UNCOND_CONTEXT)), obj.get("meta", {}),
                      {str(k): str(v) for k, v in obj.get("prefixes", {}).items()}, bool(obj.get("uncond", True)))
    except (KeyError, TypeError, ValueError, json.JSONDecodeError) as e:
        raise TaskladderError(f"{path}: not a task file ({type(e).__name__}: {e})") from None


def bundled_tasks() -> list[str]:
    """Names of the OLMES 5-shot tasks shipped with taskladder (``<task>`` RC, ``<task>_mc`` MC)."""
    from importlib import resources

    folder = resources.files("taskladder") / "data" / "olmes"
    return sorted(p.name.removesuffix(".json.gz") for p in folder.iterdir() if p.name.endswith(".json.gz"))


def zero_shot(task: MCTask) -> MCTask:
    """The task without its few-shot examples (for models whose window cannot hold them)."""
    from dataclasses import replace

    return replace(task, prefix="", prefixes={g: "" for g in task.prefixes}, meta={**task.meta, "shots": 0})


def bundled_task(name: str, limit: int | None = None) -> MCTask:
    """Load a bundled OLMES task by name, e.g. ``"piqa"`` or ``"arc_challenge_mc"``."""
    from importlib import resources

    from .tasks import registry_name

    known = bundled_tasks()
    if name not in known and registry_name(name) in known:  # 'ARC-Challenge', 'commonsense_qa'
        name = registry_name(name)
    if name not in known:
        raise TaskladderError(f"unknown task {name!r}{did_you_mean(name, known)}; "
                              f"bundled tasks: {', '.join(known)}")
    with resources.as_file(resources.files("taskladder") / "data" / "olmes" / f"{name}.json.gz") as p:
        return load_task(p, limit)


class Packing(NamedTuple):
    """A group of questions packed one per row with their choices (:func:`pack_choices`)."""

    ids: np.ndarray
    """(G, L) tokens fed: the question's context after the shared prefix, then each choice but its last token."""
    pos: np.ndarray
    """(G, L) position ids: after the shared prefix, restarting after the question for each choice."""
    allow: np.ndarray
    """(G, L, S + L) which positions each token may attend to (the prefix, its question, its own choice)."""
    row: np.ndarray
    """Per choice token: the row whose output at column ``col`` predicts it."""
    col: np.ndarray
    """Per choice token: that column."""
    target: np.ndarray
    """Per choice token: the token."""
    owner: np.ndarray
    """Per choice token: its choice, numbered over the group."""


def pack_choices(rests: Sequence[Sequence[int]], chs: Sequence[Sequence[Sequence[int]]], S: int, pad: int) -> Packing:
    """Pack each question (its context's tokens after the ``S`` shared ones, ``rests[i]``) with
    all its choices (``chs[i]``, each without its last token, which is only predicted) into one
    row.  The attention mask lets every choice see the shared prefix, its question and its own
    earlier tokens only, and positions restart after the question for each choice: the same
    log-probabilities as a separate pass per choice.  Padding rows see themselves."""
    G = len(rests)
    L = max(len(r) + sum(len(c) - 1 for c in cl) for r, cl in zip(rests, chs))
    x = np.full((G, L), pad, dtype=np.int64)
    pos = np.zeros((G, L), dtype=np.int64)
    allow = np.zeros((G, L, S + L), dtype=bool)
    allow[:, :, :S] = True
    tri = np.tril(np.ones((L, L), dtype=bool))
    row_q, row_p, target, owner = [], [], [], []
    k = 0
    for i, (r, cl) in enumerate(zip(rests, chs)):
        n = len(r)
        x[i, :n] = r
        pos[i, :n] = S + np.arange(n)
        allow[i, :n, S:S + n] = tri[:n, :n]
        off = n
        for c in cl:
            m = len(c) - 1  # the last token is only predicted, never fed
            if m:
                x[i, off:off + m] = c[:-1]
                pos[i, off:off + m] = S + n + np.arange(m)
                allow[i, off:off + m, S:S + n] = True
                allow[i, off:off + m, S + off:S + off + m] = tri[:m, :m]
            # first choice token from the question's last position; the rest from the choice's own
            row_q += [i] * len(c)
            row_p += [n - 1, *range(off, off + m)]
            target += c
            owner += [k] * len(c)
            off += m
            k += 1
        allow[i, off:, S + off:] = np.eye(L - off, dtype=bool)
    row, col, tok, own = (np.asarray(v, dtype=np.int64) for v in (row_q, row_p, target, owner))
    return Packing(x, pos, allow, row, col, tok, own)


def _cache_of(out):
    """The key/value cache of a model output: ``cache`` in transformers 5.x, ``past_key_values`` in 4.x."""
    cache = getattr(out, "cache", None)
    return out.past_key_values if cache is None else cache


class Scorer:
    """Per-choice log-likelihoods of a causal LM, with prefix and question reuse."""

    def __init__(self, model, tokenizer, device: str = "cpu", max_length: int | None = None,
                 overlong: str = "error"):
        import torch

        if overlong not in ("error", "truncate"):
            raise TaskladderError(f"unknown over-long policy {overlong!r}; choose error or truncate")
        self.overlong = overlong

        self.torch = torch
        self.model = model.eval().to(device)
        self.tokenizer = tokenizer
        self.device = device
        cfg = model.config
        self.max_length = max_length or getattr(cfg, "max_position_embeddings", None) or 4096
        # body and output projection apart, so the projection runs only where needed
        self.body = getattr(model, model.base_model_prefix)
        self.head = model.get_output_embeddings()
        # transformers 5.x renamed the key/value cache argument and output from
        # past_key_values to cache (the old name warns, and goes in 5.40); 4.x knows only the old
        import inspect

        self._cache_kw = "cache" if "cache" in inspect.signature(self.body.forward).parameters else "past_key_values"

    def _body(self, ids, mask=None, pos=None, cache=None):
        """Hidden states of the transformer body (no output projection) and the updated cache."""
        with self.torch.inference_mode():
            out = self.body(input_ids=ids.to(self.device), attention_mask=None if mask is None else mask.to(self.device),
                            position_ids=None if pos is None else pos.to(self.device), use_cache=True,
                            **{self._cache_kw: cache})
        return out.last_hidden_state, _cache_of(out)

    def _head(self, h):
        """Log-probabilities from hidden states: the output projection, then log-softmax."""
        with self.torch.inference_mode():
            return self.head(h).float().log_softmax(-1)

    def _forward(self, ids, cache=None):
        torch = self.torch
        x = torch.as_tensor(ids, device=self.device)
        if x.ndim == 1:
            x = x[None]
        with torch.inference_mode():
            out = self.model(input_ids=x, use_cache=True, **{self._cache_kw: cache})
        return out.logits.float().log_softmax(-1), _cache_of(out)

    def loglikelihoods(self, prefix: str, questions: Sequence[str], choices: Sequence[Sequence[str]],
                       group: int = 16):
        """Sum of log p(choice tokens | prefix + question) and token counts, per item and choice.

        Each context (prefix + question) is tokenized whole, as a reference harness
        does (:func:`tokenized.requests`, kept for the next checkpoint with the same tokenizer).  The
        tokens all contexts share (the few-shot prefix, up to where the tokenizer first
        differs) are run once.  Then ``group`` questions per forward pass, each packed with
        its choices (:meth:`_packed_group`).
        """
        torch = self.torch
        req = requests(self.tokenizer, prefix, questions, choices, self.max_length, self.overlong)
        S = len(req.shared)
        pre_cache = self._body(torch.tensor([req.shared]))[1] if req.shared else None
        keep = [i for i in range(req.n) if i not in req.long]
        res: dict[int, tuple] = {}
        for g0 in range(0, len(keep), group):
            idx = keep[g0: g0 + group]
            ll, nt = self._packed_group([req.rest(i) for i in idx], [req.choices(i) for i in idx], S, pre_cache)
            res.update(zip(idx, zip(ll, nt)))
        for i, ctx in req.long.items():  # left-truncated contexts share no prefix: one pass per choice
            chs = req.choices(i)
            res[i] = (np.array([self._choice_ll(ctx, c) for c in chs]), np.array([len(c) for c in chs]))
        return [res[i][0] for i in range(req.n)], [res[i][1] for i in range(req.n)]

    def _choice_ll(self, ctx: list[int], cid: list[int]) -> float:
        """log p(choice | context) from one full forward pass."""
        lp, _ = self._forward(ctx + cid)
        pos = np.arange(len(ctx) - 1, len(ctx) + len(cid) - 1)
        return float(sum(lp[0, p, t] for p, t in zip(pos, cid)))

    def _packed_group(self, rests, chs, S, pre_cache):
        """One forward pass for a group of questions, each packed with its choices
        (:func:`pack_choices`); the choice tokens' log-probabilities are gathered in one
        indexing step: for models of a few thousand parameters, per-token torch calls cost
        more than the forward pass."""
        torch = self.torch
        pad = self.tokenizer.pad_token_id if self.tokenizer.pad_token_id is not None else 0
        pk = pack_choices(rests, chs, S, pad)
        dtype = next(self.model.parameters()).dtype
        blocked = torch.from_numpy(~pk.allow)[:, None]  # (G, 1, L, S + L): one mask for every head
        mask = torch.zeros(blocked.shape, dtype=dtype).masked_fill(blocked, torch.finfo(dtype).min)
        cache = None
        if pre_cache is not None:
            cache = copy.deepcopy(pre_cache)
            cache.batch_repeat_interleave(len(rests))
        h, _ = self._body(torch.from_numpy(pk.ids), mask, torch.from_numpy(pk.pos), cache)
        lp = self._head(h[torch.from_numpy(pk.row), torch.from_numpy(pk.col)])
        tok_ll = lp[torch.arange(len(pk.target)), torch.from_numpy(pk.target)].double().numpy()
        ll = np.bincount(pk.owner, weights=tok_ll, minlength=sum(len(cl) for cl in chs))
        out_ll, out_ntok, k = [], [], 0
        for cl in chs:
            out_ll.append(ll[k:k + len(cl)])
            out_ntok.append(np.array([len(c) for c in cl]))
            k += len(cl)
        return out_ll, out_ntok

    def naive_loglikelihoods(self, prefix: str, question: str, choices: Sequence[str]) -> np.ndarray:
        """The same quantity from one full forward pass per choice (for checking)."""
        ctx = encode(self.tokenizer, prefix + question)
        return np.array([self._choice_ll(ctx, choice_tokens(self.tokenizer, prefix + question, c, ctx))
                         for c in choices])


def text_loss(scorer: Scorer, text: str, window: int | None = None, batch: int = 32) -> float:
    """Mean next-token cross-entropy (nats) of the scorer's model over a text (the held-out
    language-modelling loss, paper section 6's C4 loss), in non-overlapping windows.

    Window ``k`` predicts tokens ``k*w+1 .. (k+1)*w`` from the ones before it in the
    window (``w`` at most the model's window); full windows go ``batch`` at a time, the
    shorter last one alone.
    """
    torch = scorer.torch
    ids = encode(scorer.tokenizer, text)
    w = min(window or scorer.max_length, scorer.max_length)
    if len(ids) < 2:
        raise TaskladderError("the held-out text encodes to fewer than 2 tokens")
    chunks = [ids[s: s + w + 1] for s in range(0, len(ids) - 1, w)]
    full = [c for c in chunks if len(c) == w + 1]
    rest = [c for c in chunks if len(c) != w + 1 and len(c) >= 2]
    total, count = 0.0, 0
    for b0 in range(0, len(full), batch):
        x = torch.tensor(full[b0: b0 + batch], device=scorer.device)
        with torch.inference_mode():
            logits = scorer.model(input_ids=x[:, :-1]).logits.float()
        total += float(torch.nn.functional.cross_entropy(logits.flatten(0, 1), x[:, 1:].flatten(), reduction="sum"))
        count += x[:, 1:].numel()
    for c in rest:
        lp, _ = scorer._forward(c[:-1])
        tgt = torch.tensor(c[1:], device=scorer.device)
        total -= float(lp[0, torch.arange(len(tgt)), tgt].sum())
        count += len(tgt)
    return total / count


def task_metrics(task: MCTask, ll: Sequence[np.ndarray], ntok: Sequence[np.ndarray],
                 ll_uncond: Sequence[np.ndarray] | None = None, convention: str = "olmo") -> dict[str, float]:
    """Task-level metrics from per-choice log-likelihoods, under a metric convention
    (:mod:`taskladder.conventions`; ``olmo``, the bundled ladder's, by default)."""
    from . import conventions

    conv = conventions.get(convention)
    per_q = [conventions.question_metrics(ll[k], ntok[k], it.choices, it.gold, task.primary, conv,
                                          ll_uncond=None if ll_uncond is None else ll_uncond[k])
             for k, it in enumerate(task.items)]
    return conventions.mean_metrics(per_q, task.primary)


def evaluate_task(scorer: Scorer, task: MCTask, uncond: bool = True, convention: str = "olmo") -> dict[str, float]:
    """Score one task and return its metrics.

    Items are scored per prefix group (each group's few-shot prefix runs once).  An
    item with per-choice contexts becomes one single-choice question per context.
    The unconditional score is left out when any item has per-choice contexts: its
    choices are one continuation, so it cannot tell them apart.
    """
    n = len(task.items)
    ll: list = [None] * n
    ntok: list = [None] * n
    by_prefix: dict[str, list[int]] = {}
    for k, it in enumerate(task.items):
        by_prefix.setdefault(task.prefix_of(it), []).append(k)
    for prefix, ks in by_prefix.items():
        qs, cs, owner = [], [], []
        for k in ks:
            it = task.items[k]
            if it.contexts:
                for ctx, ch in zip(it.contexts, it.choices):
                    qs.append(ctx)
                    cs.append((ch,))
                    owner.append(k)
            else:
                qs.append(it.question)
                cs.append(it.choices)
                owner.append(k)
        l_, t_ = scorer.loglikelihoods(prefix, qs, cs)
        parts: dict[int, tuple[list, list]] = {}
        for k, lv, tv in zip(owner, l_, t_):
            parts.setdefault(k, ([], []))
            parts[k][0].extend(lv)
            parts[k][1].extend(tv)
        for k, (lv, tv) in parts.items():
            ll[k], ntok[k] = np.array(lv, float), np.array(tv)
    llu = None
    if uncond and not any(it.contexts for it in task.items):
        llu, _ = scorer.loglikelihoods(task.uncond_context, [""] * n, [it.choices for it in task.items])
    return task_metrics(task, ll, ntok, llu, convention)


def quiet_transformers() -> None:
    """Silence transformers' per-file progress bars (taskladder draws its own)."""
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()


def load_model(path: str | Path, dtype: str = "float32", device: str = "cpu"):
    """Load a Hugging Face causal LM and its tokenizer from a local folder (no hub access)."""
    path = Path(path)
    if not (path / "config.json").exists():
        raise TaskladderError(f"{path}: not a model folder (no config.json)")
    try:
        import torch
        from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer
    except ImportError:
        raise TaskladderError("evaluation needs the eval extra: pip install 'taskladder[eval]'") from None
    quiet_transformers()
    try:
        cfg = AutoConfig.from_pretrained(path, local_files_only=True)
    except Exception as e:  # transformers raises OSError, ValueError, KeyError, JSON errors for bad configs
        raise TaskladderError(f"{path / 'config.json'}: not a usable model config ({type(e).__name__})") from None
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES

    if cfg.model_type not in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES:
        raise TaskladderError(f"{path}: model type {cfg.model_type!r} is not a causal language model")
    # an encoder such as BERT has a causal-LM class too, but its checkpoint was not trained as one
    archs = getattr(cfg, "architectures", None) or []
    if archs and not any(a.endswith(("ForCausalLM", "LMHeadModel")) for a in archs):
        raise TaskladderError(f"{path}: architecture {archs[0]} is not a causal language model")
    try:
        tok = AutoTokenizer.from_pretrained(path, local_files_only=True)
    except (OSError, ValueError) as e:
        raise TaskladderError(f"{path}: no usable tokenizer ({cause(e, named=False)})") from None
    if len(tok) > cfg.vocab_size:
        raise TaskladderError(f"{path}: tokenizer has {len(tok)} tokens but the model only {cfg.vocab_size}")
    dt = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}.get(dtype)
    if dt is None:
        raise TaskladderError(f"unknown dtype {dtype!r}; choose {', '.join(DTYPES)}")
    try:
        model = AutoModelForCausalLM.from_pretrained(path, local_files_only=True, dtype=dt)
    except (OSError, ValueError) as e:
        raise TaskladderError(f"{path}: the model weights cannot be loaded ({cause(e, named=False)})") from None
    return model, tok


def result_rows(task: MCTask, metrics: dict[str, float]) -> list[tuple[str, str, float]]:
    """(task, metric, value) rows for the results table.

    RC tasks give ``bpb``, ``acc`` and ``taskce``; an MC-format task (``<task>_mc``)
    gives ``mc_acc`` under its base task name, as the bundled ladder logs do.
    """
    if task.meta.get("format") == "mc" or task.name.endswith("_mc"):
        return [(task.name.removesuffix("_mc"), "mc_acc", metrics["acc_raw"])]
    return [(task.name, m, metrics[m]) for m in ("bpb", "acc", "taskce")]


def done_keys(existing, heldout_name: str) -> set:
    """(run, step, scored task) keys already in a results table, as ``evaluate_checkpoints`` skips them.

    MC-format rows are stored as (task, ``mc_acc``) but scored as ``<task>_mc``; a
    held-out loss row is keyed ``"lm"``.
    """
    if existing is None:
        return set()
    keys = list(existing[["run", "step", "task", "metric"]].itertuples(index=False))
    done = {(r, s, f"{t}_mc" if m == "mc_acc" else t) for r, s, t, m in keys}
    return done | {(r, s, "lm") for r, s, t, m in keys if m == "lm_loss" and t == heldout_name}


def needs_scoring(ck: dict, tasks: Sequence[MCTask], text: str | None, done: set) -> bool:
    """Whether a checkpoint has a task (or, given ``text``, the held-out loss) not yet in ``done``
    (:func:`done_keys`)."""
    return (any((ck["run"], ck["step"], t.name) not in done for t in tasks)
            or (text is not None and (ck["run"], ck["step"], "lm") not in done))


def evaluate_checkpoints(checkpoints: Iterable[dict], tasks: Sequence[MCTask], text: str | None = None,
                         device: str = "cpu", dtype: str = "float32", done: set | None = None, progress=None,
                         heldout_name: str = "c4_en", overlong: str = "error", convention: str = "olmo"):
    """Yield tidy result rows for each checkpoint dict (path, run, size, n, step, d).

    Each row carries the metric ``convention`` it was computed under."""
    done = done or set()
    for ck in checkpoints:
        if not needs_scoring(ck, tasks, text, done):
            yield ck, []  # already in the results: nothing to load or score
            continue
        todo = [t for t in tasks if (ck["run"], ck["step"], t.name) not in done]
        model, tok = load_model(ck["path"], dtype, device)
        scorer = Scorer(model, tok, device, overlong=overlong)
        rows = []
        for t in todo:
            m = evaluate_task(scorer, t, uncond=t.uncond and not t.name.endswith("_mc"), convention=convention)
            for name, metric, value in result_rows(t, m):
                rows.append({**_key(ck), "task": name, "metric": metric, "value": value, "convention": convention})
            if progress is not None:
                progress()
        if text is not None and (ck["run"], ck["step"], "lm") not in done:
            rows.append({**_key(ck), "task": heldout_name, "metric": "lm_loss", "value": text_loss(scorer, text),
                         "convention": convention})
        yield ck, rows


@contextmanager
def distributed_context():
    """(rank, world size) under torchrun (gloo process group), (0, 1) otherwise."""
    import os

    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        yield 0, 1
        return
    import torch.distributed as dist

    dist.init_process_group("gloo")
    try:
        yield dist.get_rank(), dist.get_world_size()
    finally:
        dist.destroy_process_group()


def _key(ck: dict) -> dict:
    return {k: ck[k] for k in ("run", "size", "n", "d", "step")}


def discover_checkpoints(paths, run: str | None = None, n: int | None = None,
                         batch_tokens: int | None = None) -> list[dict]:
    """Checkpoint folders as ``evaluate_checkpoints`` wants them, sorted by (run, step).

    The step comes from the folder name (``step1000``, ``step-1000``, ``...-step1000``, Hugging
    Face Trainer's ``checkpoint-1000``; :func:`ingest.checkpoint.step_of`);
    run, N and batch tokens from the arguments or, for folders written by
    ``taskladder train``, from their ``taskladder.json``.
    """
    import json

    from .ingest.checkpoint import step_of

    cks = []
    for c in map(Path, paths):
        step = step_of(c.name)
        if not c.is_dir():
            raise TaskladderError(f"{c}: no such checkpoint folder")
        if step is None:
            raise TaskladderError(f"{c}: cannot read the step from the folder name (expected e.g. step1000 or "
                                  "checkpoint-1000)")
        meta = json.loads((c / "taskladder.json").read_text()) if (c / "taskladder.json").exists() else {}
        run_, ck_n, ck_bt = run or meta.get("run"), n or meta.get("n"), batch_tokens or meta.get("batch_tokens")
        if run_ is None or ck_n is None or ck_bt is None:
            raise TaskladderError(f"{c}: not a taskladder checkpoint; give --run-name, --params and --batch-tokens")
        cks.append({"path": c, "run": run_, "size": meta.get("size", run_.split("-")[0]), "n": int(ck_n),
                    "step": step, "d": step * int(ck_bt)})
    return sorted(cks, key=lambda x: (x["run"], x["step"]))


#: Weight types a checkpoint can be scored in (``--dtype``).
DTYPES = ("float32", "bfloat16", "float16")


def questions_record(table: Path) -> Path:
    """Where the fingerprints of the questions behind ``table``'s rows are kept (a hidden file beside it)."""
    return table.with_name(f".{table.name}.questions.json")


def check_questions(record: Path, tasks, heldout: dict[str, str], table: Path, scored: bool) -> dict:
    """Rows already in a results table are kept by (run, step, task): refuse them when a task's
    questions (another ``--limit``, ``--seed`` or task file) or a held-out text changed since
    they were scored, rather than mix two question sets in one table.  ``record``: the
    fingerprints of what ``table`` was scored on (ignored when ``scored`` is false: no rows);
    returns the record to keep once this run's rows are written."""
    import hashlib
    import json

    def digest(obj) -> str:
        return hashlib.sha256(repr(obj).encode()).hexdigest()[:16]

    now = {**{f"heldout:{k}": digest(v) for k, v in heldout.items()},
           **{t.name: digest((t.prefix, t.prefixes, t.items, t.primary)) for t in tasks}}
    had = json.loads(record.read_text()) if scored and record.exists() else {}
    for name, fp in now.items():
        if had.get(name, fp) != fp:
            what = f"held-out text {name[8:]}" if name.startswith("heldout:") else f"questions of {name}"
            raise TaskladderError(f"{table}: scored on other {what} (another --limit, --seed, task file or "
                                  "corpus); score into a new file or folder, or delete it to score again")
    return {**had, **now}


def evaluate_to_table(cks: list[dict], tasks, out: Path, text: str | None = None, device: str = "cpu",
                      dtype: str = "float32", heldout_name: str = "c4_en", overlong: str = "error",
                      set_total=None, advance=None, on_checkpoint=None, convention: str = "olmo") -> None:
    """Score checkpoints into the results table ``out``, resumably, sharded under torchrun.

    Rows already in ``out`` are skipped (an ``out`` scored under another metric
    convention is refused); each checkpoint's rows are written atomically
    as soon as it is done.  Under torchrun each process scores every world-th
    checkpoint into its own hidden shard file and rank 0 merges the shards into ``out``.
    Callbacks: ``set_total(n_scores, rank)``, ``advance()``, ``on_checkpoint(ck, rows, rank)``.
    """
    import pandas as pd

    from . import io
    from .results import in_step_order, read_results

    out = Path(out)
    # before any model is loaded: a bad option found after an hour of scoring costs the hour
    if out.suffix not in (".parquet", ".csv"):
        raise TaskladderError(f"{out}: a results table is written as .parquet or .csv, "
                              f"not {repr(out.suffix) if out.suffix else 'a name without a suffix'}")
    if dtype not in DTYPES:
        raise TaskladderError(f"unknown dtype {dtype!r}; choose {', '.join(DTYPES)}")
    with distributed_context() as (rank, world):
        existing = read_results([out]) if out.exists() else None
        if existing is not None:
            had = existing.attrs.get("convention")
            if had is None:
                raise TaskladderError(f"{out}: records no metric convention (written before taskladder recorded "
                                      "them); evaluate into a new file")
            if had != convention:
                raise TaskladderError(f"{out}: scored under the {had!r} metric convention; evaluating with "
                                      f"--convention {convention} would mix two scales in one table")
            existing = existing.assign(convention=convention)
        record = questions_record(out)
        prints = check_questions(record, tasks, {heldout_name: text} if text is not None else {}, out,
                                 existing is not None)
        recorded = False  # the record goes down once, before the first rows it describes
        done = done_keys(existing, heldout_name)
        mine = cks[rank::world]
        shard_path = out if world == 1 else out.with_name(f".{out.stem}.rank{rank}{out.suffix}")
        shard = None
        if set_total is not None:
            set_total(len(mine) * len(tasks), rank)
        for ck, rows in evaluate_checkpoints(mine, tasks, text, device, dtype, done, advance, heldout_name, overlong,
                                             convention):
            if rows:
                new = pd.DataFrame(rows)
                if world == 1:
                    # an earlier checkpoint scored after a later one goes before it in the table
                    existing = new if existing is None else in_step_order(pd.concat([existing, new], ignore_index=True))
                    if not recorded:
                        io.write_bytes_atomic(record, io.dumps(prints).encode())
                        recorded = True
                    io.write_table(out, existing)
                else:
                    shard = new if shard is None else pd.concat([shard, new], ignore_index=True)
                    io.write_table(shard_path, shard)
            if on_checkpoint is not None:
                on_checkpoint(ck, rows, rank)
        if world > 1:
            import torch.distributed as dist

            dist.barrier()
            if rank == 0:
                parts = [existing] if existing is not None else []
                shards = [out.with_name(f".{out.stem}.rank{r}{out.suffix}") for r in range(world)]
                parts += [read_results([p]).assign(convention=convention) for p in shards if p.exists()]
                if parts:
                    merged = pd.concat(parts, ignore_index=True).sort_values(["run", "step", "task", "metric"])
                    io.write_bytes_atomic(record, io.dumps(prints).encode())
                    io.write_table(out, merged.reset_index(drop=True))
                for p in shards:
                    p.unlink(missing_ok=True)
            dist.barrier()
