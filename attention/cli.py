"""The command line: `python -m attention export ...` writes a run to .npz/.json; `python -m attention models` lists models;
`python -m attention train --out DIR` trains the tiny GPT-2 (attention/train/cli.py).

Bad input ends in one line on stderr and exit status 1 (argparse's own usage errors exit 2), never a traceback.
"""

import argparse
import inspect
import sys
from pathlib import Path

from . import export, generate_cli, registry, subcommands
from .core import SIMILARITIES, check_temperature
from .train import cli as train_cli

# option dest -> the keyword registry.run takes; which models each option applies to
# (a real model's causality is its own: GPT-2 is causal, the encoders are not, so --causal is the lecture model's)
LECTURE_ONLY = {
    "heads": "n_head",
    "preset": "preset",
    "alpha": "alpha",
    "steps": "steps",
    "seed": "seed",
    "causal": "causal",
}
REAL_ONLY = {"model_dir": "model_dir", "hide_special": "hide_special", "full_logits": "full_logits"}
SHARED = {"temperature": "temperature", "similarity": "similarity", "max_tokens": "max_tokens"}

EXAMPLES = """examples:
  python -m attention export --text "we sat on the bank of the river" --out bank.npz
  python -m attention export --text "apple released a new phone" --heads 4 --preset designed --out apple.json
  echo "the animal didn't cross the street because it was too tired" | python -m attention export --text-file - --out it.npz
  python -m attention export --model minilm --text "the bank raised its rates" --hide-special --out minilm.npz
  python -m attention export --model bert --model-dir ./bert-base-uncased --text "hello world" --out bert.json
  python -m attention export --model-dir ./SmolLM2-135M --text "The capital of France is" --out smol.npz
  python -m attention models

reading an export in python:
  f = np.load("bank.npz"); f["attention"][0, 0]   # layer 0, head 0: [n_seq, n_seq], each row sums to 1
  f["tokens"], json.loads(str(f["settings"]))     # or: attention.export.load("bank.npz") for either format
"""


def lecture_defaults():  # -> {keyword: default} of the lecture model's run function, {} if it is not installed
    """The lecture model's own defaults, so --help shows what an omitted option means."""
    try:
        from .lecture import run_lecture
    except ImportError:
        return {}
    params = inspect.signature(run_lecture).parameters.values()
    return {p.name: p.default for p in params if p.default is not inspect.Parameter.empty}


def preset_names():  # -> the lecture model's weight presets, or None (any name) if it is not installed
    try:
        from .presets import PRESETS
    except ImportError:
        return None
    return list(PRESETS)


def temperature(text):  # str -> float > 0, refused with core's own message ("try 0.5-2")
    try:
        return check_temperature(float(text))
    except ValueError as e:
        message = str(e) if "temperature" in str(e) else f"temperature must be a number (got {text!r}); try 0.5-2"
        raise argparse.ArgumentTypeError(message) from None


