"""How large a target must be to reach an accuracy: the automatic prediction read backwards.

A team asks "what does it take to get MMLU to 60?" as often as "what will a 7B get?".  Along a
family of targets (tokens a fixed multiple of 20 N, a fixed N, or a fixed number of tokens) the
compute C = 6 N D at which the predicted accuracy first reaches the goal is found on a grid over
log C, its bracket refined by evaluating 7 points inside it at a time.  The compute at which the
interval's upper and lower bounds reach the goal brackets it: the targets whose interval holds
the goal, an inverse prediction interval as a calibration curve is read backwards (Eisenhart,
1939; Brown, *Measurement, Regression and Calibration*, 1993).  Each task's curve comes from its
own fitted state, as a prediction's does, so a task's answer does not change with the other tasks
asked for.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from .aggregate import MEAN, mean_rows
from .errors import TaskladderError
from .predictor import TaskState
from .units import ChinchillaMultiple, short_count

__all__ = ["BEYOND", "GRID", "MULTIPLIER_SPAN", "Family", "Reach", "along", "compute_multipliers", "family_of",
           "multiplier_fields", "parse_goals", "reach", "reach_rows"]

#: The search ends at this many times the ladder's largest compute: 1e5 x a 1B-10xC ladder is
#: 2e26 FLOPs, past the largest open models, and far past where any ladder has been checked (the
#: paper's targets are ~100x its ladder).
BEYOND = 1e5
#: Points of the grid over log C before bisection: ~0.35 of ln C apart over the bundled ladder's
#: range, fine enough that a curve crossing the goal twice between two points is not missed in
#: practice (the curves are monotone in C for every law of the chain).
GRID = 48
#: The search stops when the bracket is this narrow in ln C (0.1% of the compute).
TOL = 1e-3
#: Points evaluated inside each bracket per round of the refinement (:func:`_crossings`): each
#: round narrows a bracket 8-fold, so the grid's ~0.35 of ln C takes three rounds to reach TOL,
#: and three rounds make the brackets of nine bisections (the same answers, to rounding).
#: Measured on the bundled ladder (3 goals, one the mean): 0.13 s a search with 3-7 points,
#: 0.16 s with 1 (bisection), 0.17 s with 15, 0.30 s with 31.
SECTIONS = 7
#: A compute multiplier (:func:`compute_multipliers`) is searched between 1 / this and this.
MULTIPLIER_SPAN = 1e3


@dataclass(frozen=True)
class Family:
    """The targets along which compute grows: exactly one of ``n`` and ``tokens``."""

    n: int | None = None
    """A fixed N (non-embedding parameters): the tokens grow with the compute."""
    tokens: int | ChinchillaMultiple | None = None
    """Fixed training tokens, or a multiple of 20 N (``ChinchillaMultiple``: the Chinchilla-optimal
    recipe is 1xC, the OLMo 2 7B-4T target is at 28.6xC): N grows with the compute."""

    def __post_init__(self):
        if (self.n is None) == (self.tokens is None):
            raise TaskladderError("a family of targets fixes one of N (--n) and the tokens (--tokens, e.g. 4T or 5xC)")
        fixed = self.tokens.multiple if isinstance(self.tokens, ChinchillaMultiple) else \
            self.n if self.n is not None else self.tokens
        if not (math.isfinite(float(fixed)) and float(fixed) > 0):
            raise TaskladderError(f"a family of targets needs a positive size or token count, got {fixed!r}")

    @property
    def label(self) -> str:
        if self.n is not None:
            return f"N = {short_count(self.n)}"
        if isinstance(self.tokens, ChinchillaMultiple):
            return f"D = {self.tokens.multiple:g}xC"
        return f"D = {short_count(self.tokens)}"

    def at(self, compute):
        """(N, D) of the family's target of compute C = 6 N D (unrounded: a point of a curve); of
        an array of computes, arrays of N and D."""
        c = np.asarray(compute, float)
        if self.n is not None:
            n, d = np.full_like(c, float(self.n)), c / (6.0 * self.n)
        elif isinstance(self.tokens, ChinchillaMultiple):  # D = 20 m N, so C = 120 m N^2
            n = np.sqrt(c / (120.0 * self.tokens.multiple))
            d = 20.0 * self.tokens.multiple * n
        else:
            n, d = c / (6.0 * self.tokens), np.full_like(c, float(self.tokens))
        return (float(n), float(d)) if c.ndim == 0 else (n, d)

    def below(self, n_min: float, d_min: float) -> bool:
        """Whether every target of the family lies below the ladder: its fixed N or D under the
        smallest rung's (a fixed multiple of 20 N grows past any rung)."""
        if self.n is not None:
            return self.n < n_min
        return not isinstance(self.tokens, ChinchillaMultiple) and self.tokens < d_min

    def start(self, n_min: float, d_min: float) -> float:
        """The least compute at which the family's target is nowhere below the ladder (N and D at
        least its smallest rung's): below it the laws extrapolate downwards, unconstrained."""
        if self.n is not None:
            return 6.0 * self.n * d_min
        if isinstance(self.tokens, ChinchillaMultiple):
            m = self.tokens.multiple
            return 120.0 * m * max(n_min, d_min / (20.0 * m)) ** 2
        return 6.0 * n_min * self.tokens


