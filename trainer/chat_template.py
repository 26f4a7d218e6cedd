"""Real models' chat formats: a Hugging Face `tokenizers` tokenizer and the model's own Jinja chat template.

`TemplateChat` keeps the contract of the embedded format (trainer.chat.MarkerChat): a conversation becomes token ids
plus a loss mask over the scored messages, a prompt ends where the reply begins. The template renders in a sandbox.
Ordinary text tokenizes exactly as transformers' `apply_chat_template` does (one pass over the rendered string); a
message that contains a special token's text (`<|im_start|>`, `<|eot_id|>`...) is tokenized on its own with
specials treated as plain text, so nothing an annotator types can open or close a turn.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from pathlib import Path

from jinja2 import TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment
from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers

from .chat import CUSTOM, SCORED, MarkerChat, default_system_prompt
from .conversation import Conversation
from .model import ModelError

TOKENIZER_JSON, TOKENIZER_CONFIG = "tokenizer.json", "tokenizer_config.json"
GENERATION_CONFIG = "generation_config.json"
MARK = "\ue000{}\ue001"  # private-use characters: stand-ins for message text while the template's layout is found


class ChatFormatError(ModelError):
    """A tokenizer or chat template this code cannot honour; the message says what is wrong."""


def messages(template: str, users: list[str], assistants: list[str]) -> list[dict]:
    """Seed-format turns as chat messages; "CUSTOM" leaves the system prompt to the template's own default."""
    return Conversation(template, users, assistants).messages(system=template != CUSTOM)


def _raise(message):
    raise TemplateError(message)


