"""GGUF files in and out (llama and qwen2 architectures), through the `gguf` package.

Reading dequantises every tensor (F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q4_K, Q6_K and whatever else `gguf` can
dequantise) to float32; the tokenizer (byte-level BPE) and the chat template come from the file's metadata.
Rotary layout: llama.cpp stores llama q/k rows already interleaved, the layout trainer/model.py uses; qwen2 keeps
transformers' rotate_half layout ("NEOX"), so its rows are reordered as for a Hugging Face checkpoint.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from gguf import GGMLQuantizationType, GGUFReader, GGUFWriter, LlamaFileType, quants

from .chat_template import (BYTE, CONTROL, NORMAL, UNKNOWN, USER_DEFINED, ChatFormatError, TemplateChat,
                            byte_level_bpe, byte_level_split, sentencepiece_bpe)
from .hf import UnsupportedModel, from_interleaved, to_interleaved
from .model import ModelConfig, Transformer

ARCHITECTURES = ("llama", "qwen2")
DTYPES = {"f32": (GGMLQuantizationType.F32, LlamaFileType.ALL_F32),
          "f16": (GGMLQuantizationType.F16, LlamaFileType.MOSTLY_F16),
          "bf16": (GGMLQuantizationType.BF16, LlamaFileType.MOSTLY_BF16),
          "q8_0": (GGMLQuantizationType.Q8_0, LlamaFileType.MOSTLY_Q8_0)}


def field(reader: GGUFReader, key: str, default=None):
    f = reader.fields.get(key)
    return default if f is None else f.contents()


# ------------------------------------------------------------------------------------------------ names

def tensor_names(cfg: ModelConfig) -> dict[str, str]:
    """GGUF -> ours for every tensor but attn_k/attn_v, which are stacked into wkv."""
    names = {"token_embd.weight": "embed.weight", "output_norm.weight": "norm.weight"}
    if not cfg.tie_embeddings:
        names["output.weight"] = "lm_head.weight"
    for i in range(cfg.n_layers):
        b, o = f"blk.{i}", f"layers.{i}"
        names |= {f"{b}.attn_norm.weight": f"{o}.attn_norm.weight", f"{b}.ffn_norm.weight": f"{o}.mlp_norm.weight",
                  f"{b}.attn_q.weight": f"{o}.attn.wq.weight", f"{b}.attn_output.weight": f"{o}.attn.wo.weight",
                  f"{b}.ffn_gate.weight": f"{o}.mlp.w_gate.weight", f"{b}.ffn_up.weight": f"{o}.mlp.w_up.weight",
                  f"{b}.ffn_down.weight": f"{o}.mlp.w_down.weight"}
        if cfg.qkv_bias:
            names[f"{b}.attn_q.bias"] = f"{o}.attn.wq.bias"
    return names


def kv_names(i: int, kind: str) -> tuple[str, str, str]:
    return f"blk.{i}.attn_k.{kind}", f"blk.{i}.attn_v.{kind}", f"layers.{i}.attn.wkv.{kind}"


# ------------------------------------------------------------------------------------------------ in

def config_from_gguf(reader: GGUFReader, where: Path) -> ModelConfig:
    arch = field(reader, "general.architecture")
    if arch not in ARCHITECTURES:
        raise UnsupportedModel(f"{where}: GGUF architecture {arch!r} is not supported "
                               f"(supported: {', '.join(ARCHITECTURES)})")
    if "rope_freqs.weight" in {t.name for t in reader.tensors} or field(reader, f"{arch}.rope.scaling.type"):
        raise UnsupportedModel(f"{where}: GGUF rope scaling (Llama 3.1-style rope_freqs) is not supported; "
                               "load the model's Hugging Face directory, whose config.json describes it")
    get = lambda key, default=None: field(reader, f"{arch}.{key}", default)  # noqa: E731
    required = ("block_count", "embedding_length", "feed_forward_length", "attention.head_count")
    missing = [k for k in required if get(k) is None]
    if missing:
        raise UnsupportedModel(f"{where}: GGUF metadata lacks {', '.join(f'{arch}.{k}' for k in missing)}")
    names = {t.name for t in reader.tensors}
    return ModelConfig(
        vocab_size=len(field(reader, "tokenizer.ggml.tokens", [])) or get("vocab_size"), dim=get("embedding_length"),
        n_layers=get("block_count"), n_heads=get("attention.head_count"),
        n_kv_heads=get("attention.head_count_kv") or get("attention.head_count"),
        head_dim=get("attention.key_length", 0),
        hidden_dim=get("feed_forward_length"), max_seq_len=get("context_length", 2048),
        rope_theta=float(get("rope.freq_base", 1e4)), norm_eps=float(get("attention.layer_norm_rms_epsilon", 1e-5)),
        tie_embeddings="output.weight" not in names, qkv_bias="blk.0.attn_q.bias" in names)


def dequantized(tensor) -> torch.Tensor:
    try:
        array = quants.dequantize(tensor.data, tensor.tensor_type)
    except NotImplementedError:  # gguf's own word for a tensor type it has no dequantiser for: say which
        raise UnsupportedModel(f"tensor {tensor.name}: {tensor.tensor_type.name} cannot be dequantised") from None
    return torch.from_numpy(np.array(array, dtype=np.float32))  # a copy: the reader's memory map is read-only


def tokenizer_from_gguf(reader: GGUFReader, where: Path):
    """Byte-level BPE (`gpt2`: vocabulary and merges) or sentencepiece BPE (`llama`: pieces and scores)."""
    kind = field(reader, "tokenizer.ggml.model")
    tokens, types = field(reader, "tokenizer.ggml.tokens"), field(reader, "tokenizer.ggml.token_type", [])
    if kind == "gpt2":
        return byte_level_bpe(tokens, field(reader, "tokenizer.ggml.merges", []), types,
                              field(reader, "tokenizer.ggml.pre", "default"))
    if kind == "llama" and field(reader, "tokenizer.ggml.add_space_prefix", True):
        return sentencepiece_bpe(tokens, field(reader, "tokenizer.ggml.scores"), types)
    raise ChatFormatError(f"{where}: GGUF tokenizer {kind!r} (add_space_prefix "
                          f"{field(reader, 'tokenizer.ggml.add_space_prefix')}) is not supported (byte-level 'gpt2' "
                          "and sentencepiece 'llama' are); load the model's Hugging Face directory instead")


def chat_from_gguf(reader: GGUFReader, where: Path) -> TemplateChat:
    template = field(reader, "tokenizer.chat_template")
    if not template:
        raise ChatFormatError(f"{where}: the GGUF file has no tokenizer.chat_template")
    tokens = field(reader, "tokenizer.ggml.tokens")
    tokenizer = tokenizer_from_gguf(reader, where)
    ids = {k: field(reader, f"tokenizer.ggml.{k}_token_id") for k in ("bos", "eos", "padding", "unknown", "eot", "eom")}
    special = {f"{name}_token": tokens[ids[k]] for name, k in (("bos", "bos"), ("eos", "eos"), ("pad", "padding"),
                                                               ("unk", "unknown")) if ids[k] is not None}
    return TemplateChat.build(tokenizer, template, special, [ids[k] for k in ("eot", "eom") if ids[k] is not None])


def load_gguf(path: str | Path, dtype=torch.float32) -> tuple[Transformer, TemplateChat]:
    path = Path(path)
    try:
        reader = GGUFReader(path)
    except (ValueError, OSError, IndexError) as e:
        raise UnsupportedModel(f"{path}: not a readable GGUF file ({e})") from None
    cfg = config_from_gguf(reader, path)
    chat = chat_from_gguf(reader, path)
    raw = {t.name: dequantized(t) for t in reader.tensors}
    reorder = to_interleaved if cfg.qkv_bias else (lambda w, heads: w)  # qwen2: NEOX layout, see the docstring
    names = tensor_names(cfg)
    try:
        state = {ours: raw.pop(theirs) for theirs, ours in names.items()}
        for i in range(cfg.n_layers):
            state[f"layers.{i}.attn.wq.weight"] = reorder(state[f"layers.{i}.attn.wq.weight"], cfg.n_heads)
            for kind in ("weight", "bias") if cfg.qkv_bias else ("weight",):
                k, v, ours = kv_names(i, kind)
                state[ours] = torch.cat([reorder(raw.pop(k), cfg.n_kv_heads), raw.pop(v)])
            if cfg.qkv_bias:
                state[f"layers.{i}.attn.wq.bias"] = reorder(state[f"layers.{i}.attn.wq.bias"], cfg.n_heads)
    except KeyError as e:
        raise UnsupportedModel(f"{path}: the file lacks tensor {e.args[0]}") from None
    if raw:
        raise UnsupportedModel(f"{path}: tensors this architecture does not use: {', '.join(sorted(raw)[:5])}")
    return Transformer.from_state(cfg, {k: v.to(dtype) for k, v in state.items()}, where=str(path)), chat


# ------------------------------------------------------------------------------------------------ out

def pre_tokenizer_name(chat: TemplateChat) -> str:
    """llama.cpp's name for the tokenizer's pre-tokenizer: the known split whose serialisation it equals."""
    theirs = json.loads(chat.tokenizer.to_str())["pre_tokenizer"]
    for name in ("gpt2", "smollm", "llama-bpe", "qwen2"):
        probe = type(chat.tokenizer)(chat.tokenizer.model)
        probe.pre_tokenizer = byte_level_split(name)
        if json.loads(probe.to_str())["pre_tokenizer"] == theirs:
            return name
    raise ChatFormatError("the tokenizer's pre-tokenizer has no GGUF name (known: gpt2, smollm, llama-bpe, qwen2); "
                          "export --format hf instead")


def add_tokenizer(writer: GGUFWriter, chat: TemplateChat) -> None:
    """The vocabulary, special ids and chat template. Byte-level BPE goes in as `gpt2` (tokens and merges);
    sentencepiece-style BPE (byte fallback) as `llama`, with scores that keep the vocabulary's order as the merge
    priority (sentencepiece numbers pieces by score)."""
    spec = json.loads(chat.tokenizer.to_str())
    vocab = {**spec["model"]["vocab"], **{t["content"]: t["id"] for t in spec["added_tokens"]}}
    tokens = sorted(vocab, key=vocab.get)
    added = {t["content"]: t["special"] for t in spec["added_tokens"]}
    if spec["model"]["type"] == "BPE" and (spec["decoder"] or {}).get("type") == "ByteLevel":
        writer.add_tokenizer_model("gpt2")
        writer.add_tokenizer_pre(pre_tokenizer_name(chat))
        writer.add_token_list(tokens)
        writer.add_token_types([CONTROL if added.get(t) else USER_DEFINED if t in added else NORMAL for t in tokens])
        writer.add_token_merges([m if isinstance(m, str) else " ".join(m) for m in spec["model"]["merges"]])
    elif spec["model"]["type"] == "BPE" and spec["model"].get("byte_fallback"):
        unk = spec["model"].get("unk_token")
        kind = lambda t: CONTROL if added.get(t) else USER_DEFINED if t in added else UNKNOWN if t == unk else \
            BYTE if len(t) == 6 and t.startswith("<0x") and t.endswith(">") else NORMAL  # noqa: E731
        writer.add_tokenizer_model("llama")
        writer.add_token_list(tokens)
        writer.add_token_scores([-float(i) if kind(t) == NORMAL else 0.0 for i, t in enumerate(tokens)])
        writer.add_token_types([kind(t) for t in tokens])
        writer.add_add_space_prefix(True)
    else:
        raise ChatFormatError("only BPE tokenizers (byte-level or with byte fallback) can be written to GGUF; "
                              "export --format hf instead")
    ids = {k: chat.tokenizer.token_to_id(v) for k, v in chat.special.items()}
    for key, add in (("bos_token", writer.add_bos_token_id), ("eos_token", writer.add_eos_token_id),
                     ("pad_token", writer.add_pad_token_id), ("unk_token", writer.add_unk_token_id)):
        if key in ids:
            add(ids[key])
    if chat.stop_ids[0] != ids.get("eos_token"):
        writer.add_eot_token_id(chat.stop_ids[0])
    writer.add_add_bos_token(False)
    writer.add_chat_template(chat.template)


def tensor_type(array: np.ndarray, chosen: GGMLQuantizationType) -> GGMLQuantizationType:
    """Norms and biases stay f32, as llama.cpp's converter keeps them; a matrix whose rows do not fill whole
    quantisation blocks falls back to f16, as llama.cpp does."""
    if array.ndim < 2:
        return GGMLQuantizationType.F32
    block = quants.GGML_QUANT_SIZES[chosen][0]
    return chosen if array.shape[-1] % block == 0 else GGMLQuantizationType.F16


def save_gguf(model: Transformer, chat: TemplateChat, out: str | Path, dtype: str = "f16",
              name: str = "dpo-studio export") -> Path:
    if dtype not in DTYPES:
        raise UnsupportedModel(f"GGUF dtype must be one of {', '.join(DTYPES)}, not {dtype!r}")
    if model.cfg.rope_scaling:
        raise UnsupportedModel("GGUF export of a rope-scaled model is not supported; export --format hf instead")
    cfg, ours = model.cfg, {k: v.detach().float().cpu() for k, v in model.state_dict().items()}
    arch = "qwen2" if cfg.qkv_bias else "llama"
    reorder = from_interleaved if cfg.qkv_bias else (lambda w, heads: w)
    quant, file_type = DTYPES[dtype]
    writer = GGUFWriter(Path(out), arch)
    writer.add_name(name)
    writer.add_block_count(cfg.n_layers)
    writer.add_context_length(cfg.max_seq_len)
    writer.add_embedding_length(cfg.dim)
    writer.add_feed_forward_length(cfg.hidden_dim)
    writer.add_head_count(cfg.n_heads)
    writer.add_head_count_kv(cfg.n_kv_heads)
    writer.add_key_length(cfg.head_dim)
    writer.add_value_length(cfg.head_dim)
    writer.add_rope_dimension_count(cfg.head_dim)
    writer.add_rope_freq_base(cfg.rope_theta)
    writer.add_layer_norm_rms_eps(cfg.norm_eps)
    writer.add_vocab_size(cfg.vocab_size)
    writer.add_file_type(file_type)
    add_tokenizer(writer, chat)
    tensors = {theirs: ours[mine] for theirs, mine in tensor_names(cfg).items()}
    for i in range(cfg.n_layers):
        for kind in ("weight", "bias") if cfg.qkv_bias else ("weight",):
            k_name, v_name, wkv = kv_names(i, kind)
            k, v = ours[wkv].split(cfg.n_kv_heads * cfg.head_dim)
            tensors[k_name], tensors[v_name] = reorder(k, cfg.n_kv_heads), v
            q = f"blk.{i}.attn_q.{kind}"
            tensors[q] = reorder(tensors[q], cfg.n_heads)
    for name, t in tensors.items():
        array = t.numpy()
        writer.add_tensor(name, quants.quantize(array, kind := tensor_type(array, quant)), raw_dtype=kind)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return Path(out)
