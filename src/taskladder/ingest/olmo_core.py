"""OLMo-core (ai2-olmo-core 3.0) in-loop evaluation metrics, from its files or a W&B export.

OLMo-core's trainer records in-loop evals as ``eval/<evaluator>/<name>``
(``EvaluatorCallback``): downstream tasks (``DownstreamEvaluator``, evaluator
``downstream``) as ``"<task label> (<metric>)"`` with the metric names of
``DownstreamEvaluator.metric_type_to_label`` (``BPB``, ``length-normalized
accuracy``, ``accuracy``, ``log soft loss``; the ``v2`` variants count the
answer's leading space), and LM losses (``LMEvaluator``, evaluator ``lm``) as
``"<dataset label>/CE loss"``.  Tokens seen are ``throughput/total tokens``.

Two files carry them: the ``metrics_step<N>.json`` files of ``MetricSaverCallback``
(in the run's save folder; the folder's name is the run) and a W&B export of the run
(``_step`` plus those names as columns).  The un-suffixed (``v1``) metrics are read:
BPB and log soft loss without the leading space, the accuracy with it (ai2-olmo-eval
0.9's ``ICLMetric``): the ``olmo_core`` convention.  TaskCE = -(log soft loss).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from .. import discover
from ..errors import TaskladderError
from ..tasks import ACC, BPB, LM_LOSS, MC_ACC, TASKCE
from .tidy import load_json

CONVENTION = "olmo_core"
TOKENS = "throughput/total tokens"
_DOWNSTREAM = re.compile(r"^eval/downstream/(?P<label>.+) \((?P<metric>[^()]+)\)$")
_LM = re.compile(r"^eval/lm/(?P<label>.+)/CE loss$")


#: OLMo-core's names (``DownstreamEvaluator.metric_type_to_label``, the v1 metrics).
NAMES = {
    BPB: "eval/downstream/{key}_rc_5shot (BPB)",
    ACC: "eval/downstream/{key}_rc_5shot ({rc})",
    TASKCE: "eval/downstream/{key}_rc_5shot (log soft loss)",
    MC_ACC: "eval/downstream/{key}_mc_5shot ({mc})",
}
_NORMS = {"len_norm": "length-normalized accuracy", "acc": "accuracy"}


def is_metrics(obj: dict) -> bool:
    return isinstance(obj, dict) and any(isinstance(k, str) and (_DOWNSTREAM.match(k) or _LM.match(k)) for k in obj)


def is_wide_export(cols) -> bool:
    return any(isinstance(c, str) and (_DOWNSTREAM.match(c) or _LM.match(c)) for c in cols)


def _step_files(folder: Path) -> list[tuple[int, Path]]:
    return sorted((int(discover.OLMO_CORE_STEP.match(p.name)[1]), p)
                  for p in discover.matching(folder, discover.OLMO_CORE_STEP))


def is_output(folder: Path) -> bool:
    return bool(_step_files(folder))


def read(path: Path, *, sizes: Mapping[str, int] | None = None, n: int | None = None) -> pd.DataFrame:
    """A run's ``metrics_step*.json`` files (give the folder, or one file)."""
    path = Path(path)
    if path.is_dir():
        files = _step_files(path)
        run_dir = path
    else:
        m = discover.OLMO_CORE_STEP.match(path.name)
        if not m:
            raise TaskladderError(f"{path}: an OLMo-core metrics file must be named metrics_step<N>.json "
                                  "(MetricSaverCallback's step files) so its step is known")
        files, run_dir = [(int(m[1]), path)], path.parent
    # MetricSaverCallback writes the latest value of every metric it has seen, so a step file
    # written between two evaluations repeats the last one's values (and one written before the
    # first evaluation has none): an evaluator's metrics equal to the previous file's are that
    # repeat, not a new measurement at this step, and are left out.
    rows, before = [], {}
    for step, f in files:
        obj = load_json(f)
        if not isinstance(obj, dict):
            raise TaskladderError(f"{f}: expected a JSON object of metrics, found {type(obj).__name__}")
        groups: dict[str, dict] = {}  # evaluator -> its metrics in this file
        for k, v in obj.items():
            if (label := _evaluator(k)) is not None:
                groups.setdefault(label, {})[k] = v
        new = {k: v for g in groups.values() if any(k not in before or before[k] != x for k, x in g.items())
               for k, v in g.items()}
        before = {k: v for g in groups.values() for k, v in g.items()}
        if new:
            rows.append({"_step": step, **({TOKENS: obj[TOKENS]} if TOKENS in obj else {}), **new})
    if not rows:
        where = files[0][1] if len(files) == 1 else f"{run_dir}: every metrics_step*.json file"
        raise TaskladderError(f"{where}: no OLMo-core eval metrics ('eval/downstream/<task> (<metric>)' or "
                              "'eval/lm/<set>/CE loss' keys)")
    return wide_frame_to_tidy(pd.DataFrame(rows), run_dir, run=run_dir.name, sizes=sizes, n=n)


