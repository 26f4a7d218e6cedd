"""Hugging Face checkpoint directories in and out: Llama, Mistral (full attention) and Qwen2 causal LMs.

A directory holds config.json, model.safetensors (or shards listed in model.safetensors.index.json) and the
tokenizer files (trainer.chat_template). Weights are read from safetensors only: nothing is unpickled.

Rotary layout: transformers rotates channel i with i + D/2 ("rotate_half"); trainer/model.py rotates 2i with 2i + 1.
The query and key rows of each head are reordered on the way in and back on the way out.
"""
from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import save_file

from .chat_template import TemplateChat
from .checkpoint import read_safetensors
from .model import ModelConfig, ModelError, Transformer

ARCHITECTURES = ("LlamaForCausalLM", "MistralForCausalLM", "Qwen2ForCausalLM")
WEIGHTS, INDEX = "model.safetensors", "model.safetensors.index.json"


class UnsupportedModel(ModelError):
    """A checkpoint this code cannot load faithfully; the message names what is missing or unsupported."""


def is_hf_dir(path: Path) -> bool:
    config = path / "config.json"
    return config.is_file() and "architectures" in json.loads(config.read_text(encoding="utf-8"))


# ------------------------------------------------------------------------------------------------ config

def rope_settings(hf: dict) -> tuple[float, dict | None]:
    """(theta, scaling) from either transformers 5's `rope_parameters` or the older rope_theta + rope_scaling."""
    params = hf.get("rope_parameters") or {**(hf.get("rope_scaling") or {}), "rope_theta": hf.get("rope_theta", 1e4)}
    kind = params.get("rope_type") or params.get("type") or "default"
    scaling = None if kind == "default" else {k: v for k, v in params.items() if k not in ("rope_theta", "type")}
    if scaling is not None:
        scaling["rope_type"] = kind
    return float(params.get("rope_theta", 1e4)), scaling


def config_from_hf(hf: dict, where: Path) -> ModelConfig:
    arch = (hf.get("architectures") or ["?"])[0]
    if arch not in ARCHITECTURES:
        raise UnsupportedModel(f"{where}: architecture {arch} is not supported (supported: {', '.join(ARCHITECTURES)})")
    for key, supported in (("hidden_act", "silu"), ("attention_bias", False), ("mlp_bias", False)):
        if hf.get(key, supported) != supported:
            raise UnsupportedModel(f"{where}: {key}={hf[key]!r} is not supported (only {supported!r})")
    theta, scaling = rope_settings(hf)
    context = hf.get("max_position_embeddings", 2048)
    window = hf.get("sliding_window") if arch != "Qwen2ForCausalLM" or hf.get("use_sliding_window") else None
    try:
        return ModelConfig(
            vocab_size=hf["vocab_size"], dim=hf["hidden_size"], n_layers=hf["num_hidden_layers"],
            n_heads=hf["num_attention_heads"], n_kv_heads=hf.get("num_key_value_heads") or hf["num_attention_heads"],
            head_dim=hf.get("head_dim") or 0, hidden_dim=hf["intermediate_size"],
            # within the sliding window, sliding-window attention is full attention: cap the context there
            max_seq_len=min(context, window) if window else context,
            rope_theta=theta, rope_scaling=scaling, norm_eps=hf.get("rms_norm_eps", 1e-6),
            tie_embeddings=bool(hf.get("tie_word_embeddings", False)), qkv_bias=arch == "Qwen2ForCausalLM")
    except KeyError as e:
        raise UnsupportedModel(f"{where}: config.json lacks {e.args[0]}") from None
    except ValueError as e:
        raise UnsupportedModel(f"{where}: {e}") from None


def config_to_hf(cfg: ModelConfig, chat: TemplateChat) -> dict:
    arch = "Qwen2ForCausalLM" if cfg.qkv_bias else "LlamaForCausalLM"
    hf = {"architectures": [arch], "model_type": "qwen2" if cfg.qkv_bias else "llama",
          "vocab_size": cfg.vocab_size, "hidden_size": cfg.dim, "num_hidden_layers": cfg.n_layers,
          "num_attention_heads": cfg.n_heads, "num_key_value_heads": cfg.n_kv_heads, "head_dim": cfg.head_dim,
          "intermediate_size": cfg.hidden_dim, "max_position_embeddings": cfg.max_seq_len, "hidden_act": "silu",
          "rms_norm_eps": cfg.norm_eps, "tie_word_embeddings": cfg.tie_embeddings, "torch_dtype": "float32",
          "rope_theta": cfg.rope_theta, "rope_scaling": cfg.rope_scaling,
          "eos_token_id": list(chat.stop_ids), "pad_token_id": None}
    bos = chat.special.get("bos_token")
    hf["bos_token_id"] = chat.tokenizer.token_to_id(bos) if bos else None
    return hf


# ------------------------------------------------------------------------------------------------ weights

def to_interleaved(w: torch.Tensor, heads: int) -> torch.Tensor:
    # (heads*D, ...) rows per head [0..D/2) then [D/2..D) -> pairs (2i, 2i+1)
    return w.reshape(heads, 2, -1, *w.shape[1:]).transpose(1, 2).reshape(w.shape)


def from_interleaved(w: torch.Tensor, heads: int) -> torch.Tensor:
    return w.reshape(heads, -1, 2, *w.shape[1:]).transpose(1, 2).reshape(w.shape)


