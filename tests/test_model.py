import pytest
import torch

from conftest import tiny_config
from trainer.model import KVCache, ModelConfig, Transformer


def test_default_config_is_about_six_million_parameters():
    model = Transformer(ModelConfig())
    assert 5_000_000 < model.num_params() < 7_000_000
    assert model.lm_head.weight is model.embed.weight


def test_untied_embeddings_are_separate():
    model = Transformer(tiny_config(100, tie_embeddings=False))
    assert model.lm_head.weight is not model.embed.weight


def test_forward_shapes_and_causality():
    torch.manual_seed(0)
    model = Transformer(tiny_config(100)).eval()
    ids = torch.randint(0, 100, (2, 10))
    logits = model(ids)
    assert logits.shape == (2, 10, 100)
    changed = ids.clone()
    changed[:, 7:] = (changed[:, 7:] + 1) % 100
    # positions before the change cannot see it
    assert torch.allclose(model(changed)[:, :7], logits[:, :7], atol=1e-6)


def test_cached_forward_matches_full_forward():
    torch.manual_seed(0)
    model = Transformer(tiny_config(100)).eval()
    ids = torch.randint(0, 100, (2, 12))
    full = model(ids)
    cache = KVCache(model.cfg, 2, 12, "cpu", torch.float32)
    parts = [model(ids[:, :5], cache=cache)] + [model(ids[:, i:i + 1], cache=cache) for i in range(5, 12)]
    assert torch.allclose(torch.cat(parts, dim=1), full, atol=1e-5)


def test_left_padding_does_not_change_the_real_tokens_logits():
    torch.manual_seed(0)
    model = Transformer(tiny_config(100)).eval()
    ids = torch.randint(1, 100, (1, 6))
    padded = torch.cat([torch.zeros(1, 3, dtype=torch.long), ids], dim=1)
    mask = torch.tensor([[0, 0, 0, 1, 1, 1, 1, 1, 1]])
    assert torch.allclose(model(padded, attention_mask=mask)[:, 3:], model(ids), atol=1e-5)


def test_too_long_input_is_refused():
    model = Transformer(tiny_config(100, max_seq_len=8))
    with pytest.raises(ValueError, match="max_seq_len"):
        model(torch.zeros(1, 9, dtype=torch.long))


def test_grouped_query_attention_checks_head_counts():
    with pytest.raises(ValueError):
        ModelConfig(dim=32, n_heads=4, n_kv_heads=3)


def test_fast_attention_paths_equal_the_explicit_mask():
    """No mask (is_causal, or one new token seeing every key) and per-row positions equal the masked slot path."""
    torch.manual_seed(0)
    model = Transformer(tiny_config(100)).eval()
    ids = torch.randint(0, 100, (2, 9))
    ones = torch.ones(2, 9, dtype=torch.long)
    explicit = model(ids, attention_mask=ones)  # the boolean mask, built in full
    assert torch.allclose(model(ids), explicit, atol=1e-5)
    assert torch.allclose(model(ids, positions=torch.arange(9).expand(2, 9)), explicit, atol=1e-5)
    cache = KVCache(model.cfg, 2, 9, "cpu", torch.float32)
    model(ids[:, :8], cache=cache)
    assert torch.allclose(model(ids[:, 8:], cache=cache)[:, 0], explicit[:, 8], atol=1e-5)
    h = model.hidden(ids)
    assert torch.allclose(model.lm_head(h[:, -1]), explicit[:, -1], atol=1e-5)


def test_a_repeated_cache_continues_each_row_as_a_full_forward_would():
    torch.manual_seed(0)
    model = Transformer(tiny_config(100)).eval()
    prefix, a, b = torch.randint(0, 100, (2, 5)), torch.randint(0, 100, (2, 3)), torch.randint(0, 100, (2, 3))
    cache = KVCache(model.cfg, 2, 5, "cpu", torch.float32)
    model(prefix, cache=cache)
    both = model(torch.cat([a, b]), cache=cache.repeat(2, 3))  # rows: prefix+a for each pair, then prefix+b
    full = model(torch.cat([torch.cat([prefix, a], 1), torch.cat([prefix, b], 1)]))[:, 5:]
    assert torch.allclose(both, full, atol=1e-5)
