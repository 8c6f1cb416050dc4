"""Readers for the evaluation tools teams already use, detected by content.

``--ladder`` (and :func:`taskladder.results.read_results`) accepts, besides
taskladder's own tables and OLMo's wide W&B exports:

* lm-evaluation-harness output (:mod:`.lm_eval`): ``results_*.json`` with the
  ``samples_<task>_*.jsonl`` that ``--log_samples`` writes beside it;
* lighteval output (:mod:`.lighteval`): ``results/<model>/results_*.json`` with the
  ``details/<model>/<date>/details_*.parquet`` that ``--save-details`` writes;
* OLMES output folders (:mod:`.olmes`): ``task-*-metrics.json`` and
  ``task-*-predictions.jsonl`` (``task-*-requests.jsonl`` where present);
* OLMo-core in-loop metrics (:mod:`.olmo_core`): the ``metrics_step*.json`` files of
  its ``MetricSaverCallback`` and W&B exports under its metric names.

Each reader returns the tidy table with ``attrs["convention"]`` set to its tool's
metric convention (:mod:`taskladder.conventions`), and names the file and field of
anything it cannot use.  Where a tool's file names the checkpoint but not its
tokens, :mod:`.checkpoint` reads run, step and tokens from the checkpoint's name.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from ..errors import TaskladderError
from . import lighteval, lm_eval, olmes, olmo_core
from .tidy import load_json

_FOLDER_READERS = (lighteval, lm_eval, olmes, olmo_core)  # lighteval's results files share lm-eval's names


def read_path(path: Path, *, sizes: Mapping[str, int] | None = None, n: int | None = None):
    """Read one file or tool-output folder into the tidy table; returns (table, path)."""
    from ..results import read_table_file

    path = Path(path)
    if path.is_dir():
        for r in _FOLDER_READERS:
            if r.is_output(path):
                return r.read(path, sizes=sizes, n=n), path
        raise TaskladderError(f"{path}: not an lm-evaluation-harness, lighteval, OLMES or OLMo-core output folder")
    if not path.exists():
        raise TaskladderError(f"{path}: no such file")
    if path.suffix.lower() == ".json" and not _is_array(path):  # an array: a table of records
        return _read_json(path, sizes, n), path
    return read_table_file(path, sizes=sizes, n=n), path


def _is_array(path: Path) -> bool:
    """Whether a JSON file holds an array (its first character that is not white space is '[')."""
    with open(path, "rb") as f:
        while chunk := f.read(4096):
            head = chunk.lstrip()
            if head:
                return head[:1] == b"["
    return False


def _read_json(path: Path, sizes, n):
    obj = load_json(path)
    if not isinstance(obj, dict):
        raise TaskladderError(f"{path}: expected a JSON object, found {type(obj).__name__}")
    if lighteval.is_results(obj):
        return lighteval.read(path, sizes=sizes, n=n)
    if lm_eval.is_results(obj):
        return lm_eval.read(path, sizes=sizes, n=n)
    if olmes.is_metrics(obj):
        return olmes.read(path.parent, sizes=sizes, n=n, only=path)
    if olmo_core.is_metrics(obj):
        return olmo_core.read(path, sizes=sizes, n=n)
    raise TaskladderError(f"{path}: not an lm-evaluation-harness results file (keys 'results', 'configs'), a "
                          "lighteval one ('results', 'config_tasks'), an "
                          "OLMES task metrics file ('task_config') or OLMo-core metrics ('eval/...' keys)")
