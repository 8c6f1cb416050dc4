"""Two cold predictions started at once: the second waits for the first's fit (taskladder.cache.computing).

A dashboard that refreshes several panels when its ladder gains a checkpoint, or a notebook
beside a terminal, asks for the same fit from several processes at once.  Each process here is
the installed CLI, `taskladder predict --n 7B --tokens 4T` (the automatic choice, 8 tasks),
from an empty cache:

* one prediction alone (the baseline);
* two started together, each with its own cache folder: both fit the ladder on the same cores,
  as they did before the cache's lock (and as two machines without a shared cache do);
* two started together sharing one cache folder: one fits, the other waits and reads its fit.

Wall time until both have answered, as a ratio to the one alone (the figure printed last).

    python benchmarks/concurrent_predict.py
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time

ARGS = ["predict", "--n", "7B", "--tokens", "4T", "--json"]


def together(caches: list[str]) -> tuple[float, list[str]]:
    """Seconds until every process (one per cache folder given) has answered, and their outputs."""
    t = time.perf_counter()
    procs = []
    for c in caches:
        env = {**os.environ, "TASKLADDER_CACHE": c}
        env.pop("TASKLADDER_NO_CACHE", None)
        procs.append(subprocess.Popen([sys.executable, "-m", "taskladder.cli", *ARGS], stdout=subprocess.PIPE,
                                      stderr=subprocess.DEVNULL, text=True, env=env))
    outs = [p.communicate()[0] for p in procs]
    if any(p.returncode for p in procs):
        raise SystemExit("a prediction failed")
    return time.perf_counter() - t, outs


def main() -> None:
    fresh = lambda: tempfile.mkdtemp(prefix="taskladder-bench-")  # noqa: E731
    alone, (out,) = together([fresh()])
    separate, outs_separate = together([fresh(), fresh()])
    shared_dir = fresh()
    shared, outs_shared = together([shared_dir, shared_dir])
    assert set(outs_separate) == set(outs_shared) == {out}, "the answers differ"
    print(f"one cold prediction:                           {alone:6.2f} s")
    print(f"two at once, each its own cache (both fit):    {separate:6.2f} s  ({separate / alone:.2f}x one)")
    print(f"two at once, one shared cache (one fit):       {shared:6.2f} s  ({shared / alone:.2f}x one)")


if __name__ == "__main__":
    main()
