"""A task's requests tokenized for scoring, and kept for the next checkpoint.

Each context (few-shot prefix + question) is tokenized whole, and each choice as the reference
harnesses cut it: tok(context + choice) minus tok(context).  This is the same work for every
checkpoint of a run, and it is not small: 5-shot HellaSwag (10,042 questions, 4 choices, ~440
tokens a context) took ~41 s on this project's CPU and the paper's 8 tasks ~115 s, for every
checkpoint again (docs/evaluate.md, "Many checkpoints of one run").  So the requests are kept in
this process by the tokenizer's content, the window and the texts (:func:`requests`), and the
model's scorer (:class:`evaluation.Scorer`) only runs them.  Needs no torch.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .errors import TaskladderError

#: Requests tokenized in this process, by tokenizer (content), window and text, least recently
#: used first: a ladder's checkpoints share their tokenizer.
KEPT: OrderedDict = OrderedDict()
#: Tokens :data:`KEPT` holds at most (int32: 128 MB): the paper's 8 OLMES tasks hold ~6.9M,
#: all 20 bundled (BoolQ, Winogrande, the MC formats) ~13.5M.
KEEP_TOKENS = 32_000_000


def encode(tokenizer, text: str) -> list[int]:
    return list(tokenizer(text, add_special_tokens=False)["input_ids"]) if text else []


def _fast_backend(tokenizer):
    """A fast tokenizer's Rust backend (the ``tokenizers`` object it runs), or None for a slow one."""
    return getattr(tokenizer, "backend_tokenizer", None) if getattr(tokenizer, "is_fast", False) else None


def encode_many(tokenizer, texts: Sequence[str]) -> list[list[int]]:
    """:func:`encode` of each text, in one call (a fast tokenizer's batch path: ~10x fewer
    Python round trips, which dominated scoring small models)."""
    idx = [i for i, t in enumerate(texts) if t]
    out: list[list[int]] = [[] for _ in texts]
    if idx:
        batch = [texts[i] for i in idx]
        backend = _fast_backend(tokenizer)
        if backend is not None:  # what a fast tokenizer's __call__ runs, without building its BatchEncoding
            ids = [e.ids for e in backend.encode_batch(batch, add_special_tokens=False)]
        else:
            ids = tokenizer(batch, add_special_tokens=False)["input_ids"]
        for i, v in zip(idx, ids):
            out[i] = list(v)
    return out


def choice_tokens(tokenizer, context: str, choice: str, ctx_ids: list[int], whole: list[int] | None = None) -> list[int]:
    """Choice tokens as the standard harnesses cut them: tok(context + choice) minus tok(context).

    Falls back to encoding the choice alone when the joint tokenization does not
    start with the context's tokens (a merge across the boundary).  ``whole``: the
    joint tokenization when already computed.
    """
    if whole is None:
        whole = encode(tokenizer, context + choice)
    if whole[: len(ctx_ids)] == ctx_ids and len(whole) > len(ctx_ids):
        return whole[len(ctx_ids):]
    return encode(tokenizer, choice)


@dataclass(frozen=True)
class Requests:
    """A group of questions tokenized for scoring (:func:`requests`): the tokens every
    context shares, then per question its context's remaining tokens and each choice's tokens,
    stored as flat int32 arrays (5-shot MMLU holds ~2.3M tokens: Python lists of them would take
    ~80 MB)."""

    shared: list
    """The tokens every context starts with (run once)."""
    rests: np.ndarray
    rest_at: np.ndarray
    """Question i's remaining context tokens: ``rests[rest_at[i]:rest_at[i + 1]]``."""
    choice_tokens: np.ndarray
    choice_at: np.ndarray
    """Choice j's tokens (choices numbered over all questions): ``choice_tokens[choice_at[j]:choice_at[j + 1]]``."""
    first_choice: np.ndarray
    """Question i's choices: ``first_choice[i]`` to ``first_choice[i + 1]``."""
    long: dict
    """Question -> its whole context, left-truncated to fit the window (scored one pass per choice)."""

    @classmethod
    def of(cls, shared: list, rests: list, choices: list, long: dict) -> Requests:
        flat = [c for cl in choices for c in cl]

        def packed(parts):
            at = np.zeros(len(parts) + 1, dtype=np.int64)
            np.cumsum([len(p) for p in parts], out=at[1:])
            return np.fromiter((t for p in parts for t in p), dtype=np.int32, count=int(at[-1])), at

        (rt, ra), (ct, ca) = packed(rests), packed(flat)
        first = np.zeros(len(choices) + 1, dtype=np.int64)
        np.cumsum([len(cl) for cl in choices], out=first[1:])
        return cls(list(shared), rt, ra, ct, ca, first, dict(long))

    @property
    def n(self) -> int:
        return len(self.rest_at) - 1

    @property
    def size(self) -> int:
        """Tokens held (what :data:`KEEP_TOKENS` counts)."""
        return len(self.shared) + len(self.rests) + len(self.choice_tokens) + sum(map(len, self.long.values()))

    def rest(self, i: int) -> list[int]:
        return self.rests[self.rest_at[i]:self.rest_at[i + 1]].tolist()

    def choices(self, i: int) -> list[list[int]]:
        at = self.choice_at
        return [self.choice_tokens[at[j]:at[j + 1]].tolist() for j in range(self.first_choice[i], self.first_choice[i + 1])]


