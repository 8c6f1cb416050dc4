"""Cloze tasks from held-out text: multiple-choice questions micro models can learn.

OLMES questions (science, common sense) sit at chance for models of 10k-200k
parameters, so a micro ladder cannot exercise step 2.  These tasks ask the thing a
small language model does learn, in graded steps, from text it never trained on:
which word comes next.  Every question is a context (the text before a word, cut at
a word boundary) and four one-word continuations, the true one and three
distractors:

* ``cloze_spelling``: the word against three scrambles of its letters (same letters,
  same length).  Knowing which letter sequences are English is enough.
* ``cloze_swap``: against three copies with two adjacent letters swapped: needs the
  word's letter order, not only which letters go together.
* ``cloze_vowel``: against three copies with one vowel changed: needs the word itself.
* ``cloze_neighbor``: against three real words one letter away (``here``: ``were``,
  ``herb``, ``hare``), drawn by frequency from the corpus's words: needs which word
  the context calls for, between spelling and meaning.
* ``cloze_word``: against three other words of the same length and case, drawn from
  the text by frequency.  Needs which words fit the words before: beyond models of
  under 100k parameters (they stay within a few points of chance).

Measured on Tiny Shakespeare (byte-level OLMo 2 models, 1000 questions each): an 8k
model trained on 1x Chinchilla tokens scores 66 / 63 / 34 / 22%, a 42k model on 5x
96 / 93 / 83 / 52%, an 87k model on 5x 98 / 97 / 89 / 54% (spelling / swap / vowel /
neighbor): graded, and climbing from chance (docs/training.md).

Choices of one question have the same length, so the raw and length-normalised
accuracies agree; chance is 1/4.  Tasks are built deterministically from (text,
seed) and written in the task-file format of :func:`taskladder.evaluation.load_task`.
"""

from __future__ import annotations

import re
import zlib
from collections import Counter

import numpy as np

from .errors import TaskladderError
from .evaluation import MCItem, MCTask

#: Task name -> what its distractors are.
KINDS: dict[str, str] = {
    "cloze_spelling": "the next word against three scrambles of its letters",
    "cloze_swap": "the next word against three copies with two adjacent letters swapped",
    "cloze_vowel": "the next word against three copies with one vowel changed",
    "cloze_consonant": "the next word against three copies with one consonant changed",
    "cloze_neighbor": "the next word against three real words one letter away, by frequency",
    "cloze_word": "the next word against three words of its length and case from the text, by frequency",
}
CHOICES = 4
_WORD = re.compile(r"[A-Za-z]+")


def _words(text: str) -> list[tuple[int, str]]:
    return [(m.start(), m.group()) for m in _WORD.finditer(text)]


def _context(text: str, pos: int, context_chars: int) -> str:
    """The text before ``pos`` (which follows a space), at most ``context_chars`` long and
    starting after whitespace, so no word is cut."""
    start = max(0, pos - 1 - context_chars)
    ctx = text[start:pos - 1]
    if start > 0:
        cut = re.search(r"\s", ctx)
        ctx = ctx[cut.end():] if cut else ctx
    return ctx


def _scrambles(word: str, rng: np.random.Generator) -> list[str] | None:
    letters = list(word)
    seen = {word}
    out = []
    for _ in range(50):
        s = "".join(rng.permutation(letters))
        if s not in seen:
            seen.add(s)
            out.append(s)
            if len(out) == CHOICES - 1:
                return out
    return None


def _swaps(word: str, rng: np.random.Generator) -> list[str] | None:
    """Three different words made by swapping two adjacent, different letters."""
    out = {word[:i] + word[i + 1] + word[i] + word[i + 2:] for i in range(len(word) - 1) if word[i] != word[i + 1]}
    out.discard(word)
    if len(out) < CHOICES - 1:
        return None
    return [str(w) for w in rng.choice(sorted(out), CHOICES - 1, replace=False)]


_VOWELS = "aeiou"


def _changes(word: str, letters: str, rng: np.random.Generator) -> list[str] | None:
    """Three different words made by changing one of ``letters`` in ``word`` into another of them."""
    out = {word[:i] + v + word[i + 1:] for i, ch in enumerate(word) if ch in letters for v in letters if v != ch}
    if len(out) < CHOICES - 1:
        return None
    return [str(w) for w in rng.choice(sorted(out), CHOICES - 1, replace=False)]


_CONSONANTS = "bcdfghjklmnpqrstvwxyz"


def _draw(pool: list[str], weights: np.ndarray, keep: list[int], rng: np.random.Generator) -> list[str] | None:
    """Three distinct words ``pool[i]``, ``i`` in ``keep``, drawn by ``weights``."""
    if len(keep) < CHOICES - 1:
        return None
    p = weights[keep] / weights[keep].sum()
    return [pool[i] for i in rng.choice(keep, CHOICES - 1, replace=False, p=p)]


