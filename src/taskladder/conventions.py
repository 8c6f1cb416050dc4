"""Metric conventions: how each evaluation tool turns per-choice log-likelihoods into metrics.

Every tool scores a multiple-choice question the same way (the summed log-probability
of each choice's tokens given the context) but normalises lengths differently, and
the difference is not small: the answer's leading space is 1 of ~5-30 bytes, so
per-question byte counts differ by 0.89-0.99x and bits-per-byte shifts with them.
A ladder must be measured under one convention, the one its targets are judged by.

===========  ============================================================  =========================
convention   where it comes from                                           lengths of a continuation
===========  ============================================================  =========================
``olmo``     OLMo's in-loop evaluator (``olmo/eval/downstream.py``), the   first character dropped
             evaluator of the bundled ladder; ai2-olmo-eval's ``*_v1``      (``len(c) - 1``,
             metrics                                                       ``c[1:]`` bytes) for
                                                                           per-char accuracy, BPB and
                                                                           soft log loss
``olmo_core`` OLMo-core 3.0 in-loop evals (ai2-olmo-eval 0.9 ``ICLMetric``): BPB and log soft loss as
             logged names ``(BPB)``, ``(length-normalized accuracy)``,     ``olmo``; the accuracy's
             ``(log soft loss)``                                           per-char length counts
                                                                           the whole continuation
``olmes``    OLMES / oe-eval (``acc_per_char``, ``bits_per_byte``)         whole continuation
``lm_eval``  lm-evaluation-harness (``acc_norm``, ``acc_bytes``)           the choice without the
                                                                           task's target delimiter
``lighteval`` lighteval 0.13 (``LogProbCharNorm``; its choices carry their  whole continuation
             leading space)
===========  ============================================================  =========================

``taskladder evaluate`` follows ``olmo`` by default, so its numbers sit on the bundled
ladder's scale; ``--convention`` picks another.  TaskCE (paper eq. 7) is the negated
log-softmax over choices of the task's primary score (per-char normalised for
``len_norm`` tasks), as OLMo logs ``soft_log``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .errors import TaskladderError


@dataclass(frozen=True)
class Convention:
    """How one tool counts a continuation's length for each length-normalised metric."""

    name: str
    """Key stored in results tables (column ``convention``) and given to ``--convention``."""
    source: str
    """The tool and version whose code defines it."""
    acc: str
    """Part of the continuation the per-char accuracy counts: ``"all"``, ``"drop_first"``
    (every character but the first, OLMo's "leading blank") or ``"drop_delimiter"``."""
    bpb: str
    """Part counted in bytes for bits-per-byte (same choices)."""
    taskce: str
    """Part counted for the per-char score inside TaskCE's softmax."""

    def __post_init__(self):
        for f in ("acc", "bpb", "taskce"):
            if getattr(self, f) not in _PARTS:
                raise ValueError(f"convention {self.name!r}: {f} must be one of {', '.join(_PARTS)}")


_PARTS = ("all", "drop_first", "drop_delimiter")

CONVENTIONS: dict[str, Convention] = {c.name: c for c in (
    Convention("olmo", "OLMo in-loop evaluator (olmo/eval/downstream.py; ai2-olmo-eval *_v1)",
               "drop_first", "drop_first", "drop_first"),
    Convention("olmo_core", "OLMo-core 3.0 in-loop evals (ai2-olmo-eval 0.9 ICLMetric)",
               "all", "drop_first", "drop_first"),
    Convention("olmes", "OLMES / oe-eval", "all", "all", "all"),
    Convention("lm_eval", "lm-evaluation-harness 0.4", "drop_delimiter", "drop_delimiter", "drop_delimiter"),
    Convention("lighteval", "lighteval 0.13 (LogProbCharNorm, ignore_first_space=False)", "all", "all", "all"),
)}


def get(name: str) -> Convention:
    try:
        return CONVENTIONS[name]
    except KeyError:
        raise TaskladderError(f"unknown metric convention {name!r}; choose from {', '.join(CONVENTIONS)}") from None


def counted(text: str, part: str, delimiter: str = " ") -> str:
    """The part of a continuation a length counts (see :class:`Convention`)."""
    if part == "drop_first":
        return text[1:]
    if part == "drop_delimiter" and delimiter and text.startswith(delimiter):
        return text[len(delimiter):]
    return text


def _chars(texts, part, delimiter):
    # a length of 0 (a one-character answer under "drop_first") would divide by zero:
    # OLMo's own code divides by it too; counting it as 1 keeps the score finite
    return np.array([max(len(counted(t, part, delimiter)), 1) for t in texts], float)


def _bytes(texts, part, delimiter):
    return np.array([max(len(counted(t, part, delimiter).encode("utf-8")), 1) for t in texts], float)


def question_metrics(ll: np.ndarray, ntok: np.ndarray, continuations: Sequence[str], gold: int, primary: str,
                     convention: Convention, delimiter: str = " ", ll_uncond: np.ndarray | None = None) -> dict:
    """One question's hits under every normalisation, its task loss (bits/byte) and TaskCE.

    ``ll``: summed log-probabilities (nats) of each continuation given the context;
    ``ntok``: their token counts; ``continuations``: the scored texts (leading space or
    delimiter included, as the model saw them).
    """
    ll = np.asarray(ll, float)
    scores = {"acc_raw": ll, "acc_per_token": ll / np.asarray(ntok, float),
              "acc_per_char": ll / _chars(continuations, convention.acc, delimiter)}
    if ll_uncond is not None:
        scores["acc_uncond"] = ll - np.asarray(ll_uncond, float)
    out = {name: float(np.argmax(s) == gold) for name, s in scores.items()}
    nbyte = _bytes(continuations, convention.bpb, delimiter)
    out["bpb"] = float(-ll[gold] / (nbyte[gold] * math.log(2)))
    if primary == "acc_per_char":
        z = ll / _chars(continuations, convention.taskce, delimiter)
    else:
        z = scores.get(primary, ll)
    out["taskce"] = float(-(z[gold] - np.logaddexp.reduce(z)))
    return out


def mean_metrics(per_question: Sequence[dict], primary: str) -> dict[str, float]:
    """Task-level metrics: means over questions; ``acc`` is the task's primary accuracy."""
    if not per_question:
        raise TaskladderError("a task with no questions has no metrics")
    keys = [k for k in per_question[0] if all(k in q for q in per_question)]
    out = {k: float(np.mean([q[k] for q in per_question])) for k in keys}
    out["acc"] = out[primary]
    return out
