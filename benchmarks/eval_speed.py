"""taskladder's scorer against lm-evaluation-harness on the same model and requests.

Both score the same loglikelihood requests (OLMES 5-shot HellaSwag by default, bundled) with the
same randomly initialised OLMo 2 model (Hugging Face transformers, CPU, fp32):
lm-eval's HFLM backend runs every (context, continuation) request; taskladder runs
the shared few-shot prefix once, each question once and only the choices per choice.
The last line reads ``speedup=<x> max_abs_dll=<y>`` (y: largest difference of any
per-choice log-likelihood, nats).

    pip install lm-eval    # benchmark-only dependency
    python benchmarks/eval_speed.py [--questions 40]
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings

import numpy as np


def build_model(folder: str, text: str, hidden: int = 512, layers: int = 8):
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import Olmo2Config, Olmo2ForCausalLM, PreTrainedTokenizerFast

    tk = Tokenizer(models.BPE())
    tk.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tk.decoder = decoders.ByteLevel()
    tk.train_from_iterator([text], trainers.BpeTrainer(vocab_size=2000, special_tokens=["<pad>", "<eos>"],
                                                        initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    tok = PreTrainedTokenizerFast(tokenizer_object=tk, pad_token="<pad>", eos_token="<eos>")
    torch.manual_seed(0)
    cfg = Olmo2Config(vocab_size=2048, hidden_size=hidden, intermediate_size=4 * hidden, num_hidden_layers=layers,
                      num_attention_heads=4, num_key_value_heads=4, max_position_embeddings=2048,
                      pad_token_id=0, bos_token_id=None, eos_token_id=1)
    Olmo2ForCausalLM(cfg).save_pretrained(folder)
    tok.save_pretrained(folder)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--questions", type=int, default=40)
    ap.add_argument("--task", default="hellaswag")
    args = ap.parse_args()
    warnings.filterwarnings("ignore")

    import torch
    from lm_eval.api.instance import Instance
    from lm_eval.models.huggingface import HFLM

    from taskladder.evaluation import Scorer, bundled_task, load_model

    torch.set_num_threads(torch.get_num_threads())
    task = bundled_task(args.task, limit=args.questions)
    corpus = task.prefix + "".join(it.question + "".join(it.choices) for it in task.items)
    with tempfile.TemporaryDirectory() as d:
        build_model(d, corpus)
        model, tok = load_model(d)
        scorer = Scorer(model, tok)

        t = time.perf_counter()
        ours, _ = scorer.loglikelihoods(task.prefix, [it.question for it in task.items],
                                        [it.choices for it in task.items])
        t_ours = time.perf_counter() - t

        lm = HFLM(pretrained=model, tokenizer=tok, batch_size=16, device="cpu")
        reqs = [Instance(request_type="loglikelihood", doc={}, arguments=(task.prefix + it.question, c), idx=j)
                for it in task.items for j, c in enumerate(it.choices)]
        t = time.perf_counter()
        theirs = lm.loglikelihood(reqs, disable_tqdm=True)
        t_lmeval = time.perf_counter() - t

    ours_flat = np.concatenate(ours)
    theirs_flat = np.array([ll for ll, _ in theirs])
    dll = float(np.max(np.abs(ours_flat - theirs_flat)))
    n_req = len(reqs)
    print(f"task {args.task}: {len(task.items)} questions, {n_req} requests, 5-shot prefix "
          f"{len(tok(task.prefix)['input_ids'])} tokens; model 8x512 OLMo 2, CPU fp32")
    print(f"lm-evaluation-harness (hf backend): {t_lmeval:7.2f} s")
    print(f"taskladder:                         {t_ours:7.2f} s")
    print(f"speedup={t_lmeval / t_ours:.1f} max_abs_dll={dll:.2e}")


if __name__ == "__main__":
    main()
