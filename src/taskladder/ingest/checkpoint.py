"""Run, step, N and tokens of a checkpoint named by another tool's output.

lm-evaluation-harness and OLMES record the model they scored (a folder path or a hub
name and revision), not where it sits in a ladder.  The ladder position is read from
that name, the way OLMo's checkpoints are named:

* a folder written by ``taskladder train`` carries ``taskladder.json`` (run, N, batch);
* otherwise the step is ``step1000`` / ``step-1000`` (or Hugging Face Trainer's
  ``checkpoint-1000``, Megatron's ``iter_0001000``) in the revision or the last path
  component, or that component itself where it is a number (nanotron's ``.../190M-1xC/1000``);
  the run the component before a bare ``stepN`` folder (``.../190M-1xC/step1000``)
  or the name with its ``-stepN...`` suffix removed, and the tokens ``tokens4B`` in the
  same place (OLMo's revisions: ``stage1-step1000-tokens5B``) or step x the ``batch_tokens``
  column of the size table; N from the size table, as for CSVs.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path

from ..errors import TaskladderError

#: The step in a checkpoint's name, in order of preference: OLMo's ``step1000``
#: (``stage1-step1000-tokens5B``, ``step-1000``; DeepSpeed's ``global_step1000``), Hugging Face
#: Trainer's ``checkpoint-1000``, Megatron's ``iter_0001000``.
_STEPS = tuple(re.compile(rf"(?:^|[-_]){w}[-_]?(\d+)", re.I) for w in ("step", "checkpoint", "iter"))
_TOKENS = re.compile(r"(?:^|[-_])tokens(\d+(?:\.\d+)?)([KMBT]?)(?![A-Za-z])", re.I)
_UNIT = {"": 1, "K": 1e3, "M": 1e6, "B": 1e9, "T": 1e12}
#: A folder named for its step alone (``.../RUN/step1000``, ``.../RUN/checkpoint-1000``): the run is above it.
_STEP_FOLDER = re.compile(r"(?:global_)?(?:step|checkpoint|iter)[-_]?\d+.*", re.I)


def _step_match(name: str):
    return next((m for p in _STEPS if (m := p.search(name))), None)


def step_of(name: str) -> int | None:
    """The step a checkpoint's folder name or revision carries, else None."""
    m = _step_match(name)
    return int(m[1]) if m else None


def identify(locator: str, source: Path, field: str, *, sizes: Mapping[str, int] | None = None,
             n: int | None = None, revision: str | None = None) -> dict:
    """``{"run", "size", "n", "step", "d"}`` of the checkpoint ``locator`` (a path or hub name).

    ``source`` and ``field`` name where the locator was read, for error messages.
    """
    from ..results import parse_run_name, resolve_n

    if not locator:
        raise TaskladderError(f"{source}: {field} is empty: no checkpoint to place in the ladder")
    meta_file = Path(locator) / "taskladder.json"
    meta = _own_meta(meta_file)
    parts = [p for p in re.split(r"[/\\]", locator.rstrip("/\\")) if p]
    last = parts[-1]
    names = [x for x in (revision, last) if x and x != "main"]
    step = next((s for x in names if (s := step_of(x)) is not None), None)
    bare = step is None and len(parts) >= 2 and last.isdigit()  # nanotron's checkpoints: <run>/<step>/
    if bare:
        step = int(last)
    if step is None:
        raise TaskladderError(f"{source}: {field} {locator!r}: no step in the checkpoint's name "
                              "(expected e.g. .../190M-1xC/step1000, .../checkpoint-1000, .../190M-1xC/1000 or a "
                              "revision such as step1000-tokens4B)")
    if meta:
        run = meta["run"]
    elif revision and step_of(revision) is not None:  # a hub model and revision: the model's name is the run
        run = last
    elif len(parts) >= 2 and (bare or _STEP_FOLDER.fullmatch(last)):  # .../RUN/step1000, .../RUN/1000
        run = parts[-2]
    else:  # .../RUN-step1000
        run = last[:_step_match(last).start()] or last
    size, _ = parse_run_name(run)
    size = meta.get("size", size)
    n_ = int(meta["n"]) if meta and n is None else resolve_n(source, run, size, n, sizes)
    tok = next((m for x in names if (m := _TOKENS.search(x))), None)
    batch = dict(getattr(sizes, "batch_tokens", {}) or {})
    if meta.get("batch_tokens"):
        batch.setdefault(run, int(meta["batch_tokens"]))
    if tok is not None:
        d = float(tok[1]) * _UNIT[tok[2].upper()]
    elif run in batch or size in batch:
        d = step * batch.get(run, batch.get(size))
    else:
        raise TaskladderError(f"{source}: {field} {locator!r}: no token count for step {step}; name the checkpoint "
                              "with its tokens (e.g. step1000-tokens4B) or give the --sizes table a batch_tokens column")
    return {"run": run, "size": size, "n": n_, "step": step, "d": int(round(d))}


def _own_meta(path: Path) -> dict:
    try:
        return json.loads(path.read_text()) if path.is_file() else {}
    except (OSError, json.JSONDecodeError):
        return {}