def _blanked(w: str) -> list[str]:
    """``w`` with each letter in turn replaced by a blank: two words of one length are one letter
    apart exactly when they share one of these (and differ), so an index of them finds a word's
    neighbours without comparing it with every word of its length."""
    return [w[:i] + "\0" + w[i + 1:] for i in range(len(w))]


def build(text: str, kind: str, n_items: int, context_chars: int = 48, seed: int = 0, min_len: int = 4,
          max_len: int = 8, vocabulary: str | None = None) -> MCTask:
    """A cloze task of ``kind`` with up to ``n_items`` questions from ``text``.

    Questions are words of ``min_len``-``max_len`` lowercase letters preceded by a space,
    chosen at random (``seed``) among all such positions in ``text``; fewer when ``text``
    has fewer.  Contexts are short (48 characters by default): spelling needs little
    context, and scoring cost grows with it.  ``vocabulary`` (default ``text``): the text
    whose words and frequencies supply ``cloze_word`` and ``cloze_neighbor`` distractors;
    the training text serves, since only distractors come from it.
    """
    if kind not in KINDS:
        raise TaskladderError(f"unknown cloze task {kind!r}; choose from {', '.join(KINDS)}")
    # seeded by the kind's name: a task's questions do not change when kinds are added
    rng = np.random.default_rng([seed, zlib.crc32(kind.encode())])
    words = _words(text)
    cands = [(p, w) for p, w in words
             if p > 0 and text[p - 1] == " " and w.islower() and min_len <= len(w) <= max_len
             and p - 1 >= context_chars // 2]
    if kind in ("cloze_word", "cloze_neighbor"):
        vocab_words = words if vocabulary is None else _words(vocabulary)
        freq = Counter(w for _, w in vocab_words if w.islower())
        by_len: dict[int, tuple[list[str], np.ndarray]] = {}
        for w, c in freq.items():
            by_len.setdefault(len(w), ([], []))
            by_len[len(w)][0].append(w)
            by_len[len(w)][1].append(c)
        by_len = {n: (ws, np.array(cs, float)) for n, (ws, cs) in by_len.items()}
        blanks: dict[str, list[int]] = {}  # a blanked word -> the indices in its length's pool of the words it fits
        if kind == "cloze_neighbor":
            for ws, _ in (by_len.get(n, ((), None)) for n in range(min_len, max_len + 1)):  # the lengths asked
                for j, v in enumerate(ws):
                    for b in _blanked(v):
                        blanks.setdefault(b, []).append(j)
    items: list[MCItem] = []
    for i in rng.permutation(len(cands)):
        if len(items) == n_items:
            break
        p, w = cands[i]
        if kind == "cloze_spelling":
            others = _scrambles(w, rng)
        elif kind == "cloze_swap":
            others = _swaps(w, rng)
        elif kind == "cloze_vowel":
            others = _changes(w, _VOWELS, rng)
        elif kind == "cloze_consonant":
            others = _changes(w, _CONSONANTS, rng)
        else:  # real words of w's length: one letter apart (neighbor) or any other (word)
            pool, wts = by_len.get(len(w), ([], np.zeros(0)))
            if kind == "cloze_neighbor":  # in the pool's order, as the draw's weights are
                keep = sorted(j for b in _blanked(w) for j in blanks.get(b, ()) if pool[j] != w)
            else:
                keep = [j for j, v in enumerate(pool) if v != w]
            others = _draw(pool, wts, keep, rng)
        if others is None:
            continue
        gold = int(rng.integers(CHOICES))
        choices = [" " + o for o in others]
        choices.insert(gold, " " + w)
        items.append(MCItem(_context(text, p, context_chars), tuple(choices), gold, id=f"{kind}-{p}"))
    if not items:
        raise TaskladderError(f"{kind}: the text has no word to build a question from")
    items.sort(key=lambda it: int(it.id.rsplit("-", 1)[1]))
    return MCTask(kind, "", tuple(items), primary="acc_per_char",
                  meta={"source": "taskladder.cloze", "kind": KINDS[kind], "seed": seed, "shots": 0,
                        "context_chars": context_chars, "chance": 1 / CHOICES}, uncond=False)


def to_json(task: MCTask) -> dict:
    """The task in the task-file format :func:`taskladder.evaluation.load_task` reads."""
    return {"name": task.name, "prefix": task.prefix, "primary": task.primary, "meta": task.meta,
            "uncond": task.uncond,
            "items": [{"id": it.id, "question": it.question, "choices": list(it.choices), "gold": it.gold}
                      for it in task.items]}