def _evaluator(key) -> str | None:
    """The evaluator an OLMo-core metric name belongs to (its task or LM set), else None."""
    m = isinstance(key, str) and (_DOWNSTREAM.match(key) or _LM.match(key))
    return m["label"] if m else None


def wide_frame_to_tidy(df: pd.DataFrame, path: Path, *, run: str | None = None,
                       sizes: Mapping[str, int] | None = None, n: int | None = None) -> pd.DataFrame:
    """One run's metrics, one row per logged step, into the tidy table."""
    from ..results import _check_increasing, _numeric_column, _run_n, check_range, parse_run_name, registry_metrics

    named, run = run is not None, run or Path(path).stem
    size, _ = parse_run_name(run)
    n_ = _run_n(path, run, size, n, sizes, named)
    if "_step" not in df.columns:
        raise TaskladderError(f"{path}: missing column '_step' (the W&B export's step)")
    step = _numeric_column(df, "_step", path)
    _check_increasing(step, path, "_step")
    if TOKENS in df.columns:
        d = pd.to_numeric(df[TOKENS], errors="coerce").to_numpy(float)
    else:
        batch = getattr(sizes, "batch_tokens", {}) or {}
        bt = batch.get(run, batch.get(size))
        if bt is None:
            raise TaskladderError(f"{path}: no {TOKENS!r} logged; give the --sizes table a batch_tokens column "
                                  f"for {size!r} (D = step x batch tokens)")
        d = step * bt
    def numeric(c):  # W&B rows of steps without an eval are empty: NaN, dropped below
        return pd.to_numeric(df[c], errors="coerce").to_numpy(float)

    parts = registry_metrics(df, path, numeric, NAMES, _NORMS)
    for c in df.columns:
        m = _LM.match(str(c))
        if m:
            v = numeric(c)
            ok = np.isfinite(v)
            check_range(LM_LOSS, v[ok], path, str(c), np.flatnonzero(ok))
            parts.append((m["label"].removesuffix("-validation"), LM_LOSS, v))
    if not parts:
        raise TaskladderError(f"{path}: no OLMo-core metric of a known task (e.g. 'eval/downstream/"
                              "arc_challenge_test_rc_5shot (BPB)') or LM loss ('eval/lm/c4_en-validation/CE loss')")
    frames = []
    for task, metric, v in parts:
        ok = np.isfinite(v) & np.isfinite(d)
        frames.append(pd.DataFrame({"run": run, "size": size, "n": int(n_), "d": np.rint(d[ok]).astype("int64"),
                                    "step": np.rint(step[ok]).astype("int64"), "task": task, "metric": metric,
                                    "value": v[ok]}))
    out = pd.concat(frames, ignore_index=True)
    if out.empty:
        raise TaskladderError(f"{path}: every eval metric is empty")
    out.attrs["convention"] = CONVENTION
    return out

