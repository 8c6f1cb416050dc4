"""The declared dependency minimums are true: a lowest-versions install passes the core tests.

The pins are read from pyproject.toml (every ``name>=X`` of the dependencies and the
``test`` and ``eval`` extras becomes ``name==X``), installed into a fresh virtual
environment from the package index, and the fitting, reading and evaluation tests run
there.  torch is the exception: its declared minimum (2.4) has no CPU-only wheel on the
index this project installs from, so the environment takes the CPU wheel the README
installs (2.13.0); transformers, whose minimum matters (``from_pretrained(dtype=...)``
needs 4.56), is pinned to its minimum.

Slow (a few minutes: it downloads and installs numpy, scipy, pandas, pyarrow,
matplotlib and transformers at their oldest allowed versions), so it runs once per CI
run; set TASKLADDER_SKIP_MINIMUMS=1 to skip it locally.
"""

import os
import re
import subprocess
import tomllib
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# torch's oldest allowed release has no CPU wheel here; the README's torch is used instead
NOT_PINNED = {"torch": "torch==2.13.0"}


def minimum_pins() -> list[str]:
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = meta["dependencies"] + meta["optional-dependencies"]["test"] + meta["optional-dependencies"]["eval"]
    pins = []
    for r in reqs:
        # a plain minimum, or one with an upper bound below the next release it excludes
        m = re.fullmatch(r"\s*([A-Za-z0-9_.\-]+)\s*>=\s*([0-9][0-9A-Za-z.]*)\s*(,\s*<\s*[0-9][0-9A-Za-z.]*\s*)?", r)
        assert m, f"dependency {r!r} has no plain '>=' minimum to test"
        pins.append(NOT_PINNED.get(m[1], f"{m[1]}=={m[2]}"))
    return pins


def test_minimum_pins_cover_every_dependency():
    pins = minimum_pins()
    assert "pandas==2.2" in pins and "transformers==4.56" in pins and "torch==2.13.0" in pins
    assert "typer==0.28" in pins  # its upper bound dropped: the minimum is what is installed


@pytest.mark.skipif(os.environ.get("TASKLADDER_SKIP_MINIMUMS") == "1", reason="TASKLADDER_SKIP_MINIMUMS=1")
def test_lowest_versions_pass_the_core_tests(tmp_path):
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    py = env_dir / "bin" / "python"
    pins = minimum_pins()
    r = subprocess.run([py, "-m", "pip", "install", "-q", "--prefer-binary", *pins, str(ROOT)],
                       capture_output=True, text=True, timeout=1500)
    assert r.returncode == 0, r.stderr[-3000:]
    frozen = subprocess.run([py, "-m", "pip", "freeze"], capture_output=True, text=True).stdout.lower()
    for p in pins:  # pip installed exactly the minimums, nothing newer slipped in
        assert p.lower().replace("_", "-") in frozen.replace("_", "-"), p
    tests = ["tests/test_paper.py", "tests/test_laws.py", "tests/test_results.py", "tests/test_conventions.py",
             "tests/test_evaluation.py"]
    env = {**os.environ, "TASKLADDER_SKIP_MINIMUMS": "1"}
    # the end-to-end evaluate -> predict run (50 s) and torchrun need nothing the others do not
    r = subprocess.run([py, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-k", "not torchrun and not end_to_end",
                        *tests],
                       capture_output=True, text=True, cwd=ROOT, env=env, timeout=1500)
    assert r.returncode == 0, (r.stdout + r.stderr)[-4000:]
