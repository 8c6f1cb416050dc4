"""Task registry: the multiple-choice tasks of the paper and how they appear in eval logs.

Paper Table 3 (Bhagia et al., 2024) lists the 8 tasks with their splits; BoolQ and
Winogrande are in the bundled logs too but the paper excludes them because their
accuracy does not scale monotonically.  Chance accuracies follow the number of
choices (MMLU/ARC/OpenBookQA/HellaSwag 4, PIQA 2, CommonsenseQA 5, Social IQa 3).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from .errors import TaskladderError

# Names of the metrics in the tidy results table (column ``metric``).
BPB = "bpb"  #: task loss: bits-per-byte of the gold continuation (paper section 2.2)
ACC = "acc"  #: ranked-classification accuracy with the task's OLMES primary normalisation
TASKCE = "taskce"  #: cross-entropy over the choices, -log p(gold) with choice losses as logits (eq. 7)
MC_ACC = "mc_acc"  #: multiple-choice-format accuracy (letters), targets only in the bundled data
LM_LOSS = "lm_loss"  #: language-modelling cross-entropy on a held-out set; task = the set's name
METRICS = (BPB, ACC, TASKCE, MC_ACC, LM_LOSS)

#: The held-out set the paper calls "C4 loss" (section 6.3).
C4 = "c4_en"


@dataclass(frozen=True)
class Task:
    """One multiple-choice task as the paper evaluates it (5-shot OLMES)."""

    name: str
    """Registry key, used in the results table and on the command line."""
    display: str
    """Name as printed in the paper's tables."""
    split: str
    """Split evaluated in the paper (Table 3): ``"val"`` or ``"test"``."""
    chance: float
    """Accuracy of random guessing; the sigmoid's lower asymptote starts here."""
    components: tuple[tuple[str, float], ...]
    """OLMo eval-log keys and weights; a weighted mean when there are several (MMLU)."""
    rc_norm: str = "len_norm"
    """OLMES primary RC normalisation of the logged accuracy (``len_norm`` or ``acc``)."""
    mc_norm: str = "acc"
    """Normalisation of the logged MC-format accuracy."""
    in_paper: bool = True
    """Whether the paper's main results (Figure 2) include the task."""


# MMLU is the question-count-weighted mean of its four categories, weights from the
# paper's data card (stem 0.215, humanities 0.335, social sciences 0.219, other 0.231).
MMLU_WEIGHTS = {"stem": 0.215, "humanities": 0.335, "social_sciences": 0.219, "other": 0.231}

_TASKS = [
    Task("mmlu", "MMLU", "test", 0.25,
         tuple((f"mmlu_{c}_test", w) for c, w in MMLU_WEIGHTS.items()), mc_norm="len_norm"),
    Task("hellaswag", "HellaSwag", "val", 0.25, (("hellaswag_val", 1.0),)),
    Task("arc_challenge", "ARC-Challenge", "test", 0.25, (("arc_challenge_test", 1.0),)),
    Task("arc_easy", "ARC-Easy", "test", 0.25, (("arc_easy_test", 1.0),)),
    Task("piqa", "PIQA", "val", 0.5, (("piqa_val", 1.0),)),
    Task("csqa", "CommonsenseQA", "val", 0.2, (("csqa_val", 1.0),)),
    Task("socialiqa", "Social IQa", "val", 1 / 3, (("socialiqa_val", 1.0),)),
    Task("openbookqa", "OpenBookQA", "test", 0.25, (("openbookqa_test", 1.0),)),
    Task("boolq", "BoolQ", "val", 0.5, (("boolq_val", 1.0),), rc_norm="acc", in_paper=False),
    Task("winogrande", "Winogrande", "val", 0.5, (("winogrande_val", 1.0),), in_paper=False),
    # cloze tasks built from held-out text for micro ladders (taskladder.cloze): 4 choices
    # of one length, so the per-character accuracy is the raw one; never in OLMo's logs
    Task("cloze_spelling", "Cloze: scrambled", "held-out text", 0.25, (), in_paper=False),
    Task("cloze_swap", "Cloze: swapped letters", "held-out text", 0.25, (), in_paper=False),
    Task("cloze_vowel", "Cloze: changed vowel", "held-out text", 0.25, (), in_paper=False),
    Task("cloze_consonant", "Cloze: changed consonant", "held-out text", 0.25, (), in_paper=False),
    Task("cloze_neighbor", "Cloze: word one letter away", "held-out text", 0.25, (), in_paper=False),
    Task("cloze_word", "Cloze: other word", "held-out text", 0.25, (), in_paper=False),
]

REGISTRY: dict[str, Task] = {t.name: t for t in _TASKS}
#: The paper's 8 tasks, in the order of its Figure 2.
PAPER_TASKS: tuple[str, ...] = tuple(t.name for t in _TASKS if t.in_paper)
#: Every task of OLMo's logs (the bundled ladder's); the cloze tasks are not among them.
ALL_TASKS: tuple[str, ...] = tuple(t.name for t in _TASKS if t.components)


#: ``--task all``: every task the ladder has accuracy for, known once the ladder is read.
EVERY = "all"

#: Other tools' names of the registry's tasks (lm-eval's, lighteval's): the readers and
#: :func:`registry_name` map them to the registry's key.
ALIASES = {"social_iqa": "socialiqa", "siqa": "socialiqa", "commonsense_qa": "csqa", "arc:challenge": "arc_challenge",
           "arc:easy": "arc_easy"}