class Parser(argparse.ArgumentParser):
    """argparse, with its usage errors on one line that points to --help."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser():  # -> argparse.ArgumentParser
    d = lecture_defaults()

    def default(key, fallback="the model's default"):  # -> "default: X" for the help text
        return f"default: {d[key]}" if key in d else fallback

    parser = Parser(
        prog="python -m attention",
        description="Attention, made visible: run text through a model and export every token's attention.",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    commands = parser.add_subparsers(dest="command", required=True)
    ex = commands.add_parser(
        "export",
        help="run text through a model and write its attention to .npz or .json",
        description="Run text through a model and write tokens, attention, scores, Q/K/V and hidden states to FILE.",
        epilog="exported keys (the same in .npz and .json):\n" + export.__doc__.split("\n", 3)[3] + "\n" + EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    names = registry.model_names()
    ex.add_argument(
        "--model",
        choices=names,
        help=f"which model (default: {registry.LECTURE}, or with --model-dir alone whatever architecture "
        "DIR/config.json names); `models` says which are available offline",
    )
    text = ex.add_mutually_exclusive_group(required=True)
    text.add_argument("--text", help='the text to run, e.g. "she ate a sweet apple"')
    text.add_argument("--text-file", metavar="FILE", help="read the text from a UTF-8 file instead; '-' reads stdin")
    ex.add_argument(
        "--out",
        required=True,
        metavar="FILE",
        help="where to write; the extension picks the format: .npz (numpy) or .json",
    )

    shared = ex.add_argument_group("attention settings (every model)")
    shared.add_argument(
        "--temperature",
        type=temperature,
        help=f"softmax temperature > 0: below 1 sharpens, above 1 flattens ({default('temperature', 'default: 1')})",
    )
    shared.add_argument(
        "--similarity",
        choices=SIMILARITIES,
        help=f"score = dot product QKᵀ/√d_head, or cosine of q and k ({default('similarity', 'default: dot')})",
    )
    shared.add_argument(
        "--max-tokens",
        type=int,
        metavar="N",
        help=f"keep the first N tokens, with a notice ({default('max_tokens')}; real models: their maximum)",
    )

    lecture = ex.add_argument_group("lecture model only")
    lecture.add_argument("--heads", type=int, metavar="N_HEAD", help=f"number of heads, 1-8 ({default('n_head')})")
    lecture.add_argument(
        "--preset",
        choices=preset_names(),
        help="W_q, W_k, W_v, W_o: identity (pure similarity), random (seeded), designed (a topic, a previous-token "
        f"and a self head, ...) ({default('preset')})",
    )
    lecture.add_argument(
        "--alpha",
        type=float,
        help=f"context pull strength in [0, 1]: x <- (1 - alpha) x + alpha attention(x) ({default('alpha')})",
    )
    lecture.add_argument(
        "--steps", type=int, help=f"pull steps, each one layer of the export, 1-8 ({default('steps')})"
    )
    lecture.add_argument(
        "--causal",
        action="store_true",
        default=None,
        help="causal mask: each token attends only to itself and earlier tokens (default: off; "
        "real models have their own: GPT-2 is causal, the encoders are not)",
    )
    lecture.add_argument("--seed", type=int, help=f"seed of the random preset ({default('seed')})")

    real = ex.add_argument_group("real models only")
    real.add_argument(
        "--model-dir",
        metavar="DIR",
        help="a local checkpoint directory (config.json, model.safetensors, tokenizer.json) instead of the "
        "installed bundle or the Hugging Face cache",
    )
    real.add_argument(
        "--hide-special",
        action="store_true",
        default=None,
        help="drop [CLS]/[SEP]-like tokens and renormalise each row (default: off)",
    )
    real.add_argument(
        "--full-logits",
        action="store_true",
        default=None,
        help="also export logits [n_seq, vocab] (large: Qwen's vocabulary is 151,936 wide); top-20 are always there",
    )

    ex.add_argument(
        "--with",
        dest="with_",
        metavar="NAMES",
        help="also write value-weighted attention and rollout: norms (value_norms, value_norms_layer), rollout; "
        "e.g. --with norms,rollout",
    )

    commands.add_parser(
        "models",
        help="list the models and whether each is available offline",
        description="List the models and whether each is available offline.",
    )
    train_cli.add_parser(commands)
    generate_cli.add_parser(commands)
    subcommands.register(commands)  # dashboard, figure, ...: see attention/subcommands.py
    return parser


def read_text(args):  # -> str, stripped; raises ValueError/OSError with a message for the user
    if args.text is not None:
        text = args.text
    elif args.text_file == "-":
        text = sys.stdin.read()
    else:
        try:
            text = Path(args.text_file).read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise ValueError(f"cannot read {args.text_file!r} as UTF-8 text") from None
    if not text.strip():
        raise ValueError('the text is empty; give --text "some words" or a --text-file that holds some')
    return text.strip()


def run_settings(args):  # -> {keyword: value} for registry.run: only the options the user gave
    chosen = {
        dest: getattr(args, dest) for dest in LECTURE_ONLY | REAL_ONLY | SHARED if getattr(args, dest) is not None
    }
    wrong = REAL_ONLY if args.model == registry.LECTURE else LECTURE_ONLY
    misplaced = ["--" + dest.replace("_", "-") for dest in wrong if dest in chosen]
    if misplaced:
        kind = "real models" if args.model == registry.LECTURE else "the lecture model"
        raise ValueError(f"{', '.join(misplaced)} applies to {kind} only, not --model {args.model}")
    return {(LECTURE_ONLY | REAL_ONLY | SHARED)[dest]: value for dest, value in chosen.items()}


def export_command(args):  # -> exit status
    export.check_format(args.out)  # before the model runs: a wrong extension fails fast
    if args.model is None:  # --model-dir alone runs whatever its config.json names
        args.model = registry.LOCAL if args.model_dir else registry.LECTURE
    settings = run_settings(args)
    run = registry.run(args.model, read_text(args), **settings)
    known = set((LECTURE_ONLY | SHARED).values())
    defaults = {k: v for k, v in lecture_defaults().items() if k in known} if args.model == registry.LECTURE else {}
    extra = None
    if args.with_ is not None:  # value norms and rollout (attention.flow_models)
        from .flow_models import export_arrays, parse_with

        extra = export_arrays(run, parse_with(args.with_), args.model, defaults | settings, args.model_dir)
    path = export.write(run, args.out, settings=defaults | settings, extra=extra)  # asked, with the model's defaults
    for notice in run.notices:
        print(f"note: {notice}", file=sys.stderr)
    shape = list(run.weights.shape)
    print(
        f"wrote {path}: {run.n_seq} tokens, model {run.model}, attention/scores {shape}, "
        f"queries/keys/values {list(run.queries.shape)}, hidden {list(run.hidden.shape)}"
        + (f", top-20 predictions ({run.predictions.kind})" if getattr(run, "predictions", None) else "")
    )
    return 0


def models_command(args):  # -> exit status
    available = set(getattr(registry, "available_models", registry.model_names)())
    describe = getattr(registry, "describe", lambda name: "")
    for name in registry.model_names():
        status = "available offline" if name in available else "not found (use --model-dir DIR)"
        print(f"{name:12s} {status:32s} {describe(name)}".rstrip())
    return 0


def main(argv=None):  # -> exit status
    argv, extra = subcommands.split_passthrough(sys.argv[1:] if argv is None else list(argv))
    args = build_parser().parse_args(argv)
    args.extra = extra  # `attention dashboard --server.port 8502`: Streamlit's options, unparsed
    builtin = {
        "export": export_command,
        "models": models_command,
        "train": train_cli.command,
        "generate": generate_cli.command,
    }
    command = getattr(args, "handler", None) or builtin[args.command]
    try:
        return command(args)
    except ImportError as e:  # a missing package (or a half-installed checkout), not the user's input
        return fail(f"{e}; run `bash scripts/setup.sh` to install what the project needs")
    except OSError as e:  # a file that cannot be read or written
        return fail(f"{e.strerror}: {e.filename}" if e.strerror and e.filename else str(e))
    except ValueError as e:  # the backend's messages already say what to do
        return fail(str(e))


def fail(message):  # -> exit status 1, after one line on stderr
    print(f"error: {(message.strip().splitlines() or ['failed'])[0]}", file=sys.stderr)
    return 1