def family_of(n=None, tokens=None, names: tuple[str, str] = ("--n", "--tokens")) -> Family:
    """The family a command names (``names``: how it calls the two): ``n`` as written (7B) fixes
    N, ``tokens`` (4T, or 5xC) the tokens; neither: Chinchilla-optimal targets, 1xC."""
    from .units import parse_count, parse_tokens

    if n is not None and tokens is not None:
        raise TaskladderError(f"{names[0]} and {names[1]} each fix the targets searched; give one (the other grows)")
    if n is not None:
        return Family(n=parse_count(str(n), names[0]))
    if tokens is None:
        return Family(tokens=ChinchillaMultiple(1.0))
    got = parse_tokens(str(tokens), names[1])
    if isinstance(got, list):
        raise TaskladderError(f"{names[1]}: one value fixes the family of targets, got {len(got)} ({tokens!r})")
    return Family(tokens=got)


@dataclass(frozen=True)
class _Point:
    """A target on the family's curve (what :meth:`TaskState.evaluate` reads of a target)."""

    name: str
    n: float
    d: float


def parse_goals(text: str, tasks: Sequence[str]) -> dict[str, float]:
    """Goals from ``--accuracy``: ``60`` (points) for every task, or ``mmlu=55,mean=65`` per task
    (named as ``--task`` names them), ``mean`` the mean over ``tasks``.  Returns task -> goal as a
    fraction, in the order given."""
    from .tasks import resolve

    goals: dict[str, float] = {}
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        name, eq, value = part.rpartition("=")
        name = name.strip()
        if eq and not name:
            raise TaskladderError(f"--accuracy: {part!r} names no task; give points (60) or task=points (mmlu=55)")
        try:
            points = float(value.strip().rstrip("%"))
        except ValueError:
            raise TaskladderError(f"--accuracy: {value.strip()!r} is not a number of points (60 for 60%); "
                                  "give points or task=points (mmlu=55,mean=65)") from None
        if not 1.0 < points < 100.0:
            raise TaskladderError(f"--accuracy: {value.strip()} must be points between 1 and 100 (60 for 60%)")
        if not name:
            keys = list(tasks)
        elif name.lower() == MEAN:
            if len(tasks) < 2:
                raise TaskladderError(f"--accuracy mean=...: the mean over tasks needs two tasks or more, "
                                      f"got {', '.join(tasks)}")
            keys = [MEAN]
        else:
            keys = [resolve(name, tasks)]
            if keys[0] not in tasks:
                raise TaskladderError(f"--accuracy: {name!r} is not among the tasks predicted ({', '.join(tasks)}); "
                                      "name it with --task")
        for k in keys:
            if k in goals:  # '60,70' or 'mmlu=50,mmlu=55': which one was meant?
                raise TaskladderError(f"--accuracy: two goals for {k} ({goals[k] * 100:g} and {points:g}); give one")
            goals[k] = points / 100.0
    if not goals:
        raise TaskladderError("--accuracy: give points (60) or task=points (mmlu=55,mean=65)")
    return goals


