"""Everything the studio needs to know at start-up, from the command line, the environment, or defaults."""
from __future__ import annotations

import argparse
import os
from dataclasses import dataclass, field
from pathlib import Path

from trainer.paths import ASSETS_DIR
from trainer.spec import default_spec


@dataclass
class Settings:
    db: Path = Path("studio.db")
    runs_dir: Path = Path("runs")
    model: str = field(default_factory=default_spec)  # a model spec: SmolLM2 when its package is installed
    host: str = "127.0.0.1"
    port: int = 7860
    auth: list[tuple[str, str]] = field(default_factory=list)  # empty: no login, annotators type their name
    guidelines: Path = ASSETS_DIR / "guidelines.md"

    @classmethod
    def from_args(cls, args: argparse.Namespace) -> "Settings":
        return cls(db=Path(args.db), runs_dir=Path(args.runs_dir), model=args.model, host=args.host,
                   port=args.port, auth=parse_auth(args.auth), guidelines=Path(args.guidelines))


def parse_auth(entries: list[str]) -> list[tuple[str, str]]:
    """Each entry is user:pass, or a file with one user:pass per line ('#' comments allowed)."""
    pairs = []
    for entry in entries:
        lines = Path(entry).read_text(encoding="utf-8").splitlines() if Path(entry).is_file() else [entry]
        for n, line in enumerate(lines, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            user, sep, password = line.partition(":")
            if not sep or not user or not password:
                where = f"{entry}, line {n}" if Path(entry).is_file() else repr(entry)
                raise ValueError(f"--auth {where}: expected user:password")
            pairs.append((user, password))
    return pairs


def add_settings_args(p: argparse.ArgumentParser) -> None:
    env = os.environ.get
    d = Settings()
    p.add_argument("--db", default=env("DPO_STUDIO_DB", str(d.db)), help="SQLite file (created if missing)")
    p.add_argument("--runs-dir", default=env("DPO_STUDIO_RUNS", str(d.runs_dir)), help="where training runs live")
    p.add_argument("--model", default=env("DPO_STUDIO_MODEL", str(d.model)),
                   help="model for candidates and the default base model: tiny, smollm2-135m-instruct, a checkpoint "
                        "or Hugging Face directory, or a .gguf file (default: SmolLM2 when installed, else tiny)")
    p.add_argument("--host", default=env("DPO_STUDIO_HOST", d.host), help="bind address (default: this machine only)")
    p.add_argument("--port", type=int, default=int(env("DPO_STUDIO_PORT", d.port)))
    p.add_argument("--auth", action="append", default=[], metavar="FILE|USER:PASS",
                   help="require login; repeat for several annotators")
    p.add_argument("--guidelines", default=str(d.guidelines), help="markdown shown to annotators")
