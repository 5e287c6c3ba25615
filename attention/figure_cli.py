"""Write the figure a page shows to a file: `attention figure --model M --text T --view V --out fig.svg`.

--out picks the format: .html (interactive, plotly.js embedded: opens offline, keeps the hover), .svg or .png
(rendered by Kaleido in the Chromium on this machine: $BROWSER_PATH, else chromium / google-chrome on $PATH).

examples:
  attention figure --text "she ate a sweet apple" --view weights --out apple.svg
  attention figure --text "apple released a new phone" --heads 4 --preset designed --view heads --out heads.png
  attention figure --model minilm --text "we sat on the bank of the river" --view heads --layer 2 --out bank.html
  attention figure --text "she ate a sweet apple" --view pull --word apple --out pull.html
"""

import sys

HELP = "write the figure of one view (weights, stages, heads, pull, steps) to .html, .svg or .png"
VIEW_OPTIONS = {"stage": "stage", "word": "word", "part": "part", "components": "k"}


def add_arguments(p):
    from . import registry
    from .cli import temperature
    from .core import SIMILARITIES
    from .figure_file import HEIGHT, SCALE, WIDTH
    from .views import STEP_PARTS, VIEWS

    p.add_argument("--model", choices=registry.model_names(), default=registry.LECTURE, help="default: lecture")
    text = p.add_mutually_exclusive_group(required=True)
    text.add_argument("--text", help='the text to run, e.g. "she ate a sweet apple"')
    text.add_argument("--text-file", metavar="FILE", help="read the text from a UTF-8 file; '-' reads stdin")
    p.add_argument("--view", choices=list(VIEWS), default="weights", help="which figure (default: weights)")
    p.add_argument("--out", required=True, metavar="FILE", help="fig.html, fig.svg or fig.png")
    where = p.add_argument_group("what the view shows")
    where.add_argument("--layer", type=int, help="layer, from 0 (default: 0)")
    where.add_argument("--head", type=int, help="head, from 0 (default: 0; heads: none outlined)")
    where.add_argument(
        "--stage", choices=["all", "raw", "scaled", "masked", "weights"], help="stages view (default: all)"
    )
    where.add_argument("--word", help="pull view: the token to follow (default: the ambiguous word)")
    where.add_argument("--components", type=int, choices=(2, 3), help="pull view: PCA components (default: 2)")
    where.add_argument("--part", choices=STEP_PARTS, help="steps view: which row of the computation (default: qkv)")
    where.add_argument("--present", action="store_true", help="presentation mode: larger fonts, as on a projector")
    size = p.add_argument_group("size (.svg and .png)")
    size.add_argument("--width", type=int, default=WIDTH, help=f"px (default: {WIDTH})")
    size.add_argument("--height", type=int, default=HEIGHT, help="px (default: the figure's own height)")
    size.add_argument("--scale", type=float, default=SCALE, help=f".png pixels per px (default: {SCALE})")
    model = p.add_argument_group("model settings (as for `export`)")
    model.add_argument("--temperature", type=temperature, help="softmax temperature > 0 (default: 1)")
    model.add_argument("--similarity", choices=SIMILARITIES, help="dot (default) or cosine")
    model.add_argument("--max-tokens", type=int, metavar="N", help="keep the first N tokens")
    model.add_argument("--heads", type=int, metavar="N_HEAD", help="lecture model: heads, 1-8")
    model.add_argument("--preset", help="lecture model: identity, random or designed")
    model.add_argument("--alpha", type=float, help="lecture model: context pull strength in [0, 1]")
    model.add_argument("--steps", type=int, help="lecture model: pull steps, 1-8")
    model.add_argument("--seed", type=int, help="lecture model: seed of the random preset")
    model.add_argument("--causal", action="store_true", default=None, help="lecture model: causal mask")
    model.add_argument("--model-dir", metavar="DIR", help="real models: a local checkpoint folder")
    model.add_argument("--hide-special", action="store_true", default=None, help="real models: drop [CLS]/[SEP]")


def chosen(args, names):  # -> {keyword: value} of the options given
    return {key: getattr(args, dest) for dest, key in names.items() if getattr(args, dest, None) is not None}


def model_settings(args):  # -> {keyword: value} for registry.run, checked as `export` checks them
    from . import cli

    for dest in cli.LECTURE_ONLY | cli.REAL_ONLY | cli.SHARED:  # an export-only option (if any): not given
        if not hasattr(args, dest):
            setattr(args, dest, None)
    return cli.run_settings(args)


def main(args):  # -> exit status
    from . import api, figure_file
    from .cli import read_text

    figure_file.check_format(args.out)  # before the model runs: a wrong extension fails fast
    run = api.run(args.model, read_text(args), **model_settings(args))
    options = chosen(args, VIEW_OPTIONS) | {"present": args.present}
    options |= {k: v for k, v in (("layer", args.layer), ("head", args.head)) if v is not None}
    fig = api.show(run, args.view, **options)
    try:
        path = figure_file.write(fig, args.out, f"{args.view}-{run.model}", args.width, args.height, args.scale)
    except RuntimeError as e:  # no Chromium, no Kaleido: the message says what to install
        raise ValueError(str(e)) from None
    for notice in run.notices:
        print(f"note: {notice}", file=sys.stderr)
    print(f"wrote {path}: view {args.view}, model {run.model}, {run.n_seq} tokens")
    return 0
