import os
import subprocess
import sys
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "olmo2-ladder"


def run_cli(*args, cwd=None):
    """Run the installed CLI in a subprocess, as a user would."""
    return subprocess.run([sys.executable, "-m", "taskladder.cli", *map(str, args)],
                          capture_output=True, text=True, cwd=cwd)


@pytest.fixture(scope="session", autouse=True)
def private_cache(tmp_path_factory):
    """Every test (and every CLI it starts) uses a fresh cache of fits, never the user's."""
    os.environ["TASKLADDER_CACHE"] = str(tmp_path_factory.mktemp("taskladder-cache"))
    os.environ.pop("TASKLADDER_NO_CACHE", None)
    yield