def tokenizer_key(tokenizer) -> str | None:
    """A fast tokenizer's content, hashed (its backend serialised: vocabulary, merges, normalizer,
    pre-tokenizer, added tokens), once per tokenizer object; None for a slow tokenizer, whose
    requests are then tokenized afresh every time."""
    backend = _fast_backend(tokenizer)
    if backend is None:
        return None
    key = getattr(tokenizer, "_taskladder_key", None)
    if key is None:
        key = hashlib.sha256(backend.to_str().encode()).hexdigest()
        try:
            tokenizer._taskladder_key = key
        except AttributeError:  # an object that takes no attributes: hashed again next time
            pass
    return key


def requests(tokenizer, prefix: str, questions: Sequence[str], choices: Sequence[Sequence[str]],
             max_length: int, overlong: str = "error") -> Requests:
    """The requests' tokens, from :data:`KEPT` when the same questions were tokenized by the same
    tokenizer (by content: every checkpoint of a run loads its own copy) for the same window.
    A context too long for ``max_length`` is refused (``overlong="error"``) or keeps its end
    (``"truncate"``, as the harnesses do)."""
    tok_key = tokenizer_key(tokenizer)
    key = None if tok_key is None else (tok_key, max_length, overlong, prefix, tuple(questions),
                                        tuple(tuple(c) for c in choices))
    hit = KEPT.get(key) if key is not None else None
    if hit is not None:
        KEPT.move_to_end(key)
        return hit
    ctxs = encode_many(tokenizer, [prefix + q for q in questions])
    if any(len(c) == 0 for c in ctxs):
        raise TaskladderError("an item needs a prefix or a question to condition on")
    shared = ctxs[0]
    for c in ctxs[1:]:
        k = 0
        while k < min(len(shared), len(c)) and shared[k] == c[k]:
            k += 1
        shared = shared[:k]
    if len(shared) == min(len(c) for c in ctxs):
        shared = shared[:-1]  # every question keeps at least one token of its own
    S = len(shared)
    all_c, long = [], {}
    wholes = iter(encode_many(tokenizer, [prefix + q + c for q, chs in zip(questions, choices) for c in chs]))
    for i, (q, ctx, chs) in enumerate(zip(questions, ctxs, choices)):
        c_ids = [choice_tokens(tokenizer, prefix + q, c, ctx, next(wholes)) for c in chs]
        if any(len(c) == 0 for c in c_ids):
            raise TaskladderError(f"a choice of question {q[:40]!r} encodes to no tokens")
        longest = max(len(c) for c in c_ids)
        total = len(ctx) + longest
        if total > max_length:
            if longest >= max_length:
                raise TaskladderError(
                    f"a choice of {longest} tokens does not fit the model's window of {max_length} "
                    f"with any context (question {q[:40]!r}); use a model with a longer window")
            if overlong == "error":
                raise TaskladderError(
                    f"context of {total} tokens exceeds the model's window of {max_length} "
                    f"(question {q[:40]!r}); shorten the prefix, use a model with a longer window, "
                    "or truncate (--overlong truncate)")
            long[i] = ctx[total - max_length:]  # keep the context's end, as the harnesses do
        all_c.append(c_ids)
    req = Requests.of(shared, [c[S:] for c in ctxs], all_c, long)
    if key is not None:
        KEPT[key] = req
        while sum(r.size for r in KEPT.values()) > KEEP_TOKENS and len(KEPT) > 1:
            KEPT.popitem(last=False)
    return req
