"""Bundled data: the OLMo 2 ladder and targets of Bhagia et al. (2024).

The evaluation logs come from allenai/OLMo-ladder (Apache-2.0; licence and data card
ship beside the table, ``olmo2_ladder.csv.gz``, in ``taskladder/data``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from functools import cached_property, lru_cache
from importlib import resources
from typing import TYPE_CHECKING, Mapping

import numpy as np

if TYPE_CHECKING:  # pandas is imported where a table is read: a bare (N, D) target needs none
    import pandas as pd

from .errors import TaskladderError, did_you_mean
from .tasks import ACC

#: The paper's "actual" value of a target metric is the mean over its last 5
#: evaluated checkpoints (a target with fewer rows uses what it has).
ACTUAL_WINDOW = 5
#: A token count this little away from a log's last checkpoint is that checkpoint: a run logs
#: past a round "5T" by its last batch (the bundled 13B-5T ends at 5.00009T).
END_SLACK = 0.01
#: A target log's last checkpoints are its actual for a prediction this close to their tokens, a
#: planned end given round ('4T' for a run of 3.945T); beyond END_SLACK a note says how far apart
#: they are, since a run's last stretch can still move it (7B-4T's last 1.7%, docs/forecast.md).
ACTUAL_SLACK = 0.05
#: From this many targets on, a prediction is shown as a sweep: one table of tasks x targets
#: per few targets, and a figure of accuracy against compute (fewer: a table and rows per target).
SWEEP = 4


@dataclass(frozen=True)
class Target:
    """A model to predict: its size, its token budget and, if known, its evaluations."""

    name: str
    """Label used in tables and JSON, e.g. ``"7B-4T"``."""
    n: int
    """Non-embedding parameters."""
    d: int
    """Training tokens."""
    results: pd.DataFrame | None = field(default=None, repr=False)
    """Tidy results of the target's final checkpoints (for "actual" values)."""
    full: pd.DataFrame | None = field(default=None, repr=False)
    """Tidy results of its intermediate checkpoints over all of training, if any."""
    finals: Mapping[tuple[str, str], np.ndarray] | None = field(default=None, repr=False)
    """Without ``results``: each (task, metric)'s values over the final checkpoints in step
    order (:meth:`compact`, which a prediction can read from the cache without pandas)."""
    scored_as: str | None = field(default=None, repr=False)
    """Without ``results``: the metric convention its values were scored under."""

    def __post_init__(self):
        if not (np.isfinite(self.n) and self.n > 0):
            raise TaskladderError(f"target {self.name!r}: N must be a positive number, got {self.n!r}")
        if not (np.isfinite(self.d) and self.d > 0):
            raise TaskladderError(f"target {self.name!r}: D (tokens) must be a positive number, got {self.d!r}")

    def actual(self, task: str, metric: str = ACC, window: int = ACTUAL_WINDOW) -> float | None:
        """Mean of ``metric`` over the last ``window`` checkpoints, or None when not logged."""
        v = self._by_key.get((task, metric))
        return None if v is None else float(v[-window:].mean())

    @property
    def convention(self) -> str | None:
        """The metric convention of its results (``results.attrs["convention"]``), if known."""
        return self.scored_as if self.results is None else self.results.attrs.get("convention")

    def compact(self) -> Target:
        """The same target with its final values as arrays and no tables (small, no pandas to read)."""
        return Target(self.name, self.n, self.d, finals=dict(self._by_key), scored_as=self.convention)

    @cached_property
    def _by_key(self) -> dict[tuple[str, str], np.ndarray]:
        if self.results is None:
            return dict(self.finals or {})
        r = self.results.sort_values("step", kind="stable")
        return {k: g["value"].to_numpy(float) for k, g in r.groupby(["task", "metric"], sort=False)}


@dataclass(frozen=True)
class LadderData:
    """A ladder's tidy results and the targets to predict."""

    ladder: pd.DataFrame = field(repr=False)
    targets: dict[str, Target]


#: The bundled ladder's tidy table, in the package's data folder.
DATA_FILE = "olmo2_ladder.csv.gz"
#: Beside it: each run's role (ladder, target) and the targets' sizes.
META_FILE = "olmo2_ladder.json"


@lru_cache(maxsize=1)
def bundled_digest() -> str:
    """SHA-256 of the bundled files' bytes, read once per process: the cache key of
    everything computed from them alone."""
    import hashlib

    base = resources.files("taskladder") / "data"
    h = hashlib.sha256()
    for f in (DATA_FILE, META_FILE):
        h.update(f.encode() + b"\0" + (base / f).read_bytes())
    return h.hexdigest()


@lru_cache(maxsize=1)
def _load() -> tuple[pd.DataFrame, dict]:
    import pandas as pd

    base = resources.files("taskladder") / "data"
    # gzipped CSV, not Parquet: the same bytes-exact table (floats round-trip), read as fast,
    # without loading pyarrow's Parquet reader (~40 MB of resident memory, which every
    # forked fitting worker inherits; docs/speed.md)
    with resources.as_file(base / DATA_FILE) as p:
        df = pd.read_csv(p)
    meta = json.loads((base / META_FILE).read_text())
    return df, meta


