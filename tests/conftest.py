import os
import subprocess
import sys
from pathlib import Path

import pytest

DATA = Path(__file__).parent / "data"
SHARED = Path(__file__).resolve().parents[2] / "shared" / "data" / "olmo2-ladder"


def _share_the_cores_among_workers() -> None:
    """Give each pytest-xdist worker, and every process it starts, its share of the cores for
    torch's and BLAS's thread pools, unless the environment already sets them.

    Every worker runs a test file at once, so a pool of one thread per core in each of them
    oversubscribes the cores, and OpenMP threads spin while they wait for each other: on this
    2-core machine test_training.py and test_trust.py on two workers took 411 s and 673 CPU-s
    with two-thread pools, 354 s and 537 CPU-s with one (docs/speed.md, "The test command's
    threads").  Set here, when the module is imported, before any test imports torch or numpy."""
    from taskladder.parallel import workers  # the cores this process may use; imports no numpy

    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT") or 0)
    if not os.environ.get("PYTEST_XDIST_WORKER") or count < 1:
        return
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(var, str(max(1, workers() // count)))


_share_the_cores_among_workers()


#: The test files that take longest, started first: under pytest-xdist (--dist loadfile) a long
#: file started last would leave the other worker idle until it ends.  Only the order changes.
#: Ranked by a run of the whole suite on 2 workers on this 2-core machine (--durations, second
#: run of 2026-12-06): 318, 193, 163, 106, 104, 103, 79, 69, 59, 48, 47, 33, 30 and 17 s.
SLOWEST_FIRST = ["test_training.py", "test_trust.py", "test_auto_simulation.py", "test_minimums.py", "test_cache.py",
                 "test_ingest.py", "test_evaluation.py", "test_compare.py", "test_cli.py", "test_report.py",
                 "test_uneven_ladders.py", "test_own_tasks.py", "test_describe.py", "test_fuzz.py"]


def pytest_configure(config):
    if getattr(config.option, "loadscopereorder", None):
        config.option.loadscopereorder = False  # xdist would order files by their number of tests instead


def pytest_collection_modifyitems(session, config, items):
    rank = {name: i for i, name in enumerate(SLOWEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable: each file's own order kept


def tiny_model(folder, text: str, hidden=32, layers=2, seed=0, vocab=300, max_pos=256, eos=False):
    """A randomly initialised OLMo 2 model with a byte-level BPE tokenizer trained on ``text``,
    saved as a Hugging Face folder (needs the eval extra).  ``eos`` gives the tokenizer an
    end-of-text token, which lm-evaluation-harness requires."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import Olmo2Config, Olmo2ForCausalLM, PreTrainedTokenizerFast

    special = ["<pad>", "<eos>"] if eos else ["<pad>"]
    tk = Tokenizer(models.BPE())
    tk.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tk.decoder = decoders.ByteLevel()
    tk.train_from_iterator([text], trainers.BpeTrainer(vocab_size=vocab, special_tokens=special,
                                                        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    tok = PreTrainedTokenizerFast(tokenizer_object=tk, pad_token="<pad>", eos_token="<eos>" if eos else None)
    torch.manual_seed(seed)
    cfg = Olmo2Config(vocab_size=vocab + 20, hidden_size=hidden, intermediate_size=2 * hidden,
                      num_hidden_layers=layers, num_attention_heads=4, num_key_value_heads=4,
                      max_position_embeddings=max_pos, pad_token_id=0, bos_token_id=None,
                      eos_token_id=1 if eos else None)
    Olmo2ForCausalLM(cfg).save_pretrained(folder)
    tok.save_pretrained(folder)
    return folder


def piqa_shifted_files(folder: Path) -> tuple[Path, Path]:
    """``base.csv``: the bundled ladder's PIQA rows; ``cand.csv``: the same with every checkpoint's
    accuracy 2 points higher (a known difference for the comparison tests)."""
    from taskladder.datasets import olmo2_ladder

    base = olmo2_ladder().ladder
    base = base[base["task"] == "piqa"].reset_index(drop=True)
    cand = base.copy()
    cand.loc[cand["metric"] == "acc", "value"] += 0.02
    base.to_csv(folder / "base.csv", index=False)
    cand.to_csv(folder / "cand.csv", index=False)
    return folder / "base.csv", folder / "cand.csv"


def run_cli(*args, cwd=None):
    """Run the installed CLI in a subprocess, as a user would."""
    return subprocess.run([sys.executable, "-m", "taskladder.cli", *map(str, args)],
                          capture_output=True, text=True, cwd=cwd)


_PROBE = ("import sys\nfrom taskladder.cli import main\nsys.argv = ['taskladder', *sys.argv[1:]]\n"
          "try:\n    main()\nexcept SystemExit:\n    pass\n"
          "print(sorted(m for m in ('pandas', 'scipy', 'pyarrow', 'pydantic') if m in sys.modules), file=sys.stderr)")


def probe_cli(cache_dir, *args):
    """The CLI run in a subprocess with the cache in ``cache_dir``, printing to stderr last which
    of pandas, scipy, pyarrow and pydantic it imported (:func:`imported`): a warm command must
    import none (pydantic: typer 0.29 coerces every option through it, pyproject.toml)."""
    env = {**os.environ, "TASKLADDER_CACHE": str(cache_dir)}
    env.pop("TASKLADDER_NO_CACHE", None)
    return subprocess.run([sys.executable, "-c", _PROBE, *map(str, args)], capture_output=True, text=True, env=env)


def imported(run) -> str:
    """The heavy modules a :func:`probe_cli` run imported, as it printed them ("[]": none)."""
    return run.stderr.strip().splitlines()[-1]


@pytest.fixture(scope="session", autouse=True)
def private_cache(tmp_path_factory):
    """Every test (and every CLI it starts) uses a fresh cache of fits, never the user's.

    Under pytest-xdist the workers of one run share it (the folder beside their own temp
    folders): entries are keyed by content and written atomically, and several test files on
    different workers fit the bundled ladder's automatic choice, which is then fitted once."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        shared = tmp_path_factory.getbasetemp().parent / "taskladder-cache"
        shared.mkdir(exist_ok=True)
        os.environ["TASKLADDER_CACHE"] = str(shared)
    else:
        os.environ["TASKLADDER_CACHE"] = str(tmp_path_factory.mktemp("taskladder-cache"))
    os.environ.pop("TASKLADDER_NO_CACHE", None)
    yield