def _key(name: str) -> str:
    # 'ARC-Challenge', 'arc_challenge', 'arc:challenge' and 'Arc Challenge' are one name
    return re.sub(r"[^a-z0-9]", "", name.lower())


_BY_KEY = {_key(k): t.name for t in _TASKS for k in (t.name, t.display)} | {_key(k): v for k, v in ALIASES.items()}


def registry_name(name: str) -> str | None:
    """The registry's key for a task written as the tables print it (``ARC-Challenge``,
    ``Social IQa``), in another case, or as another tool names it (``commonsense_qa``,
    ``arc:challenge``); None for a task outside the registry."""
    return name if name in REGISTRY else _BY_KEY.get(_key(name))


def resolve(name: str, have: Iterable[str]) -> str:
    """A task named on the command line as the ladder ``have`` holds it: the name itself, else
    the registry task it stands for, else the one task of the ladder's own written the same way
    up to case and punctuation; else the name (the ladder then refuses it, listing its tasks)."""
    have = set(have)
    if name in have:
        return name
    reg = registry_name(name)
    if reg in have:
        return reg
    same = [t for t in have if _key(t) == _key(name)]
    return same[0] if len(same) == 1 else name


def parse_names(names: Iterable[str] | str | None) -> list[str] | None:
    """The tasks ``--task`` names: comma lists split, ``paper`` expanded to the paper's eight,
    ``all`` kept as :data:`EVERY` for :func:`choose_tasks`; None when none is named.  Any other
    name goes: a ladder may hold tasks outside the registry, and the ladder, once read, refuses
    one it lacks in a line that lists those it has."""
    if names is None:
        return None
    out: list[str] = []
    for n in [names] if isinstance(names, str) else names:
        if not isinstance(n, str):  # from Python: tasks=["mmlu", 3]
            raise TaskladderError(f"tasks: names (strings), got {n!r} in {names!r}")
        for part in n.split(","):
            part = part.strip()
            for t in PAPER_TASKS if part == "paper" else [part] if part else []:
                if t not in out:  # named twice (or also in 'paper'): once
                    out.append(t)
    if names and not out:
        raise TaskladderError(f"--task: no task named in {names!r}; give task names, 'paper' or 'all'")
    return out or None


def choose_tasks(named: Sequence[str] | None, with_accuracy: Iterable[str]) -> list[str]:
    """The tasks a command runs: those named (:func:`parse_names`), with ``all`` standing for
    every task the ladder has accuracy for (the registry's in its order, then the ladder's own,
    sorted: on the bundled ladder the ten of OLMo's logs); none named, :func:`default_tasks`."""
    have = list(with_accuracy)
    if not named:
        return default_tasks(have)
    every = [t for t in REGISTRY if t in set(have)] + sorted(set(have) - set(REGISTRY))
    out: list[str] = []
    for t in named:
        for u in every if t == EVERY else [resolve(t, have)]:
            if u not in out:
                out.append(u)
    if not out:
        raise TaskladderError("the ladder has accuracy ('acc') for no task")
    return out


def default_tasks(with_accuracy: Iterable[str]) -> list[str]:
    """The tasks a command runs when none is named, given those a ladder has accuracy for: the
    paper's eight that it has (all of them on the bundled ladder), else every registry task it
    has, else every task it has (a ladder of the user's own tasks, read from lm-eval say).  A
    ladder evaluated on two tasks is predicted on those two, not refused for the six it lacks."""
    have = set(with_accuracy)
    out = [t for t in PAPER_TASKS if t in have] or [t for t in REGISTRY if t in have] or sorted(have)
    if not out:
        raise TaskladderError("the ladder has accuracy ('acc') for no task")
    return out


def chance(task: str) -> float:
    """Chance accuracy of a registry task, 0.0 for tasks outside the registry (where a ladder
    is at hand, :meth:`chain.Ladder.chance` estimates theirs from it)."""
    t = REGISTRY.get(task)
    return t.chance if t else 0.0


#: OLMo's W&B column of each metric: ``{key}`` a task component, ``{rc}`` / ``{mc}`` its RC /
#: MC normalisation (see the bundled data card).
OLMO_COLUMNS = {
    BPB: "eval/downstream_bpb/{key}_rc_5shot_bpb",
    ACC: "eval/downstream/{key}_rc_5shot_{rc}",
    TASKCE: "eval/downstream_soft_log/{key}_rc_5shot_soft_log",
    MC_ACC: "eval/downstream/{key}_mc_5shot_{mc}",
}


def wide_columns(task: Task, metric: str, names: dict[str, str] = OLMO_COLUMNS,
                 norms: dict[str, str] | None = None) -> list[tuple[str, float]]:
    """Wide-export columns holding ``metric`` for ``task``, with the components' weights.

    ``names`` maps a metric to its column template (OLMo's by default; OLMo-core's in
    :mod:`taskladder.ingest.olmo_core`), ``norms`` renames the normalisations in it.
    TaskCE is logged as log p(gold) (``soft_log``); the readers negate it.
    """
    if metric not in names:
        raise ValueError(f"no wide column for metric {metric!r}")
    norms = norms or {}
    rc, mc = norms.get(task.rc_norm, task.rc_norm), norms.get(task.mc_norm, task.mc_norm)
    return [(names[metric].format(key=key, rc=rc, mc=mc), w) for key, w in task.components]
