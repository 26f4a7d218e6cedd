"""`dpo-studio` — one command line for the whole tool.

Data commands (import, export, stats) come from studio.cli_data; model commands (sft, sample, chat, train) are the
trainer's own parsers, so `dpo-studio train ...` and `python -m trainer train ...` are the same program.
"""
from __future__ import annotations

import argparse
import os
import sys

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def build_parser() -> argparse.ArgumentParser:
    from trainer.cli import add_commands as add_model_commands

    from .cli_data import add_data_commands

    parser = argparse.ArgumentParser(prog="dpo-studio", description="Label preferences, export them, train DPO.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_serve_command(sub)
    add_data_commands(sub)
    add_model_commands(sub, export_command="export-model")
    return parser


def add_serve_command(sub) -> None:
    from .settings import add_settings_args

    p = sub.add_parser("serve", help="open the studio in the browser")
    add_settings_args(p)
    p.set_defaults(func=run_serve)


def run_serve(args) -> int:
    from trainer.spec import resolve

    from .settings import Settings
    from .ui.app import launch

    settings = Settings.from_args(args)
    resolve(settings.model)  # a model that cannot be found stops the start with its reason (exit 1)
    launch(settings)
    return 0


def main(argv: list[str] | None = None) -> int:
    from trainer.cli import run_command
    return run_command(build_parser().parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
