"""Module-level job functions for tests/test_parallel.py (spawned workers import them by name)."""

from taskladder import parallel
from taskladder.errors import TaskladderError


def setup(offset):
    import torch

    return {"offset": offset, "threads": torch.get_num_threads()}


def square(state, x):
    parallel.report(("saw", x))
    if x < 0:
        raise TaskladderError(f"negative input {x}")
    return x * x + state["offset"], state["threads"]


_MARKED = {"worker": False}


def mark_worker():
    _MARKED["worker"] = True


def call(f):
    return f(), _MARKED["worker"]


def check(x):
    if x < 0:
        raise TaskladderError(f"negative input {x}")
    return x


def pid_and_mark(k):
    import os

    return k * k, _MARKED["worker"], os.getpid()


def warn_then(k):
    """Warns twice, then returns k * k, or fails for a negative k (after its warnings)."""
    import os
    import warnings

    from taskladder.errors import FitWarning

    warnings.warn(f"job {k} first", FitWarning)
    warnings.warn(f"job {k} second", UserWarning)
    if k < 0:
        raise TaskladderError(f"negative input {k}")
    return k * k, os.getpid()


def nested(k):
    """A job that itself fits over the cores."""
    return parallel.fits_over_cores(warn_then, [(k,), (k + 1,)], 2)


def blas_threads(_):
    import scipy.optimize  # noqa: F401
    from threadpoolctl import threadpool_info

    return max(i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas")
