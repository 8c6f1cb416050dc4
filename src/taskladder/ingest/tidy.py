"""What the readers share: JSON reading, task names, primary accuracies and the tidy rows they build."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from ..errors import TaskladderError, cause
from ..tasks import ACC, ALIASES, BPB, MC_ACC, REGISTRY, TASKCE


def load_json(path: Path):
    """A JSON file's content, or one line naming the file and what is wrong."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise TaskladderError(f"{path}: not readable as JSON ({cause(e)})") from None


def json_lines(path: Path) -> Iterator[tuple[int, object]]:
    """(line number, object) of each non-empty line of a JSONL file; a bad line is named."""
    if not Path(path).exists():
        raise TaskladderError(f"{path}: missing; the tool writes it beside its metrics file")
    with open(path, encoding="utf-8") as f:
        for i, line in enumerate(f, 1):
            if line.strip():
                try:
                    yield i, json.loads(line)
                except json.JSONDecodeError as e:
                    raise TaskladderError(f"{path}: line {i}: not JSON ({e})") from None

def warn_rescored(older: list[Path], tool: str) -> None:
    """Say which results files lost to a newer one of the same checkpoint (``tool`` scored the
    same tasks again later: the newest results are used)."""
    if older:
        import warnings

        from ..errors import InputWarning

        warnings.warn(f"{older[0]}{f' and {len(older) - 1} more' if len(older) > 1 else ''}: tasks {tool} scored "
                      "again later on the same checkpoint; the newest results are used", InputWarning, stacklevel=3)


def task_name(name: str) -> str:
    """The registry's name of another tool's task (:data:`tasks.ALIASES`); MMLU's subjects
    ("mmlu_anatomy", lighteval's "mmlu:anatomy", ...) pool into "mmlu" (a question-weighted mean,
    which is what the bundled ladder's category-weighted MMLU is when every subject is scored)."""
    base = ALIASES.get(name, name)
    return "mmlu" if base.startswith(("mmlu_", "mmlu:")) else base


def primary(task: str, default: str = "acc_per_char") -> str:
    """The registry task's OLMES primary RC accuracy; ``default`` for tasks outside it."""
    t = REGISTRY.get(task)
    if t is None:
        return default
    return "acc_per_char" if t.rc_norm == "len_norm" else "acc_raw"


def frame(ck: dict, values: dict[tuple[str, str], float], convention: str) -> pd.DataFrame:
    """Tidy rows of one checkpoint: ``values`` maps (task, metric) to a value."""
    out = pd.DataFrame([{**{k: ck[k] for k in ("run", "size", "n", "d", "step")}, "task": t, "metric": m, "value": v}
                        for (t, m), v in values.items()])
    out.attrs["convention"] = convention
    return out


def pooled(per_question: dict[str, list[dict]], prim: dict[str, str], mc: set[str] = frozenset()) -> dict:
    """(task, metric) -> mean over a task's questions: bpb, primary acc and TaskCE for RC
    tasks; ``mc_acc`` (raw accuracy over the letters) for MC-format ones."""
    from ..conventions import mean_metrics

    out = {}
    for task, qs in per_question.items():
        m = mean_metrics(qs, prim[task])
        if task in mc:
            out[(task, MC_ACC)] = m["acc_raw"]
        else:
            out.update({(task, BPB): m["bpb"], (task, ACC): m["acc"], (task, TASKCE): m["taskce"]})
    return out