def layer_names(i: int) -> dict[str, str]:
    """Ours -> transformers' name for one block's weights (q, k, v handled apart)."""
    return {f"layers.{i}.attn_norm.weight": f"model.layers.{i}.input_layernorm.weight",
            f"layers.{i}.mlp_norm.weight": f"model.layers.{i}.post_attention_layernorm.weight",
            f"layers.{i}.attn.wo.weight": f"model.layers.{i}.self_attn.o_proj.weight",
            f"layers.{i}.mlp.w_gate.weight": f"model.layers.{i}.mlp.gate_proj.weight",
            f"layers.{i}.mlp.w_up.weight": f"model.layers.{i}.mlp.up_proj.weight",
            f"layers.{i}.mlp.w_down.weight": f"model.layers.{i}.mlp.down_proj.weight"}


def state_from_hf(hf: dict[str, torch.Tensor], cfg: ModelConfig) -> dict[str, torch.Tensor]:
    names = {"embed.weight": "model.embed_tokens.weight", "norm.weight": "model.norm.weight"}
    if not cfg.tie_embeddings:
        names["lm_head.weight"] = "lm_head.weight"
    state = {}
    for i in range(cfg.n_layers):
        names |= layer_names(i)
        attn = f"model.layers.{i}.self_attn"
        for kind in ("weight", "bias") if cfg.qkv_bias else ("weight",):
            k = to_interleaved(hf.pop(f"{attn}.k_proj.{kind}"), cfg.n_kv_heads)
            state[f"layers.{i}.attn.wq.{kind}"] = to_interleaved(hf.pop(f"{attn}.q_proj.{kind}"), cfg.n_heads)
            state[f"layers.{i}.attn.wkv.{kind}"] = torch.cat([k, hf.pop(f"{attn}.v_proj.{kind}")])
    state |= {ours: hf.pop(theirs) for ours, theirs in names.items()}
    hf.pop("lm_head.weight", None)  # a tied checkpoint may still store the shared tensor
    if hf:
        raise UnsupportedModel(f"weights this architecture does not use: {', '.join(sorted(hf)[:5])}")
    return state


def state_to_hf(model: Transformer) -> dict[str, torch.Tensor]:
    cfg, ours = model.cfg, model.state_dict()
    hf = {"model.embed_tokens.weight": ours["embed.weight"], "model.norm.weight": ours["norm.weight"]}
    if not cfg.tie_embeddings:
        hf["lm_head.weight"] = ours["lm_head.weight"]
    kv = cfg.n_kv_heads * cfg.head_dim
    for i in range(cfg.n_layers):
        hf |= {theirs: ours[name] for name, theirs in layer_names(i).items()}
        attn = f"model.layers.{i}.self_attn"
        for kind in ("weight", "bias") if cfg.qkv_bias else ("weight",):
            k, v = ours[f"layers.{i}.attn.wkv.{kind}"].split(kv)
            hf[f"{attn}.q_proj.{kind}"] = from_interleaved(ours[f"layers.{i}.attn.wq.{kind}"], cfg.n_heads)
            hf[f"{attn}.k_proj.{kind}"] = from_interleaved(k, cfg.n_kv_heads)
            hf[f"{attn}.v_proj.{kind}"] = v
    return hf


def read_weights(path: Path) -> dict[str, torch.Tensor]:
    if (path / WEIGHTS).is_file():
        return read_safetensors(path / WEIGHTS)
    if (path / INDEX).is_file():
        shards = sorted(set(json.loads((path / INDEX).read_text())["weight_map"].values()))
        missing = [s for s in shards if not (path / s).is_file()]
        if missing:
            raise UnsupportedModel(f"{path}: shards listed in {INDEX} are missing: {', '.join(missing)}")
        return {k: v for shard in shards for k, v in read_safetensors(path / shard).items()}
    found = "pytorch_model.bin (pickle, never loaded here)" if list(path.glob("*.bin")) else "no weights"
    raise UnsupportedModel(f"{path}: needs {WEIGHTS} or {INDEX}; found {found}")


# ------------------------------------------------------------------------------------------------ in and out

def load_hf(path: str | Path, dtype=torch.float32) -> tuple[Transformer, TemplateChat]:
    path = Path(path)
    cfg = config_from_hf(json.loads((path / "config.json").read_text(encoding="utf-8")), path)
    chat = TemplateChat.from_files(path)
    try:
        state = state_from_hf(read_weights(path), cfg)
    except KeyError as e:
        raise UnsupportedModel(f"{path}: the weights lack {e.args[0]}") from None
    except RuntimeError as e:  # a q/k matrix that cannot be split into config.json's heads
        raise UnsupportedModel(f"{path}: the weights do not match config.json ({e})") from None
    return Transformer.from_state(cfg, {k: v.to(dtype) for k, v in state.items()}, where=str(path)), chat


def save_hf(model: Transformer, chat: TemplateChat, out: str | Path, dtype: torch.dtype) -> Path:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().to("cpu", dtype).contiguous() for k, v in state_to_hf(model).items()}
    save_file(tensors, out / WEIGHTS, metadata={"format": "pt"})
    hf = config_to_hf(model.cfg, chat) | {"torch_dtype": str(dtype).removeprefix("torch.")}
    (out / "config.json").write_text(json.dumps(hf, indent=2))
    chat.save(out)
    return out