def olmo2_ladder() -> LadderData:
    """The paper's ladder (190M-1.3B x 1/2/5/10 xC) and its two targets, 7B-4T and 13B-5T.

    Works offline: the data ship inside the package.  Each call returns its own copies of
    the tables (a caller may change them), split from the file once per process.
    """
    d = _bundled()
    return LadderData(d.ladder.copy(), {k: replace(t, results=t.results.copy(), full=t.full.copy())
                                        for k, t in d.targets.items()})


@lru_cache(maxsize=1)
def _bundled() -> LadderData:
    # splitting the file's rows by role takes ~0.08 s, and a command such as `forecast
    # --target` asks twice (its target, then the ladder); copies are cheap (copy-on-write)
    df, meta = _load()
    roles = df["run"].map(meta["roles"])
    ladder = df[roles == "ladder"].reset_index(drop=True)
    targets = {}
    for name, info in meta["targets"].items():
        res = df[df["run"] == name].reset_index(drop=True)
        full = df[df["run"] == info["full"]].reset_index(drop=True)
        targets[name] = Target(name, int(info["n"]), int(res["d"].max()), res, full)
    ladder = ladder.copy()
    ladder.attrs["convention"] = "olmo"  # logged by the OLMo repo's in-loop evaluator
    for t in targets.values():
        t.results.attrs["convention"] = "olmo"
    return LadderData(ladder, targets)


def bundled_targets() -> dict[str, Target]:
    """The bundled targets, :meth:`Target.compact`: their final values without the tables.

    Cached on disk by the bundled files' bytes, so a prediction for a bundled target
    (``predict --target 7B-4T``) reads no table and imports no pandas when warm.
    """
    from . import cache

    return cache.cached(cache.key("bundled-targets", bundled_digest()),
                        lambda: {k: t.compact() for k, t in olmo2_ladder().targets.items()})


def convention_notes(results: pd.DataFrame, targets) -> list[str]:
    """A warning per target whose actual values were measured under another metric
    convention than the ladder's (:func:`predictor.convention_notes`)."""
    from .predictor import convention_notes as notes

    return notes(results.attrs.get("convention"), targets)