@dataclass
class Reach:
    """The answer of :func:`reach_rows`: a row per goal and each curve searched, for the figure."""

    rows: list[dict]
    """Per task (or ``mean``): the goal, the compute at which the prediction reaches it, and the
    range of compute at which the interval's bounds reach it (see :func:`reach_rows`)."""
    curves: dict = field(default_factory=dict)
    """Task -> (compute grid, centre, lower, upper) over the search, as numpy arrays."""
    notes: list[str] = field(default_factory=list)
    """Warnings, as a prediction's (a task flat over the ladder, pipelines left out)."""

    @property
    def table(self):
        """The rows as a pandas DataFrame (imported only when asked for)."""
        import pandas as pd

        from .aggregate import flat

        return flat(pd.DataFrame(self.rows))  # the mean's tasks as one cell, as the other mean files


def search_range(family: Family, ladder_compute: tuple[float, float], n_min: float,
                 d_min: float) -> tuple[float, float]:
    """The compute :func:`reach_rows` searches along ``family``: from its first target at the
    ladder's scale (:meth:`Family.start`, and not below the ladder's smallest compute) to
    :data:`BEYOND` times the ladder's largest; a family with no target there is one clear error."""
    if family.below(n_min, d_min):
        raise TaskladderError(f"{family.label}: every target of that family lies below the ladder (smallest rung "
                              f"N={n_min:.3g}, D={d_min:.3g}), where nothing constrains the laws")
    lo_c = max(ladder_compute[0], family.start(n_min, d_min))
    hi_c = ladder_compute[1] * BEYOND
    if not lo_c < hi_c:
        raise TaskladderError(f"{family.label}: its first target at the ladder's scale needs {lo_c:.3g} FLOPs, "
                              f"beyond the search's end ({BEYOND:g} x the ladder's largest compute)")
    return lo_c, hi_c


def reach_rows(states: dict[str, TaskState], goals: dict[str, float], family: Family, level: float,
               ladder_compute: tuple[float, float], n_min: float, d_min: float,
               tasks: Sequence[str] | None = None) -> Reach:
    """For each task (or ``mean``, over ``tasks``) of ``goals``: where along ``family`` its
    automatic prediction first reaches the goal (a fraction).

    The search runs from the family's first target at the ladder's scale (:meth:`Family.start`,
    and not below the ladder's smallest compute) to :data:`BEYOND` times its largest compute
    (``ladder_compute``: the smallest and largest 6 N D of its runs).  Each row holds ``compute``,
    ``n`` and ``d`` where the centre reaches the goal, and ``compute_lower`` / ``compute_upper``
    (with their N and D) where the interval's upper and lower bounds do: the range of compute from
    which the goal is inside the ``level`` interval to the one from which it is below the interval's
    lower bound.  ``reached``, ``reached_lower`` and ``reached_upper`` say how each was found:
    ``"yes"``; ``"at start"``, the curve already at the goal where the search starts (the value is
    None: at most ``search_start``); ``"no"``, not by its end (None: beyond ``search_end``).
    """
    tasks = list(tasks if tasks is not None else [t for t in goals if t != MEAN])
    lo_c, hi_c = search_range(family, ladder_compute, n_min, d_min)
    grid = np.linspace(math.log(lo_c), math.log(hi_c), GRID)
    rows, curves = [], {}
    for task, goal in goals.items():
        curve = _curve(states, task, tasks, level, family)
        values = curve(grid)  # (GRID, 3): centre, lower, upper
        curves[task] = (np.exp(grid), values[:, 0], values[:, 1], values[:, 2])
        at = {}
        found = _crossings(grid, values, goal, curve)
        for col, name in ((0, ""), (2, "_lower"), (1, "_upper")):  # the upper bound reaches the goal first
            x, status = found[col]
            c = None if x is None else math.exp(x)
            n, d = (None, None) if c is None else family.at(c)
            at.update({f"compute{name}": c, f"n{name}": n, f"d{name}": d, f"reached{name}": status})
        row = {"task": task, "goal": goal, "family": family.label, **at,
               "times_ladder": None if at["compute"] is None else at["compute"] / ladder_compute[1],
               "level": level, "ladder_compute": ladder_compute[1], "search_start": lo_c, "search_end": hi_c}
        if task == MEAN:
            row["tasks"] = tasks
        rows.append(row)
    return Reach(rows, curves)


