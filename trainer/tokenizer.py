"""SentencePiece tokenizer with the chat role markers as control symbols.

Control symbols are only ever inserted by id: sentencepiece never produces them when encoding text, so nothing an
annotator types (not even the literal string "<EOA>") can open or close a turn.
"""
from __future__ import annotations

import io
from pathlib import Path
from typing import Iterable

import sentencepiece as spm

ROLE_TOKENS = ("<SOT>", "<EOT>", "<SOU>", "<EOU>", "<SOA>", "<EOA>", "<PAD>")


class Tokenizer:
    def __init__(self, model_proto: bytes):
        self.proto = model_proto
        self.sp = spm.SentencePieceProcessor(model_proto=model_proto)
        for name in ROLE_TOKENS:
            tid = self.sp.piece_to_id(name)
            if tid == self.sp.unk_id() or not self.sp.is_control(tid):
                raise ValueError(f"tokenizer model lacks the control symbol {name}")
            setattr(self, name.strip("<>").lower(), tid)  # self.sot, self.eot, ..., self.pad

    @classmethod
    def load(cls, path: str | Path) -> "Tokenizer":
        return cls(Path(path).read_bytes())

    def save(self, path: str | Path) -> None:
        Path(path).write_bytes(self.proto)

    @property
    def vocab_size(self) -> int:
        return self.sp.get_piece_size()

    def encode(self, text: str) -> list[int]:
        return self.sp.encode(text, out_type=int)

    def decode(self, ids: Iterable[int]) -> str:
        return self.sp.decode([int(i) for i in ids])  # control symbols decode to nothing


def train_tokenizer(texts: Iterable[str], vocab_size: int, path: str | Path | None = None, seed: int = 0) -> Tokenizer:
    """Train a BPE tokenizer with byte fallback on texts; save it to path when given."""
    spm.set_random_generator_seed(seed)
    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(texts),
        model_writer=model,
        model_type="bpe",
        vocab_size=vocab_size,
        byte_fallback=True,  # any UTF-8 text encodes, nothing maps to <unk>
        character_coverage=0.9995,
        normalization_rule_name="identity",  # decode(encode(text)) == text
        remove_extra_whitespaces=False,
        split_digits=True,
        unk_id=0, bos_id=-1, eos_id=-1, pad_id=-1,
        control_symbols=list(ROLE_TOKENS),
        input_sentence_size=2_000_000,
        shuffle_input_sentence=True,
        max_sentence_length=16384,
        num_threads=2,
        minloglevel=2,
    )
    tok = Tokenizer(model.getvalue())
    if path is not None:
        tok.save(path)
    return tok
