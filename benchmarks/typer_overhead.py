"""What the CLI framework's release costs a warm command: the installed typer against another.

typer 0.29 coerces every option of every call through a pydantic TypeAdapter (importing
pydantic); 0.28, which pyproject.toml keeps, does not.  Install the other release beside the
environment without touching it, then time warm commands alternately with each (fresh
processes, the same warm cache, median of ``--repeats``):

    pip install --no-deps --target /tmp/typer029 typer==0.29.2
    python benchmarks/typer_overhead.py /tmp/typer029

The figure printed last is the other release's warm automatic prediction time over the
installed one's.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

COMMANDS = {
    "--help": ["--help"],
    "predict --paper": ["predict", "--n", "7B", "--tokens", "4T", "--paper"],
    "predict (automatic)": ["predict", "--n", "7B", "--tokens", "4T"],
}


def typer_version(env: dict) -> str:
    return subprocess.run([sys.executable, "-c", "import typer; print(typer.__version__)"], env=env,
                          capture_output=True, text=True, check=True).stdout.strip()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("other", help="a folder holding another typer release (pip install --target)")
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as cache:
        here = {**os.environ, "TASKLADDER_CACHE": cache}
        here.pop("TASKLADDER_NO_CACHE", None)
        other = {**here, "PYTHONPATH": os.pathsep.join(filter(None, [args.other, here.get("PYTHONPATH")]))}
        envs = {f"typer {typer_version(here)}": here, f"typer {typer_version(other)}": other}
        for argv in COMMANDS.values():  # fit and cache once: every timed run is warm
            subprocess.run([sys.executable, "-m", "taskladder.cli", *argv], env=here, capture_output=True, check=True)
        med = {}
        print(f"{'command':22}" + "".join(f"{name:>14}" for name in envs))
        for label, argv in COMMANDS.items():
            times = {name: [] for name in envs}
            for _ in range(args.repeats):  # alternated, so a drift of the machine's speed hits both
                for name, env in envs.items():
                    t = time.perf_counter()
                    subprocess.run([sys.executable, "-m", "taskladder.cli", *argv], env=env,
                                   capture_output=True, check=True)
                    times[name].append(time.perf_counter() - t)
            med[label] = [statistics.median(v) for v in times.values()]
            print(f"{label:22}" + "".join(f"{m:13.3f}s" for m in med[label]))
    installed, alternative = med["predict (automatic)"]
    print(f"warm_predict_installed_s={installed:.3f} other_s={alternative:.3f} ratio={alternative / installed:.2f}")


if __name__ == "__main__":
    main()