@dataclass
class TemplateChat:
    tokenizer: Tokenizer  # special tokens recognised: the template's own text
    template: str  # Jinja source of the chat template
    special: dict  # bos_token / eos_token / pad_token / unk_token strings, as the template and the HF files name them
    stop_ids: tuple[int, ...]  # generation ends at any of these (end of turn, end of text)

    # ---------------------------------------------------------------------------------------- construction

    @classmethod
    def from_files(cls, folder: str | Path) -> "TemplateChat":
        """tokenizer.json + tokenizer_config.json (chat template, special tokens) [+ generation_config.json]."""
        folder = Path(folder)
        for name in (TOKENIZER_JSON, TOKENIZER_CONFIG):
            if not (folder / name).is_file():
                raise ChatFormatError(f"{folder}: missing {name}")
        config = json.loads((folder / TOKENIZER_CONFIG).read_text(encoding="utf-8"))
        template = chat_template_of(config, folder / TOKENIZER_CONFIG)
        if not template and (folder / "chat_template.jinja").is_file():
            template = (folder / "chat_template.jinja").read_text(encoding="utf-8")
        if not template:
            raise ChatFormatError(f"{folder}: no chat template (tokenizer_config.json has no chat_template)")
        tokenizer = Tokenizer.from_file(str(folder / TOKENIZER_JSON))
        special = {k: token_text(config.get(k)) for k in ("bos_token", "eos_token", "pad_token", "unk_token")}
        stops = []
        if (folder / GENERATION_CONFIG).is_file():
            eos = json.loads((folder / GENERATION_CONFIG).read_text(encoding="utf-8")).get("eos_token_id")
            stops = eos if isinstance(eos, list) else [eos] if eos is not None else []
        return cls.build(tokenizer, template, special, stops)

    @classmethod
    def build(cls, tokenizer: Tokenizer, template: str, special: dict, stop_ids) -> "TemplateChat":
        """Checks the pieces fit: special tokens exist in the vocabulary, there is something to stop at."""
        special = {k: v for k, v in special.items() if v}
        for key, text in special.items():
            if tokenizer.token_to_id(text) is None:
                raise ChatFormatError(f"{key} {text!r} is not in the tokenizer's vocabulary")
        stops = [int(i) for i in stop_ids]
        if "eos_token" in special:
            stops.append(tokenizer.token_to_id(special["eos_token"]))
        if not stops:
            raise ChatFormatError("no end-of-turn token: neither an eos_token nor generation_config eos_token_id")
        chat = cls(tokenizer, template, special, tuple(dict.fromkeys(stops)))
        chat.compiled  # a template that does not parse fails here, not at the first reply
        return chat

    def save(self, folder: str | Path) -> None:
        """The files an HF checkpoint directory carries, so transformers' AutoTokenizer loads them as they are."""
        folder = Path(folder)
        self.tokenizer.save(str(folder / TOKENIZER_JSON))
        config = {"tokenizer_class": "PreTrainedTokenizerFast", "chat_template": self.template,
                  "add_bos_token": False, "add_eos_token": False, "clean_up_tokenization_spaces": False,
                  "model_max_length": 1 << 30, **self.special}
        (folder / TOKENIZER_CONFIG).write_text(json.dumps(config, indent=2, ensure_ascii=False), encoding="utf-8")
        generation = {"eos_token_id": list(self.stop_ids), "pad_token_id": self.pad_id}
        if "bos_token" in self.special:
            generation["bos_token_id"] = self.tokenizer.token_to_id(self.special["bos_token"])
        (folder / GENERATION_CONFIG).write_text(json.dumps(generation, indent=2), encoding="utf-8")

    # ---------------------------------------------------------------------------------------- the contract

    @property
    def vocab_size(self) -> int:
        return self.tokenizer.get_vocab_size(with_added_tokens=True)

    @property
    def pad_id(self) -> int:
        pad = self.special.get("pad_token")
        return self.tokenizer.token_to_id(pad) if pad else self.stop_ids[0]

    def decode(self, ids) -> str:
        return self.tokenizer.decode([int(i) for i in ids], skip_special_tokens=True)

    def prompt(self, template: str, users: list[str], replies: list[str]) -> list[int]:
        """Prompt ids ending where the model's reply to users[-1] begins."""
        return self.render(template, users, replies[:len(users) - 1])[0]

    def render(self, template: str, users: list[str], assistants: list[str],
               scored: str = "last") -> tuple[list[int], list[int]]:
        """Token ids and a loss mask, as trainer.chat.render: the mask covers each scored message's text and the
        template's tokens after it up to and including its end-of-turn token. With one reply fewer than user
        messages, the ids are a generation prompt and the mask is all zeros."""
        if len(assistants) not in (len(users), len(users) - 1) or not users:
            raise ValueError(f"{len(users)} user messages need {len(users)} or {len(users) - 1} assistant replies")
        if scored not in SCORED:
            raise ValueError(f"scored must be one of {', '.join(SCORED)}, not {scored!r}")
        msgs = messages(template, users, assistants)
        text, spans = self.render_text(msgs, add_generation_prompt=len(assistants) < len(users))
        ids, offsets = self.encode_rendered(text, spans)
        mask = [0] * len(ids)
        if len(assistants) == len(users):
            roles = [m["role"] for m in msgs]
            last = len(msgs) - 1
            for i, (start, end) in enumerate(spans):
                if (scored == "last" and i == last) or (scored == "all" and roles[i] == "assistant") or \
                        (scored == "turns" and roles[i] != "system"):
                    for t in self.scored_tokens(ids, offsets, start, end):
                        mask[t] = 1
        return ids, mask

    # ---------------------------------------------------------------------------------------- how

    @cached_property
    def compiled(self):
        env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                            extensions=["jinja2.ext.loopcontrols"])
        env.filters["tojson"] = lambda value, indent=None: json.dumps(value, ensure_ascii=False, indent=indent)
        env.globals.update(raise_exception=_raise, strftime_now=lambda fmt: datetime.now().strftime(fmt))
        try:
            return env.from_string(self.template)
        except TemplateError as e:
            raise ChatFormatError(f"the chat template does not parse: {e}") from None

    @cached_property
    def plain_text_tokenizer(self) -> Tokenizer:
        """The same tokenizer with special tokens encoded as the text they look like."""
        plain = Tokenizer.from_str(self.tokenizer.to_str())
        plain.encode_special_tokens = True
        return plain

    @cached_property
    def special_texts(self) -> tuple[str, ...]:
        return tuple(t.content for t in self.tokenizer.get_added_tokens_decoder().values() if t.special)

    def _render(self, msgs: list[dict], add_generation_prompt: bool) -> str:
        try:
            return self.compiled.render(messages=msgs, add_generation_prompt=add_generation_prompt,
                                        **{k: self.special.get(k, "") for k in ("bos_token", "eos_token")})
        except TemplateError as e:
            raise ChatFormatError(f"the chat template refused the conversation: {e}") from None

    def render_text(self, msgs: list[dict], add_generation_prompt: bool) -> tuple[str, list[tuple[int, int]]]:
        """The rendered conversation and the character span of each message's text in it.

        The template is rendered twice, with the real text and with a marker for each message; the markers give
        the template's own text between messages, which locates each message's text in the real rendering (as
        given, or stripped: some templates trim)."""
        text = self._render(msgs, add_generation_prompt)
        layout = self._render([{**m, "content": MARK.format(i)} for i, m in enumerate(msgs)], add_generation_prompt)
        pieces = []
        for i in range(len(msgs)):
            before, sep, layout = layout.partition(MARK.format(i))
            if not sep:
                raise ChatFormatError(f"the chat template leaves out message {i + 1} ({msgs[i]['role']}); "
                                      "use a template that keeps every message")
            pieces.append(before)
        pieces.append(layout)
        if not text.startswith(pieces[0]):
            raise ChatFormatError("the chat template renders differently from one call to the next")
        pos, spans = len(pieces[0]), []
        for i, m in enumerate(msgs):
            after, is_last = pieces[i + 1], i == len(msgs) - 1
            for variant in dict.fromkeys((m["content"], m["content"].strip())):
                end = pos + len(variant)
                if text.startswith(variant, pos) and (text[end:] == after if is_last else text.startswith(after, end)):
                    spans.append((pos, end))
                    pos = end + len(after)
                    break
            else:
                raise ChatFormatError(f"the chat template changes the text of message {i + 1} in a way this "
                                      "code cannot follow")
        return text, spans

    def encode_rendered(self, text: str, spans: list[tuple[int, int]]) -> tuple[list[int], list[tuple[int, int]]]:
        """Ids and character offsets of the rendered text; message text never yields a special token."""
        if not any(s in text[a:b] for a, b in spans for s in self.special_texts):
            enc = self.tokenizer.encode(text, add_special_tokens=False)
            return enc.ids, enc.offsets
        ids, offsets, pos = [], [], 0
        for start, end in [*spans, (len(text), len(text))]:
            for tok, a, b in ((self.tokenizer, pos, start), (self.plain_text_tokenizer, start, end)):
                if b > a:
                    enc = tok.encode(text[a:b], add_special_tokens=False)
                    ids += enc.ids
                    offsets += [(a + s, a + e) for s, e in enc.offsets]
            pos = end
        return ids, offsets

    def scored_tokens(self, ids, offsets, start: int, end: int) -> range:
        """The tokens of the text in [start, end) and the template's tokens after it through the end-of-turn."""
        first = next((t for t, (a, b) in enumerate(offsets) if b > start or a >= start), len(ids))
        last = next((t for t in range(first, len(ids)) if ids[t] in self.stop_ids and offsets[t][0] >= end), None)
        if last is None:
            raise ChatFormatError("the chat template puts no end-of-turn token after a message "
                                  f"(expected one of ids {list(self.stop_ids)})")
        return range(first, last + 1)


