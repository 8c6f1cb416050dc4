"""Task registry: the multiple-choice tasks of the paper and how they appear in eval logs.

Paper Table 3 (Bhagia et al., 2024) lists the 8 tasks with their splits; BoolQ and
Winogrande are in the bundled logs too but the paper excludes them because their
accuracy does not scale monotonically.  Chance accuracies follow the number of
choices (MMLU/ARC/OpenBookQA/HellaSwag 4, PIQA 2, CommonsenseQA 5, Social IQa 3).
"""

from __future__ import annotations

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
]

REGISTRY: dict[str, Task] = {t.name: t for t in _TASKS}
#: The paper's 8 tasks, in the order of its Figure 2.
PAPER_TASKS: tuple[str, ...] = tuple(t.name for t in _TASKS if t.in_paper)
ALL_TASKS: tuple[str, ...] = tuple(REGISTRY)


def get_task(name: str) -> Task:
    """Look a task up by registry key; unknown names are a user error."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise TaskladderError(
            f"unknown task {name!r}; known tasks: {', '.join(REGISTRY)}"
        ) from None


def chance(task: str) -> float:
    """Chance accuracy of a registry task, 0.0 for tasks outside the registry."""
    t = REGISTRY.get(task)
    return t.chance if t else 0.0


def wide_columns(task: Task, metric: str) -> list[tuple[str, float]]:
    """OLMo / W&B wide-export columns holding ``metric`` for ``task``, with weights.

    Column names follow OLMo's in-loop evaluator (see the bundled data card).  TaskCE
    is logged as ``soft_log`` = log p(gold); the reader negates it.
    """
    cols = []
    for key, w in task.components:
        if metric == BPB:
            col = f"eval/downstream_bpb/{key}_rc_5shot_bpb"
        elif metric == ACC:
            col = f"eval/downstream/{key}_rc_5shot_{task.rc_norm}"
        elif metric == TASKCE:
            col = f"eval/downstream_soft_log/{key}_rc_5shot_soft_log"
        elif metric == MC_ACC:
            col = f"eval/downstream/{key}_mc_5shot_{task.mc_norm}"
        else:
            raise ValueError(f"no wide column for metric {metric!r}")
        cols.append((col, w))
    return cols
