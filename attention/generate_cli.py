"""`python -m attention generate`: write a token-by-token generation with each step's attention to JSON.

Registered by attention/cli.py with `add_parser(commands)`; `command(args)` runs it.
"""

import argparse
import json
from pathlib import Path

EXAMPLES = """examples:
  python -m attention generate --model gpt2 --prompt "The capital of France is" --max-new-tokens 8 --out gen.json
  python -m attention generate --model-dir ./SmolLM2-135M --prompt "Once upon a time" --max-new-tokens 16 \\
      --temperature 0.8 --top-k 40 --top-p 0.9 --seed 1 --out story.json

gen.json: model, prompt_tokens, tokens (prompt + generated), ids, stop, sampling, shape and steps: per step the
chosen id, token, prob (the model's), prob_after (after temperature/top-k/top-p), cache_bytes, probs (top-20 ids,
tokens, probabilities and after) and attention [n_layer, n_head, n_seq_so_far], the newest token's row.
"""


def add_parser(commands):  # the `generate` subcommand on an argparse subparsers object
    from . import registry

    gen = commands.add_parser(
        "generate",
        help="generate text from a decoder, token by token, and write each step's attention to .json",
        description="Generate text token by token with the KV cache and write each step's attention and "
        "next-token probabilities to a JSON file.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    gen.add_argument("--model", choices=[m for m in registry.model_names() if m != registry.LECTURE],
                     help="a decoder (gpt2, smollm2, qwen2.5, qwen3); with --model-dir alone: what DIR holds")  # fmt: skip
    gen.add_argument("--model-dir", metavar="DIR", help="a local checkpoint folder (config.json, model.safetensors, "
                     "tokenizer.json)")  # fmt: skip
    gen.add_argument("--prompt", required=True, help='the start of the text, e.g. "The capital of France is"')
    gen.add_argument("--max-new-tokens", type=int, default=16, metavar="N", help="at most N new tokens (default 16)")
    gen.add_argument("--greedy", action="store_true", help="always take the most likely token (the default when "
                     "no --temperature, --top-k or --top-p is given)")  # fmt: skip
    gen.add_argument("--temperature", type=float, metavar="T", help="sample from softmax(logits / T) (default 1)")
    gen.add_argument("--top-k", type=int, metavar="K", help="sample among the K most likely tokens (0: all)")
    gen.add_argument("--top-p", type=float, metavar="P", help="sample in the smallest set holding mass P (1: all)")
    gen.add_argument("--seed", type=int, default=0, metavar="S", help="seed of numpy's Generator (default 0)")
    gen.add_argument("--out", required=True, metavar="FILE", help="where to write the .json")
    return gen


def sampling(args):  # -> Sampling from the options; --greedy with a sampling option is refused
    from .generate import Sampling

    chosen = {k: getattr(args, k) for k in ("temperature", "top_k", "top_p") if getattr(args, k) is not None}
    if args.greedy and chosen:
        given = ", ".join("--" + k.replace("_", "-") for k in chosen)
        raise ValueError(f"--greedy takes the most likely token, so {given} would do nothing; drop one of them")
    return Sampling(greedy=not chosen, seed=args.seed, **chosen).checked()


def command(args):  # -> exit status
    from . import registry
    from .generate import generate, to_json
    from .models import load

    if Path(args.out).suffix.lower() != ".json":
        raise ValueError(f"--out must end in .json (got {args.out!r})")
    how = sampling(args)
    if args.model is None and not args.model_dir:
        raise ValueError("name a decoder: --model gpt2 (or smollm2, qwen2.5, qwen3), or --model-dir DIR")
    ckpt = load(args.model or registry.LOCAL, model_dir=args.model_dir)
    gen = generate(ckpt, args.prompt, args.max_new_tokens, how)
    Path(args.out).write_text(json.dumps(to_json(gen), ensure_ascii=False))
    new = "".join(s.token for s in gen.steps)
    print(f"wrote {args.out}: {len(gen.prompt_ids)} prompt tokens + {len(gen.steps)} new ({gen.stop}): {new}")
    return 0
