"""taskladder.parallel: jobs over spawned one-thread workers, results and progress messages back."""

import sys
from pathlib import Path

import pytest

pytest.importorskip("torch")
sys.path.insert(0, str(Path(__file__).parent))

import _parallel_jobs as jobs  # noqa: E402

from taskladder import parallel  # noqa: E402
from taskladder.errors import TaskladderError  # noqa: E402


@pytest.mark.parametrize("n_workers", [1, 2])
def test_every_job_runs_once_and_messages_come_back(n_workers):
    seen = []
    out = dict(parallel.run_jobs(jobs.square, [1, 2, 3, 4, 5], jobs.setup, (10,), n_workers, on_message=seen.append))
    assert {k: v[0] for k, v in out.items()} == {1: 11, 2: 14, 3: 19, 4: 26, 5: 35}
    assert sorted(seen) == [("saw", k) for k in (1, 2, 3, 4, 5)]
    if n_workers > 1:  # workers compute on one thread each
        assert {v[1] for v in out.values()} == {1}


def test_a_single_job_of_a_parallel_call_runs_on_one_thread_like_a_worker():
    import torch

    before = torch.get_num_threads()
    ((_, (value, threads)),) = list(parallel.run_jobs(jobs.square, [3], jobs.setup, (0,), 2))
    assert value == 9 and threads == 1 and torch.get_num_threads() == before


def test_a_failing_job_raises_its_error_in_the_parent():
    with pytest.raises(TaskladderError, match="negative input -1"):
        list(parallel.run_jobs(jobs.square, [1, -1, 2], jobs.setup, (0,), 2))