def chat_template_of(config: dict, where) -> str:
    """tokenizer_config.json's chat_template: a string, or a list of named templates of which "default" is used."""
    template = config.get("chat_template") or ""
    if isinstance(template, list):
        named = {t.get("name"): t.get("template") for t in template}
        if "default" not in named:
            raise ChatFormatError(f"{where}: chat_template lists {sorted(named)} but no 'default'")
        template = named["default"]
    return template


def token_text(value) -> str | None:
    """A special token as tokenizer_config.json gives it: a string or an AddedToken-like dict."""
    return value.get("content") if isinstance(value, dict) else value


# ------------------------------------------------------------------------------------------ GGUF vocabularies

# Pre-tokenizer splits by llama.cpp's `tokenizer.ggml.pre` name: the text is cut where the merges were learned.
LLAMA3_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                r"|\s*[\r\n]+|\s+(?!\S)|\s+")
QWEN2_SPLIT = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
               r"|\s*[\r\n]+|\s+(?!\S)|\s+")


def byte_level_split(pre: str):
    """The pre-tokenizer for a GGUF byte-level BPE vocabulary, by llama.cpp's name for it."""
    byte_level = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    if pre in ("default", "gpt2", "gpt-2"):
        return byte_level
    if pre == "smollm":  # GPT-2's split with every digit on its own, as SmolLM's tokenizer.json has it
        return pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True), byte_level])
    regex = {"llama-bpe": LLAMA3_SPLIT, "llama3": LLAMA3_SPLIT, "qwen2": QWEN2_SPLIT}.get(pre)
    if regex is None:
        raise ChatFormatError(f"GGUF pre-tokenizer {pre!r} is not supported (supported: default, gpt2, smollm, "
                              "llama-bpe, qwen2); load the model's Hugging Face directory instead")
    return pre_tokenizers.Sequence([pre_tokenizers.Split(Regex(regex), behavior="isolated"),
                                    pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])


NORMAL, UNKNOWN, CONTROL, USER_DEFINED, BYTE = 1, 2, 3, 4, 6  # llama.cpp token types


