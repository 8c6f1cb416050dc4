"""How fast a ladder of lm-evaluation-harness outputs is read, cold, warm and grown by one checkpoint.

lm-eval's ``--log_samples`` files hold every request's full 5-shot context: about 146 MB for
MMLU's 14,042 questions at one checkpoint.  This script writes a ladder of K checkpoint folders
(``OUT/<run>/step<N>/<model>/``, as ``lm_eval --output_path OUT/<run>/step<N>`` leaves them) of
one such task, the samples files hard-linked so the disk holds one copy, then times in this
process:

* baseline: every folder parsed one after another, no cache (the reader before the cache);
* cold: the same over the cores, filling the cache of tool outputs;
* warm: every folder from the cache;
* one more checkpoint: one folder parsed, the rest from the cache;
* the prediction cache's key for the folder (``serve._source_hash``): file fingerprints,
  against hashing every file's bytes.

The last line is the figure: each time and its ratio to the baseline.

    python benchmarks/ingest_speed.py [K checkpoints, default 16] [work folder, default a temp folder]
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import sys
import tempfile
import time
import warnings
from pathlib import Path

STAMP = "2026-11-23T11-22-47.515409"


def write_ladder(root: Path, k: int) -> tuple[Path, Path]:
    """K checkpoint folders of an MMLU-sized task; returns (OUT folder, size table)."""
    random.seed(0)
    src = Path(__file__).parent.parent / "tests" / "data" / "lm_eval_output"
    res = json.loads(next(src.rglob("results_*.json")).read_text())
    res["configs"] = {"mmlu_anatomy": res["configs"]["toyqa"]}
    shots = "".join(f"Question: lorem ipsum dolor sit amet {i}?\nA. one\nB. two\nC. three\nD. four\nAnswer: B\n\n"
                    for i in range(22))
    samples = root / "samples.jsonl"
    with open(samples, "w") as f:
        for i in range(14042):
            ctx = "The following are multiple choice questions (with answers) about anatomy.\n\n" + shots + \
                f"Question {i}: which?\nAnswer:"
            ch = [" A", " B", " C", " D"]
            f.write(json.dumps({"doc_id": i, "doc": {"choices": ch, "answer": i % 4}, "target": i % 4,
                                "arguments": {f"gen_args_{j}": {"arg_0": ctx, "arg_1": c} for j, c in enumerate(ch)},
                                "filtered_resps": [[str(-random.random() * 5), "False"] for _ in ch],
                                "acc": 0.0, "acc_norm": 0.0}) + "\n")
    out = root / "OUT"
    for i in range(k + 1):  # the last one is added later
        run, step = f"190M-{(1, 2, 5, 10)[i % 4]}xC", 1000 * (1 + i // 4)
        m = out / run / f"step{step}" / f"__ck__{run}__step{step}"
        m.mkdir(parents=True, exist_ok=True)
        res["config"]["model_args"]["pretrained"] = f"/ck/{run}/step{step}"
        (m / f"results_{STAMP}.json").write_text(json.dumps(res))
        os.link(samples, m / f"samples_mmlu_anatomy_{STAMP}.jsonl")
    sizes = root / "sizes.csv"
    sizes.write_text("size,n,batch_tokens\n190M,190354176,4194304\n")
    return out, sizes


def timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def main() -> None:
    warnings.simplefilter("ignore")
    k = int(sys.argv[1]) if len(sys.argv) > 1 else 16
    root = Path(sys.argv[2]) if len(sys.argv) > 2 else Path(tempfile.mkdtemp(prefix="taskladder-ingest-"))
    os.environ["TASKLADDER_CACHE"] = str(root / "cache")
    from taskladder import discover, results, serve
    from taskladder.results import load_sizes, read_results

    out, sizes_file = write_ladder(root, k)
    last = sorted(out.rglob(f"results_{STAMP}.json"))[-1].parent  # held back, then added
    hidden = last.parent.with_name(last.parent.name + ".later")
    last.parent.rename(hidden)
    sizes = load_sizes(sizes_file)
    data = sum(f.stat().st_size for f in discover.files_read([out]))
    print(f"{k} checkpoints, {data / 1e9:.2f} GB of lm-eval output")

    os.environ["TASKLADDER_NO_CACHE"] = "1"
    limit, results.PARALLEL_READ_BYTES = results.PARALLEL_READ_BYTES, float("inf")
    base = timed(lambda: read_results([out], sizes=sizes))
    results.PARALLEL_READ_BYTES = limit
    del os.environ["TASKLADDER_NO_CACHE"]
    cold = timed(lambda: read_results([out], sizes=sizes))
    warm = timed(lambda: read_results([out], sizes=sizes))
    hidden.rename(last.parent)
    grown = timed(lambda: read_results([out], sizes=sizes))
    key = timed(lambda: serve._source_hash([out], sizes_file, False))
    by_bytes = timed(lambda: [hashlib.sha256(f.read_bytes()).digest() for f in discover.files_read([out])])
    print(f"baseline, serial and uncached: {base:6.2f} s")
    print(f"cold, over {os.cpu_count()} cores:          {cold:6.2f} s")
    print(f"warm, from the cache:          {warm:6.2f} s")
    print(f"one checkpoint more:           {grown:6.2f} s")
    print(f"prediction key: {key * 1e3:.1f} ms by fingerprints, {by_bytes:.2f} s by bytes")
    print(f"read {k} checkpoints: cold {cold:.2f} s ({base / cold:.1f}x faster than serial), warm {warm:.2f} s "
          f"({base / warm:.0f}x), one more {grown:.2f} s ({base / grown:.0f}x); key {key * 1e3:.1f} ms "
          f"({by_bytes / key:.0f}x)")


if __name__ == "__main__":
    main()
