"""A small LLaMA-style decoder: RMSNorm, rotary embeddings, SwiGLU, grouped-query attention.

Shapes in comments: B batch, T new tokens, S cached + new tokens, C model dim, H query heads,
G key/value heads, D head dim, V vocabulary.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

import torch
import torch.nn as nn
import torch.nn.functional as F


class ModelError(ValueError):
    """A model, its files or its spec cannot be used as they are; the message names what is wrong."""


@dataclass
class ModelConfig:
    vocab_size: int = 4096
    dim: int = 256
    n_layers: int = 6
    n_heads: int = 8
    n_kv_heads: int = 4
    head_dim: int = 0  # 0: dim // n_heads
    hidden_dim: int = 0  # 0: SwiGLU's usual 8/3 * dim, rounded up to a multiple of 64
    max_seq_len: int = 256
    rope_theta: float = 10000.0
    rope_scaling: dict | None = None  # Llama 3.x {"rope_type": "llama3", "factor", ...} or {"rope_type": "linear"}
    norm_eps: float = 1e-5
    tie_embeddings: bool = True
    qkv_bias: bool = False  # Qwen2 has biases on its query, key and value projections

    def __post_init__(self):
        if self.n_heads % self.n_kv_heads or (not self.head_dim and self.dim % self.n_heads):
            raise ValueError("dim must divide into n_heads (or head_dim be given), and n_heads into n_kv_heads")
        self.head_dim = self.head_dim or self.dim // self.n_heads
        if not self.hidden_dim:
            self.hidden_dim = 64 * math.ceil(8 * self.dim / 3 / 64)
        if self.rope_scaling and self.rope_scaling.get("rope_type") not in ROPE_SCALINGS:
            raise ValueError(f"rope_scaling type {self.rope_scaling.get('rope_type')!r} is not supported "
                             f"(supported: {', '.join(ROPE_SCALINGS)})")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "ModelConfig":
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in known})


def check_weights(expected: dict[str, torch.Tensor], state: dict[str, torch.Tensor], where: str) -> None:
    """Every weight the config needs, of its shape, and finite: a model that fails here would fail later, less
    clearly (a shape error mid-load, or "probability tensor contains inf" at the first sample)."""
    missing, extra = sorted(expected.keys() - state.keys()), sorted(state.keys() - expected.keys())
    wrong = [f"{k} is {tuple(state[k].shape)}, not {tuple(expected[k].shape)}"
             for k in sorted(expected.keys() & state.keys()) if state[k].shape != expected[k].shape]
    problems = ([f"missing {', '.join(missing[:3])}"] if missing else []) + \
               ([f"unexpected {', '.join(extra[:3])}"] if extra else []) + wrong[:3]
    if problems:
        raise ModelError(f"{where}: the weights do not match the model's config: {'; '.join(problems)}")
    for name, tensor in state.items():
        if tensor.is_floating_point() and not torch.isfinite(tensor).all():
            raise ModelError(f"{where}: weight {name} holds NaN or infinite values")


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return F.rms_norm(x.float(), (x.size(-1),), eps=self.eps).type_as(x) * self.weight  # in fp32, one kernel


ROPE_SCALINGS = ("llama3", "linear")


def scale_frequencies(inv_freq, scaling: dict):
    """Stretch rotary frequencies for a longer context: linear divides them all by `factor`; Llama 3 divides only
    the slow ones (wavelength above original_context / low_freq_factor), keeps the fast ones, and blends between."""
    factor = scaling["factor"]
    if scaling["rope_type"] == "linear":
        return inv_freq / factor
    low, high = scaling.get("low_freq_factor", 1.0), scaling.get("high_freq_factor", 4.0)
    context = scaling["original_max_position_embeddings"]
    wavelength = 2 * math.pi / inv_freq
    blend = ((context / wavelength - low) / (high - low)).clamp(0, 1)  # 0: slow (scaled), 1: fast (kept)
    return (1 - blend) * inv_freq / factor + blend * inv_freq


def rope_tables(head_dim: int, max_len: int, theta: float, scaling: dict | None = None):
    inv_freq = 1.0 / theta ** (torch.arange(0, head_dim, 2).float() / head_dim)  # (D/2,)
    if scaling:
        inv_freq = scale_frequencies(inv_freq, scaling)
    angles = torch.outer(torch.arange(max_len).float(), inv_freq)  # (L, D/2)
    return angles.cos(), angles.sin()


def apply_rope(x, rot):
    # x: (B, heads, T, D); rot: cos + i·sin, (T, D/2) or per row (B, 1, T, D/2). Rotates each (even, odd) pair of
    # channels as one complex product (the same arithmetic as the real form, in a third of the operations).
    pairs = torch.view_as_complex(x.float().unflatten(-1, (-1, 2)))  # (B, heads, T, D/2)
    return torch.view_as_real(pairs * rot).flatten(-2).type_as(x)


class KVCache:
    """Keys and values of every layer for a batch, filled as tokens are decoded."""

    def __init__(self, cfg: ModelConfig, batch_size: int, max_len: int, device, dtype):
        shape = (batch_size, cfg.n_kv_heads, max_len, cfg.head_dim)
        self.k = [torch.zeros(shape, device=device, dtype=dtype) for _ in range(cfg.n_layers)]
        self.v = [torch.zeros(shape, device=device, dtype=dtype) for _ in range(cfg.n_layers)]
        self.pos = 0  # tokens already stored

    def update(self, layer: int, k, v):
        # k, v: (B, G, T, D) for the new tokens -> all keys/values so far, (B, G, S, D)
        end = self.pos + k.size(2)
        self.k[layer][:, :, self.pos:end] = k
        self.v[layer][:, :, self.pos:end] = v
        return self.k[layer][:, :, :end], self.v[layer][:, :, :end]

    def repeat(self, times: int, room: int) -> "KVCache":
        """A cache of times × B rows (row r, B + r, ... hold row r's tokens) with room for `room` more tokens: a
        prompt computed once and continued several ways. Differentiable: gradients reach the tokens cached here."""
        def grow(t):  # (B, G, max_len, D) -> (times * B, G, pos + room, D)
            B, G, _, D = t.shape
            return torch.cat([t[:, :, :self.pos].repeat(times, 1, 1, 1), t.new_zeros(times * B, G, room, D)], dim=2)

        out = KVCache.__new__(KVCache)
        out.k, out.v, out.pos = [grow(k) for k in self.k], [grow(v) for v in self.v], self.pos
        return out


class Attention(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.n_heads, self.n_kv_heads, self.head_dim = cfg.n_heads, cfg.n_kv_heads, cfg.head_dim
        self.wq = nn.Linear(cfg.dim, cfg.n_heads * cfg.head_dim, bias=cfg.qkv_bias)
        self.wkv = nn.Linear(cfg.dim, 2 * cfg.n_kv_heads * cfg.head_dim, bias=cfg.qkv_bias)
        self.wo = nn.Linear(cfg.n_heads * cfg.head_dim, cfg.dim, bias=False)

    def forward(self, x, rot, mask, cache: KVCache | None, layer: int):
        B, T, _ = x.shape
        q = self.wq(x).view(B, T, self.n_heads, self.head_dim).transpose(1, 2)  # (B, H, T, D)
        k, v = self.wkv(x).view(B, T, 2, self.n_kv_heads, self.head_dim).permute(2, 0, 3, 1, 4)  # 2x (B, G, T, D)
        q, k = apply_rope(q, rot), apply_rope(k, rot)
        if cache is not None:
            k, v = cache.update(layer, k, v)  # (B, G, S, D)
        # No mask: causal from position 0 (T > 1), or one new token that sees every key (T == 1).
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=mask is None and T > 1,
                                           enable_gqa=True)  # (B, H, T, D); each key head serves H/G query heads
        return self.wo(y.transpose(1, 2).reshape(B, T, -1))


class FeedForward(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.w_gate = nn.Linear(cfg.dim, cfg.hidden_dim, bias=False)
        self.w_up = nn.Linear(cfg.dim, cfg.hidden_dim, bias=False)
        self.w_down = nn.Linear(cfg.hidden_dim, cfg.dim, bias=False)

    def forward(self, x):
        return self.w_down(F.silu(self.w_gate(x)) * self.w_up(x))


class Block(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.attn_norm = RMSNorm(cfg.dim, cfg.norm_eps)
        self.attn = Attention(cfg)
        self.mlp_norm = RMSNorm(cfg.dim, cfg.norm_eps)
        self.mlp = FeedForward(cfg)

    def forward(self, x, rot, mask, cache, layer):
        x = x + self.attn(self.attn_norm(x), rot, mask, cache, layer)
        return x + self.mlp(self.mlp_norm(x))


class Transformer(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.embed = nn.Embedding(cfg.vocab_size, cfg.dim)
        self.layers = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layers))
        self.norm = RMSNorm(cfg.dim, cfg.norm_eps)
        self.lm_head = nn.Linear(cfg.dim, cfg.vocab_size, bias=False)
        if cfg.tie_embeddings:
            self.lm_head.weight = self.embed.weight
        cos, sin = rope_tables(cfg.head_dim, cfg.max_seq_len, cfg.rope_theta, cfg.rope_scaling)
        self.register_buffer("rope_cos", cos, persistent=False)
        self.register_buffer("rope_sin", sin, persistent=False)
        self.apply(self._init_weights)
        for name, p in self.named_parameters():  # scale residual projections by depth, as GPT-2 does
            if name.endswith(("wo.weight", "w_down.weight")):
                nn.init.normal_(p, std=0.02 / math.sqrt(2 * cfg.n_layers))

    @classmethod
    def from_state(cls, cfg: ModelConfig, state: dict[str, torch.Tensor], where: str = "") -> "Transformer":
        """A model holding exactly these weights, built without a random initialisation to throw away. Weights that
        do not fit the config, or that hold NaN or inf, are a ModelError naming `where` they came from."""
        with torch.device("meta"):
            model = cls(cfg)
        if cfg.tie_embeddings and "embed.weight" in state:
            state = {**state, "lm_head.weight": state["embed.weight"]}
        check_weights(model.state_dict(), state, where)
        model.load_state_dict(state, strict=True, assign=True)
        if cfg.tie_embeddings:  # assign gave lm_head a Parameter of its own; share embed's again
            model.lm_head.weight = model.embed.weight
        model.rope_cos, model.rope_sin = rope_tables(cfg.head_dim, cfg.max_seq_len, cfg.rope_theta, cfg.rope_scaling)
        return model

    @staticmethod
    def _init_weights(module):
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def num_params(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def forward(self, ids, cache: KVCache | None = None, attention_mask=None, positions=None):
        """ids: (B, T) -> logits (B, T, V). See hidden()."""
        return self.lm_head(self.hidden(ids, cache, attention_mask, positions))

    def hidden(self, ids, cache: KVCache | None = None, attention_mask=None, positions=None):
        """ids: (B, T) -> final normed hidden states (B, T, C), which lm_head turns into logits: callers that
        need a few positions' logits (the last one when decoding, the scored ones in training) project only those.

        With a cache, positions continue from cache.pos. attention_mask (B, S) marks real tokens (1) and padding
        (0) among the cached + new keys; without it every token is real. positions (B, T): each token's rotary
        position when it is not its slot (a row whose cached prefix is shorter than the cache's width).
        """
        B, T = ids.shape
        start = cache.pos if cache is not None else 0
        # The rotary positions must fit the context; a batch's layout may be wider (the longest prompt beside the
        # longest reply of another pair) when rows give their own positions.
        end = int(positions.max()) + 1 if positions is not None else start + T
        if end > self.cfg.max_seq_len:
            raise ValueError(f"sequence of {end} tokens exceeds max_seq_len={self.cfg.max_seq_len}")
        if positions is None:
            cos, sin = self.rope_cos[start:start + T], self.rope_sin[start:start + T]  # (T, D/2)
        else:
            cos, sin = self.rope_cos[positions][:, None], self.rope_sin[positions][:, None]  # (B, 1, T, D/2)
        rot = torch.complex(cos.float(), sin.float())
        mask = None if attention_mask is None and (T == 1 or start == 0) else \
            self._mask(T, start, attention_mask, ids.device)
        x = self.embed(ids)  # (B, T, C)
        for i, layer in enumerate(self.layers):
            x = layer(x, rot, mask, cache, i)
        if cache is not None:
            cache.pos += T
        return self.norm(x)  # (B, T, C)

    @staticmethod
    def _mask(T: int, start: int, attention_mask, device):
        # Boolean (B or 1, 1, T, S): True where a query may attend. Causal, minus padded keys.
        S = start + T
        if attention_mask is None:
            return torch.ones(T, S, dtype=torch.bool, device=device).tril(diagonal=start)
        keys = attention_mask[:, :S].bool()[:, None, None, :]  # (B, 1, 1, S)
        if T == 1:  # one new token: it sees every real key
            return keys
        mask = torch.ones(T, S, dtype=torch.bool, device=device).tril(diagonal=start) & keys
        # A padded query row would attend to nothing and give NaN; let it see itself instead.
        own = torch.arange(S, device=device)[None, :] == torch.arange(start, S, device=device)[:, None]  # (T, S)
        return mask | own
