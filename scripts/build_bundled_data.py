"""Convert the OLMo 2 ladder CSVs (shared/data/olmo2-ladder) into the bundled tidy table (gzipped CSV).

Usage: python scripts/build_bundled_data.py [SOURCE_DIR]

The CSVs are the evaluation logs published with Bhagia et al. (2024) in
allenai/OLMo-ladder (Apache-2.0); the licence and data card are copied beside the
table so the attribution ships with the package.
"""

import json
import shutil
import sys
from pathlib import Path

import pandas as pd

from taskladder.results import read_wide

HERE = Path(__file__).resolve().parent.parent
OUT = HERE / "src" / "taskladder" / "data"

# Targets: (run name, file, N, role).  N from the data card; D comes from the files.
TARGETS = [
    ("7B-4T", "peteish7_eval_anneal.csv", 6_887_575_552, "target"),
    ("13B-5T", "peteish13_eval_final.csv", 13_202_396_160, "target"),
    ("7B-4T-full", "peteish7_eval_full.csv", 6_887_575_552, "target_full"),
    ("13B-5T-full", "peteish13_eval_full.csv", 13_202_396_160, "target_full"),
]


def main(src: Path) -> None:
    frames, roles = [], {}
    for f in sorted((src / "ladder").glob("*.csv")):
        frames.append(read_wide(f))
        roles[f.stem] = "ladder"
    for run, fname, n, role in TARGETS:
        frames.append(read_wide(src / "targets" / fname, run=run, n=n))
        roles[run] = role
    df = pd.concat(frames, ignore_index=True)
    # gzipped CSV (floats round-trip exactly): reading it does not load pyarrow's Parquet reader
    df.to_csv(OUT / "olmo2_ladder.csv.gz", index=False, compression={"method": "gzip", "mtime": 0})
    meta = {
        "source": "allenai/OLMo-ladder @ 67a3f440f787d020da35e3ca8eeae475fae754f5, src/scripts/paper/data/ladder-runs/",
        "license": "Apache-2.0",
        "roles": roles,
        "targets": {run: {"n": n, "full": f"{run}-full"} for run, _, n, role in TARGETS if role == "target"},
    }
    (OUT / "olmo2_ladder.json").write_text(json.dumps(meta, indent=2) + "\n")
    shutil.copy(src / "LICENSE", OUT / "LICENSE")
    shutil.copy(src / "README.md", OUT / "olmo2_ladder_README.md")
    print(f"wrote {len(df)} rows, {df['run'].nunique()} runs to {OUT}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE.parent / "shared" / "data" / "olmo2-ladder")
