"""Benchmark: our token-by-token generation with the KV cache against transformers' generate with its cache.

    python -m bench.generate [--quick]        (also a section of `python -m bench.run`: --only generate)

Random weights (no download) at GPT-2 small's and SmolLM2-135M's shapes; 32 new tokens, greedy, after 16- and
256-token prompts. Both record each step's attention (transformers: eager, output_attentions=True); ours also keeps
each step's top-20 before and after sampling's reshaping. Also our cost without the cache: a full pass over the
whole sequence for every token, which is what the cache saves (timed after the 16-token prompt). Same run,
interleaved.
"""

import argparse
import json

import numpy as np

from bench.backend import interleaved
from bench.llama import Tokenizer

PROMPTS, NEW = (16, 256), 32
TARGET_RATIO = 1.0  # our tokens/s at least transformers'
NO_CACHE_AT = 16  # the prompt length at which the full recompute is timed too (at 256 it takes minutes on 2 CPUs)


def gpt2_models():  # -> (transformers GPT2LMHeadModel, eager; our Checkpoint with the same random weights)
    import torch
    import transformers

    from attention.models import gpt2
    from attention.models.families import Tensors
    from attention.models.loading import Checkpoint

    torch.manual_seed(0)
    cfg = transformers.GPT2Config(attn_implementation="eager")  # 12 layers, 12 heads, d_model 768, vocab 50,257
    model = transformers.GPT2LMHeadModel(cfg).eval()
    tensors = {k: v.detach().numpy() for k, v in model.state_dict().items()}
    config = gpt2.read_config(cfg.to_dict() | {"model_type": "gpt2"})
    weights = gpt2.canonical_weights(Tensors(tensors, config), config)
    return model, Checkpoint("gpt2-shapes", None, "random", config, weights, Tokenizer())


def llama_models():
    from bench.llama import models

    return models()


MODELS = {"gpt2 small": gpt2_models, "smollm2-135m": llama_models}


def case(model, ckpt, n_prompt, repeats, no_cache):  # -> dict: one row of the report
    import torch

    from attention.generate import generate

    ids = np.random.default_rng(n_prompt).integers(0, ckpt.weights["word"].shape[0], n_prompt)
    tensor = torch.tensor(ids[None])
    out = {}

    def ours():
        out["ours"] = generate(ckpt, ids, NEW).ids

    def theirs():
        with torch.inference_mode():
            g = model.generate(tensor, attention_mask=torch.ones_like(tensor), max_new_tokens=NEW, min_new_tokens=NEW,
                               do_sample=False, use_cache=True, output_attentions=True, return_dict_in_generate=True,
                               pad_token_id=0)  # fmt: skip
        out["theirs"] = g.sequences[0].numpy()

    t = interleaved({"ours": ours, "theirs": theirs}, repeats, warmup=1, settle=0.0)
    row = dict(n_prompt=n_prompt, new=NEW, ours_tok_s=round(NEW / t["ours"], 1),
               transformers_tok_s=round(NEW / t["theirs"], 1), ratio=round(t["theirs"] / t["ours"], 2),
               same_ids=bool(np.array_equal(out["ours"], out["theirs"])))  # fmt: skip
    if no_cache:
        t_full = interleaved({"full": lambda: generate(ckpt, ids, NEW, use_cache=False)}, 1, warmup=0, settle=0.0)
        row |= dict(no_cache_tok_s=round(NEW / t_full["full"], 1), cache_speedup=round(t_full["full"] / t["ours"], 1))
    return row


def main(quick=False, repeats=None):  # -> dict: the generate section of the report
    import torch

    results = {}
    for name, build in MODELS.items():
        model, ckpt = build()
        rows = []
        for n in (16,) if quick else PROMPTS:
            rows.append(case(model, ckpt, n, repeats or (1 if quick else 3), no_cache=n == NO_CACHE_AT))
            print(json.dumps({"model": name, **rows[-1]}), flush=True)
        results[name] = rows
    return dict(torch_threads=torch.get_num_threads(), models=results)


def markdown(r, targets):  # the generate section -> lines; appends (target, measured, met) to targets
    lines = ["## Generation with the KV cache (random weights)", "",
             f"{NEW} new tokens, greedy, each step's attention kept. transformers: generate with its cache, eager, "
             f"output_attentions=True ({r['torch_threads']} threads). Without the cache: our full pass over the "
             "whole sequence for every token.", "",
             "| model | prompt | ours tok/s | transformers tok/s | ours / transformers | same ids | no cache tok/s "
             "| cache speed-up |", "|---|---:|---:|---:|---:|---|---:|---:|"]  # fmt: skip
    for name, rows in r["models"].items():
        for row in rows:
            lines.append(f"| {name} | {row['n_prompt']} | {row['ours_tok_s']} | {row['transformers_tok_s']} | "
                         f"{row['ratio']}x | {'yes' if row['same_ids'] else 'no'} | {row.get('no_cache_tok_s', '—')} | "
                         f"{str(row['cache_speedup']) + 'x' if 'cache_speedup' in row else '—'} |")  # fmt: skip
            targets.append((f"generation ≥ {TARGET_RATIO}x transformers' tokens/s, {name}, {row['n_prompt']}-token "
                            "prompt", f"{row['ratio']}x", row["ratio"] >= TARGET_RATIO))  # fmt: skip
    return lines + [""]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one short prompt: checks that it runs")
    print(json.dumps(main(parser.parse_args().quick), indent=2))