def make_targets(names=(), target_file=None, n=None, tokens=None, sizes=None, name: str | None = None,
                 tables: bool = False, flops=None) -> list[Target]:
    """The targets a command asked for: bundled ones by name (usable with any ladder), a target's
    own eval log (N from ``n`` or ``sizes``, D from ``tokens`` or the log's last checkpoint),
    and/or bare (N, D) pairs: ``n`` and ``tokens`` may be lists of equal length (a sweep), or
    one a list and the other a single count, which every target shares; a token count may be a
    :class:`units.ChinchillaMultiple` (``2xC``) of each target's N.  ``flops`` (one budget or a
    list) with ``n`` or ``tokens`` sets the other by C = 6 N D (:func:`budget_targets`).  A bundled target comes
    with its logs when ``tables`` (the report's MC-format section fits on them), else as its
    final values alone (:meth:`Target.compact`, read without pandas)."""
    from pathlib import Path

    from .units import resolve_tokens

    many = [isinstance(v, (list, tuple)) for v in (n, tokens)]
    if name is not None and target_file is None and n is None and tokens is None:
        raise TaskladderError("--name labels a target given by --n/--tokens or --target-file; "
                              "a bundled target keeps its own name")
    if any(many) and target_file is not None:
        raise TaskladderError("a target file is one target: give one --n and one --tokens with it")
    if flops is not None and target_file is not None:
        raise TaskladderError("--flops sets a target's N or tokens; a target file has its own N")
    targets: list[Target] = []
    # bundled targets at other tokens: with --target alone, --tokens sets their D as it sets a target file's
    retoken = bool(names) and tokens is not None and n is None and target_file is None and flops is None
    if names and n is not None and tokens is None and flops is None and target_file is None:
        raise TaskladderError(f"--n with --target: {names[0]} has its own N (--tokens alone sets its tokens); "
                              "another model needs --n and --tokens, or --flops and one of them")
    if retoken and name is not None:
        raise TaskladderError("--name labels a target given by --n/--tokens or --target-file; "
                              "a bundled target keeps its own name")
    if names:
        known = olmo2_ladder().targets if tables else bundled_targets()
        for t in names:
            if t not in known:
                raise TaskladderError(f"unknown target {t!r}{did_you_mean(t, known)}; bundled targets: {', '.join(known)}")
            if not retoken:
                targets.append(known[t])
                continue
            for tok in (tokens if many[1] else [tokens]):  # named by its tokens: '--tokens 3.9T,4T' are two
                d = resolve_tokens(tok, known[t].n)
                at = t if d == known[t].d else f"{t}@{d:.3g}"
                if _actual_at(t, known[t].d, d, running=False):
                    targets.append(replace(known[t], name=at, d=d))
                else:
                    targets.append(Target(at, known[t].n, d))
        if retoken:
            return targets
    if target_file is not None:
        from .results import read_target_file

        tres = read_target_file(target_file, sizes=sizes, n=n)
        end, n_ = int(tres["d"].max()), int(tres["n"].iloc[0])
        d = resolve_tokens(tokens, n_) if tokens is not None else end
        if not _actual_at(str(target_file), end, d, running=True):
            tres = None
        targets.append(Target(name or Path(target_file).stem, n_, d, tres))
    elif flops is not None:
        pairs = budget_targets(flops, n, tokens)
        if name is not None and len(pairs) > 1:
            raise TaskladderError("--name labels one target; a list of --flops, --n or --tokens names each N=...,D=...")
        targets += [Target(name or f"N={a:.3g},D={b:.3g}", a, b) for a, b in pairs]
    elif n is not None or tokens is not None:
        ns, ds = (list(v) if m else [v] for v, m in zip((n, tokens), many))
        if None in ns + ds:
            raise TaskladderError("a target needs both --n (parameters) and --tokens (training tokens), or --flops "
                                  "(a budget, C = 6 N D) and one of them")
        if len(ns) != len(ds) and 1 not in (len(ns), len(ds)):
            raise TaskladderError(f"--n gives {len(ns)} values and --tokens {len(ds)}: give lists of equal "
                                  "length, or one value for either")
        k = max(len(ns), len(ds))
        if name is not None and k > 1:
            raise TaskladderError("--name labels one target; a list of --n or --tokens names each N=...,D=...")
        ns, ds = ns * (k // len(ns)), ds * (k // len(ds))
        ds = [resolve_tokens(b, a) for a, b in zip(ns, ds)]  # '2xC': 2 x 20 N of each target's N
        targets += [Target(name or f"N={a:.3g},D={b:.3g}", a, b) for a, b in zip(ns, ds)]
    return targets


def _actual_at(what: str, end: int, d: int, running: bool) -> bool:
    """Whether a target's last checkpoints (at ``end`` tokens) are its actual for a prediction at
    ``d``; when not, says so (an :class:`errors.InputWarning`, shown as a note), pointing a log
    that may still be ``running`` to ``forecast``; when kept more than END_SLACK away, says how far."""
    import warnings

    from .errors import InputWarning

    if abs(d - end) <= ACTUAL_SLACK * end:
        if abs(d - end) > END_SLACK * end:  # kept, but not at the same point: said, as predict says its other notes
            warnings.warn(f"{what}: its actual is its last checkpoints at {end:.4g} tokens, {abs(d / end - 1):.1%} "
                          f"{'before' if d > end else 'after'} the prediction's {d:.4g}; a run's last stretch can "
                          "still move it, e.g. where its learning rate decays", InputWarning, stacklevel=3)
        return True

    hint = ("; for a run still training, 'taskladder forecast' forecasts its end from them ('taskladder report' "
            "adds that forecast)" if running else "")
    warnings.warn(f"{what}: the log ends at {end:.3g} tokens and the prediction is for {d:.3g}, so its "
                  f"last checkpoints are no actual for it (none is shown){hint}", InputWarning, stacklevel=3)
    return False


def budget_targets(flops, n=None, tokens=None) -> list[tuple[int, int]]:
    """(N, D) of training budgets C = 6 N D (Kaplan et al., 2020; N non-embedding, as the ladder
    counts compute) given N or D: D = C / 6N, or N = C / 6D; tokens as a Chinchilla multiple m
    (``2xC``: D = 20 m N) give N = sqrt(C / 120 m).  ``flops`` and the other may each be a list
    (equal lengths) or one value shared by all."""
    from .ladder import train_tokens
    from .units import ChinchillaMultiple, check_count

    if (n is None) == (tokens is None):
        raise TaskladderError("--flops takes one of --n or --tokens, and sets the other by C = 6 N D")
    given, what = (n, "--n") if n is not None else (tokens, "--tokens")
    cs, gs = ([*v] if isinstance(v, (list, tuple)) else [v] for v in (flops, given))
    if len(cs) != len(gs) and 1 not in (len(cs), len(gs)):
        raise TaskladderError(f"--flops gives {len(cs)} values and {what} {len(gs)}: give lists of equal length, "
                              "or one value for either")
    k = max(len(cs), len(gs))
    out = []
    for c, g in zip(cs * (k // len(cs)), gs * (k // len(gs))):
        if n is not None:
            a, b = g, c / (6.0 * g)
        elif isinstance(g, ChinchillaMultiple):
            a = (c / (120.0 * g.multiple)) ** 0.5
            b = train_tokens(round(a), g.multiple)
        else:
            a, b = c / (6.0 * g), g
        where = f"--flops {c:.3g} with {what} {g.multiple:g}xC" if isinstance(g, ChinchillaMultiple) else \
            f"--flops {c:.3g} with {what} {g:.3g}"
        out.append((check_count(a, f"{where}: N"), check_count(b, f"{where}: D")))
    return out
