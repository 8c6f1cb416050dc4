import subprocess
import sys
from pathlib import Path

DATA = Path(__file__).parent / "data"
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "olmo2-ladder"


def run_cli(*args, cwd=None):
    """Run the installed CLI in a subprocess, as a user would."""
    return subprocess.run([sys.executable, "-m", "taskladder.cli", *map(str, args)],
                          capture_output=True, text=True, cwd=cwd)