def byte_level_bpe(tokens: list[str], merges: list[str], token_types: list[int], pre: str) -> Tokenizer:
    """A `tokenizers` BPE from a GGUF vocabulary (tokens already in GPT-2's byte alphabet) and merges."""
    bpe = models.BPE(vocab={t: i for i, t in enumerate(tokens)}, merges=[tuple(m.split(" ", 1)) for m in merges],
                     ignore_merges=pre in ("llama-bpe", "llama3"))
    tokenizer = Tokenizer(bpe)
    tokenizer.pre_tokenizer = byte_level_split(pre)
    tokenizer.decoder = decoders.ByteLevel()
    kinds = {CONTROL: True, USER_DEFINED: False}
    tokenizer.add_tokens([AddedToken(t, special=kinds[k], normalized=False)
                          for t, k in zip(tokens, token_types) if k in kinds])
    return tokenizer


# ------------------------------------------------------------------------------------------ the embedded format

# The embedded model's layout (trainer/chat.py) as a chat template, for exports that other tools load.
MARKER_TEMPLATE = (
    "{% if messages and messages[0]['role'] == 'system' %}{% set system = messages[0]['content'] %}"
    "{% set turns = messages[1:] %}{% else %}{% set system = default_system %}{% set turns = messages %}{% endif %}"
    "{{ '<SOT>' + system + '<EOT>' }}{% for m in turns %}"
    "{% if m['role'] == 'user' %}{{ '<SOU>' + m['content'] + '<EOU><SOA>' }}"
    "{% else %}{{ m['content'] + '<EOA>' }}{% endif %}{% endfor %}")


def sentencepiece_bpe(pieces: list[str], scores: list[float], kinds: list[int]) -> Tokenizer:
    """A sentencepiece BPE vocabulary (the embedded model's, or a GGUF `llama` one) as a `tokenizers` BPE that
    encodes as sentencepiece does: "▁" before each text and for each space, byte fallback, control pieces as
    specials. The merges come from the scores: sentencepiece merges into the best-scored piece first."""
    vocab = {p: i for i, p in enumerate(pieces)}
    merges = []
    for i in sorted((i for i, k in enumerate(kinds) if k == NORMAL), key=lambda i: scores[i], reverse=True):
        piece = pieces[i]
        splits = [(piece[:k], piece[k:]) for k in range(1, len(piece)) if piece[:k] in vocab and piece[k:] in vocab]
        merges += sorted(splits, key=lambda lr: (vocab[lr[0]], vocab[lr[1]]))
    unk = next((p for p, k in zip(pieces, kinds) if k == UNKNOWN), None)
    tokenizer = Tokenizer(models.BPE(vocab=vocab, merges=merges, unk_token=unk, byte_fallback=True, fuse_unk=True))
    tokenizer.normalizer = normalizers.Sequence([normalizers.Prepend("▁"), normalizers.Replace(" ", "▁")])
    tokenizer.decoder = decoders.Sequence([decoders.Replace("▁", " "), decoders.ByteFallback(), decoders.Fuse(),
                                           decoders.Strip(" ", 1, 0)])
    tokenizer.add_special_tokens([AddedToken(p, special=True, normalized=False)
                                  for p, k in zip(pieces, kinds) if k == CONTROL])
    tokenizer.add_tokens([AddedToken(p, normalized=False) for p, k in zip(pieces, kinds) if k == USER_DEFINED])
    return tokenizer


def sentencepiece_vocabulary(sp) -> tuple[list[str], list[float], list[int]]:
    """(pieces, scores, llama.cpp token types) of a sentencepiece model."""
    kind = lambda i: CONTROL if sp.is_control(i) else BYTE if sp.is_byte(i) else UNKNOWN if sp.is_unknown(i) \
        else NORMAL  # noqa: E731
    n = sp.get_piece_size()
    return [sp.id_to_piece(i) for i in range(n)], [sp.get_score(i) for i in range(n)], [kind(i) for i in range(n)]


def template_chat_of(marker: MarkerChat) -> TemplateChat:
    """The embedded model's format as a TemplateChat: the same ids, in files transformers and llama.cpp read."""
    template = MARKER_TEMPLATE.replace("default_system", json.dumps(default_system_prompt()))
    return TemplateChat.build(sentencepiece_bpe(*sentencepiece_vocabulary(marker.tok.sp)), template,
                              {"eos_token": "<EOA>", "pad_token": "<PAD>", "unk_token": "<unk>"}, [])