def _curve(states: dict[str, TaskState], task: str, tasks: Sequence[str], level: float,
           family: Family) -> Callable[[np.ndarray], np.ndarray]:
    """Values of ln C -> their (centre, lower, upper) rows of ``task``'s prediction (or the mean's
    over ``tasks``) at the family's targets of those computes, evaluated together."""

    def at(xs: np.ndarray) -> np.ndarray:
        points = [_Point(f"C={math.exp(x):.3g}", *family.at(math.exp(x))) for x in np.atleast_1d(xs)]
        rows = mean_rows(states, tasks, points, level) if task == MEAN else states[task].predict(points, level)
        return np.array([[r["predicted"], r["lower"], r["upper"]] for r in rows])

    return at


def _crossings(grid: np.ndarray, values: np.ndarray, goal: float,
               curve: Callable[[np.ndarray], np.ndarray]) -> list[tuple[float | None, str]]:
    """For each column of ``values`` (a curve's columns on the grid: a prediction's centre, lower
    and upper), the ln C at which it first reaches ``goal`` and ``"yes"``: the first grid point at
    or above it, the bracket before it refined; (None, ``"at start"``) where the first point is
    already there, (None, ``"no"``) where none is.

    The brackets are refined together: each round evaluates :data:`SECTIONS` points inside every
    bracket in one call of ``curve`` (a search's cost is the calls: each one evaluates every
    pipeline of every task it needs) and keeps the stretch before the first at or above the goal,
    until the brackets are :data:`TOL` wide (three rounds from the bundled ladder's grid).  This
    rather than scipy's brentq: importing scipy.optimize (~0.7 s) would cost more than the whole
    answer from the cache."""
    found: list = []
    brackets = {}
    for col in range(values.shape[1]):
        above = np.flatnonzero(values[:, col] >= goal)
        found.append((None, "no") if not above.size else (None, "at start") if above[0] == 0 else None)
        if found[col] is None:
            brackets[col] = (grid[above[0] - 1], grid[above[0]])
    while any(b - a > TOL for a, b in brackets.values()):
        xs = {c: np.linspace(a, b, SECTIONS + 2)[1:-1] for c, (a, b) in brackets.items() if b - a > TOL}
        got = curve(np.concatenate(list(xs.values())))
        for k, (c, x) in enumerate(xs.items()):
            v = got[k * SECTIONS:(k + 1) * SECTIONS, c]
            a, b = brackets[c]
            hit = np.flatnonzero(v >= goal)
            brackets[c] = (x[-1], b) if not hit.size else (a if hit[0] == 0 else x[hit[0] - 1], x[hit[0]])
    for c, (a, b) in brackets.items():
        found[c] = (float(0.5 * (a + b)), "yes")
    return found


