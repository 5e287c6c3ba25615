"""Benchmark: our numpy pass of a Llama-style decoder at SmolLM2-135M's real shapes against transformers' eager pass.

    python -m bench.llama [--quick]        (also a section of `python -m bench.run`: --only llama)

Random weights (no download): 30 layers, 9 heads, 3 KV heads, d_model 576, d_ff 1536, vocabulary 49,152. Ours
returns every layer's attention weights, Q/K/V and hidden states plus the top-20 next-token predictions and the
entropy at every position; torch eager returns the attentions and the full logits. Same run, interleaved.
"""

import argparse
import json

import numpy as np

from bench.backend import interleaved, matmul_gflops

SHAPE = dict(n_layer=30, n_head=9, n_kv_head=3, d_model=576, d_ff=1536, vocab=49152)
LENGTHS = (128, 512)
TARGET_RATIO, TARGET_FRACTION = 1.0, 0.40


class Tokenizer:  # the two methods predictions need: token strings are not what is measured
    decoder = None

    def id_to_token(self, i):
        return f"t{i}"

    def token_to_id(self, token):
        return None


def models():  # -> (transformers LlamaForCausalLM, eager; our Checkpoint with the same random weights)
    import torch
    import transformers

    from attention.models import llama
    from attention.models.families import Tensors
    from attention.models.loading import Checkpoint

    s = SHAPE
    raw = dict(model_type="llama", num_hidden_layers=s["n_layer"], num_attention_heads=s["n_head"],
               num_key_value_heads=s["n_kv_head"], hidden_size=s["d_model"], intermediate_size=s["d_ff"],
               vocab_size=s["vocab"], max_position_embeddings=2048, rope_theta=100000.0, tie_word_embeddings=True,
               rms_norm_eps=1e-5)  # fmt: skip
    torch.manual_seed(0)
    cfg = transformers.LlamaConfig(**{k: v for k, v in raw.items() if k != "model_type"}, attn_implementation="eager")
    model = transformers.LlamaForCausalLM(cfg).eval()
    tensors = {k: v.detach().numpy() for k, v in model.state_dict().items()}
    config = llama.read_config(raw)
    weights = llama.canonical_weights(Tensors(tensors, config), config)
    return model, Checkpoint("smollm2-shapes", None, "random", config, weights, Tokenizer())


def flops(c, vocab, n):  # -> matmul FLOPs of one pass with the output head: projections, attention, SwiGLU, logits
    d, dh = c.d_model, c.d_head
    proj = 2 * n * d * (c.n_head + 2 * c.n_kv_head) * dh + 2 * n * c.n_head * dh * d
    attn = 2 * 2 * n * n * c.n_head * dh
    mlp = 2 * n * d * 3 * c.d_ff
    return float(c.n_layer * (proj + attn + mlp) + 2 * n * d * vocab)


def main(quick=False, repeats=None):  # -> dict: the llama section of the report
    import torch

    from attention.models import forward, predict
    from attention.models.blocks import WORKERS

    model, ckpt = models()
    peak = matmul_gflops(repeats=3)
    rows = []
    for n in (32,) if quick else LENGTHS:
        ids = np.random.default_rng(n).integers(0, SHAPE["vocab"], n)
        tensor = torch.tensor(ids[None])

        def ours(ids=ids):
            out = forward(ckpt, ids)
            return predict(ckpt, out["hidden"][-1], ids)

        with torch.inference_mode():
            t = interleaved(
                {"ours": ours, "eager": lambda t=tensor: model(t, output_attentions=True, output_hidden_states=True)},
                repeats or (1 if quick else {128: 10, 512: 5}[n]),
                warmup=1,
            )
        gflops = flops(ckpt.config, SHAPE["vocab"], n) / t["ours"] / 1e9
        rows.append(dict(n_seq=n, ours_ms=round(t["ours"] * 1e3, 1), torch_eager_ms=round(t["eager"] * 1e3, 1),
                         ratio_vs_eager=round(t["ours"] / t["eager"], 2), gflops=round(gflops, 2),
                         fraction_of_matmul=round(gflops / peak, 3)))  # fmt: skip
        print(json.dumps(rows[-1]), flush=True)  # a long run on a busy machine shows each length as it finishes
    return dict(shape=SHAPE, torch_threads=torch.get_num_threads(), numpy_workers=WORKERS,
                matmul_gflops=round(peak, 2), rows=rows)  # fmt: skip


def markdown(r, targets):  # the llama section -> lines; appends (target, measured, met) to targets
    s = r["shape"]
    lines = ["## Llama-style decoder at SmolLM2-135M's shapes (random weights)", "",
             f"{s['n_layer']} layers, {s['n_head']} heads, {s['n_kv_head']} KV heads, d_model {s['d_model']}, "
             f"d_ff {s['d_ff']}, vocabulary {s['vocab']}. Ours: attentions, Q/K/V, hidden states and top-20 "
             f"predictions; torch eager ({r['torch_threads']} threads): attentions, hidden states and logits. "
             f"A float32 matmul reaches {r['matmul_gflops']} GFLOPS here.", "",
             "| n_seq | ours | torch eager | ours / eager | GFLOPS | of matmul |", "|---:|---:|---:|---:|---:|---:|"]  # fmt: skip
    for row in r["rows"]:
        lines.append(f"| {row['n_seq']} | {row['ours_ms']} ms | {row['torch_eager_ms']} ms | "
                     f"{row['ratio_vs_eager']}x | {row['gflops']} | {row['fraction_of_matmul']:.0%} |")  # fmt: skip
        if row["n_seq"] in LENGTHS:
            targets.append((f"Llama pass ≤ {TARGET_RATIO}x torch eager at {row['n_seq']}",
                            f"{row['ratio_vs_eager']}x", row["ratio_vs_eager"] <= TARGET_RATIO))  # fmt: skip
        if row["n_seq"] == 512:
            targets.append((f"Llama pass ≥ {TARGET_FRACTION:.0%} of matmul GFLOPS at 512",
                            f"{row['fraction_of_matmul']:.0%}", row["fraction_of_matmul"] >= TARGET_FRACTION))  # fmt: skip
    return lines + [""]


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one short input: checks that it runs")
    print(json.dumps(main(parser.parse_args().quick), indent=2))
