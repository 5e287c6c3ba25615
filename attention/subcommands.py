"""Subcommands of `attention` / `python -m attention` beyond export and models: one line each in SUBCOMMANDS.

A subcommand is a module with HELP (one line), add_arguments(parser) and main(args) -> exit status; its heavy
imports go inside main, so `attention --help` stays quick. PASSTHROUGH = True hands every argument after the
subcommand's name to it unparsed (args.extra), as `attention dashboard --server.port 8502` does for Streamlit.
"""

import argparse
import importlib

SUBCOMMANDS = {  # name -> module
    "dashboard": "attention.dashboard",
    "figure": "attention.figure_cli",
}
HELP_FLAGS = ("-h", "--help")


def register(commands):  # the `add_subparsers` action of cli.build_parser
    """Add every subcommand of SUBCOMMANDS, with its module's main as the handler."""
    for name, module_name in SUBCOMMANDS.items():
        module = importlib.import_module(module_name)
        parser = commands.add_parser(name, help=module.HELP, description=module.__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
        module.add_arguments(parser)
        parser.set_defaults(handler=module.main)


def split_passthrough(argv):  # list[str] -> (what argparse reads, what goes to the subcommand unparsed)
    """`dashboard --server.port 8502` -> (["dashboard"], ["--server.port", "8502"]); `dashboard --help` is ours."""
    if argv and argv[0] in SUBCOMMANDS and getattr(importlib.import_module(SUBCOMMANDS[argv[0]]), "PASSTHROUGH", False):
        if not any(a in HELP_FLAGS for a in argv[1:2]):
            return argv[:1], argv[1:]
    return argv, []