def _checked(goals: dict[str, float], tasks: Sequence[str]) -> dict[str, float]:
    """Goals given as task -> fraction (from Python), checked as :func:`parse_goals` checks the CLI's points."""
    for k, v in goals.items():
        if not 0.01 < v < 1.0:
            raise TaskladderError(f"accuracy[{k!r}]: {v} must be a fraction between 0.01 and 1 (0.6 for 60%)")
    unknown = [t for t in goals if t != MEAN and t not in tasks]
    if unknown:
        raise TaskladderError(f"goals for {', '.join(unknown)}: not among the tasks ({', '.join(tasks)})")
    if MEAN in goals and len(tasks) < 2:
        raise TaskladderError(f"a goal for the mean over tasks needs two tasks or more, got {', '.join(tasks)}")
    return dict(goals)


def reach(goals: str | dict[str, float], family: Family, tasks: Sequence[str], ladder=None, sizes=None,
          mixed_conventions: bool = False, level: float = 0.9,
          progress: Callable[..., None] | None = None) -> Reach:
    """:func:`reach_rows` from ladder files (the bundled ladder by default), each task's automatic
    choice fitted once per set of files (:func:`serve.auto_states`); ``goals`` as
    :func:`parse_goals` reads them, or task -> fraction.  The answer's notes are the ladder's and
    those of the targets where the goals are reached, as a prediction's."""
    from .predictor import left_out_notes, prediction_notes
    from .serve import auto_states

    tasks = list(tasks)
    goals = parse_goals(goals, tasks) if isinstance(goals, str) else _checked(goals, tasks)
    span, states = auto_states(tasks, ladder, sizes, mixed_conventions, progress,
                               check=lambda span: search_range(family, span.compute, span.n_min, span.d_min))
    got = reach_rows(states, goals, family, level, span.compute, span.n_min, span.d_min, tasks)
    found = [_Point(f"{r['task']} at {r['goal'] * 100:g}", r["n"], r["d"]) for r in got.rows if r["n"] is not None]
    notes = prediction_notes(span, found, tasks) + left_out_notes({t: states[t].left_out for t in tasks})
    got.notes = list(dict.fromkeys(notes))
    return got


def compute_multipliers(curve: Callable[[np.ndarray], np.ndarray], c0: float, goals: Sequence[float],
                        span: float = MULTIPLIER_SPAN) -> list[float | None]:
    """For each goal, C / ``c0`` where ``curve`` (values of ln C -> the accuracies along a family of
    targets, evaluated together) first reaches it, searched from ``c0`` / ``span`` to ``c0`` x
    ``span`` as :func:`reach_rows` searches, the goals' brackets refined together
    (:func:`_crossings`): the compute one ladder's prediction needs to match an accuracy, as a
    multiple of a target's (:func:`compare.compare`'s compute multiplier).  None where the goal lies
    outside that range (below it when ``curve`` at its start is above the goal)."""
    grid = np.linspace(math.log(c0) - math.log(span), math.log(c0) + math.log(span), 33)
    goals = np.asarray(goals, float)

    def gaps(xs: np.ndarray) -> np.ndarray:  # one column per goal: at or above it where >= 0
        return np.asarray(curve(np.atleast_1d(xs)), float)[:, None] - goals[None, :]

    return [None if x is None else math.exp(x) / c0 for x, _ in _crossings(grid, gaps(grid), 0.0, gaps)]


def along(n: float, d: float) -> Family:
    """The family through a target (N, D) that keeps its tokens per parameter: N and D scaled together."""
    return Family(tokens=ChinchillaMultiple(float(d) / (20.0 * float(n))))


def multiplier_fields(curve: Callable[[float], float], c0: float, predicted: float, lower: float,
                      upper: float) -> dict:
    """A row's compute multiplier and its range (:func:`compute_multipliers` of the prediction and
    its bounds against ``curve``), as ``compare`` writes them."""
    m, lo, hi = compute_multipliers(curve, c0, [predicted, lower, upper])
    return {"compute_multiplier": m, "multiplier_lower": lo, "multiplier_upper": hi}
