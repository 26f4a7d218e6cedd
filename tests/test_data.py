"""Seed examples -> token ids -> batches for one concatenated [chosen; rejected] forward."""
import pytest
import torch

from trainer.chat import MarkerChat, render
from trainer.checkpoint import load_checkpoint
from trainer.data import (Pair, collate, collate_shared, encode_example, encode_examples, eval_batches, micro_batches,
                          split_examples, step_batches)
from trainer.dpo import sequence_logps

MULTI_TURN = {"Template": ["Be kind."], "User": ["Hi there.", "Do you like soup?"],
              "Accepted": ["Hello! How are you?", "Yes, I like soup."], "Rejected": ["Hey,", "No. Bye."]}


def example(i: int, reply_words: int = 3) -> dict:
    return {"Template": ["Be kind."], "User": [f"Do you like pizza {i}?"],
            "Accepted": [" ".join(["yes"] * reply_words)], "Rejected": [" ".join(["no"] * (1 + i % 5))]}


def test_each_side_keeps_its_own_history_and_scores_only_the_final_reply(tiny_tokenizer):
    tok = tiny_tokenizer
    pair, prompt_cut, response_cut = encode_example(MarkerChat(tok), MULTI_TURN, 128, 64)
    for prompt, response, replies in ((pair.chosen_prompt, pair.chosen, MULTI_TURN["Accepted"]),
                                      (pair.rejected_prompt, pair.rejected, MULTI_TURN["Rejected"])):
        ids, mask = render(tok, "Be kind.", MULTI_TURN["User"], replies)
        assert list(prompt + response) == ids
        assert [0] * len(prompt) + [1] * len(response) == mask  # the final reply and its <EOA>, nothing else
        assert response[-1] == tok.eoa and prompt[-1] == tok.soa
    assert pair.chosen_prompt != pair.rejected_prompt  # different second-turn histories
    assert not prompt_cut and not response_cut


def test_truncation_keeps_the_end_of_the_prompt_and_caps_the_response(tiny_tokenizer):
    tok = tiny_tokenizer
    long = {"Template": ["Be kind. " * 20], "User": ["Do you like soup? " * 10],
            "Accepted": ["Yes, I like soup and bread. " * 5], "Rejected": ["No."]}
    full, _, _ = encode_example(MarkerChat(tok), long, 1000, 1000)
    pair, prompt_cut, response_cut = encode_example(MarkerChat(tok), long, 40, 12)
    assert prompt_cut and response_cut
    assert pair.chosen == full.chosen[:12]
    assert pair.chosen_prompt == full.chosen_prompt[-(40 - 12):]  # the end: the user's question and <SOA>
    assert len(pair.chosen_prompt) + len(pair.chosen) == 40
    assert pair.rejected == full.rejected and pair.rejected_prompt == full.rejected_prompt[-(40 - len(full.rejected)):]


def test_counts_report_truncations_and_pairs_dropped_as_identical(tiny_tokenizer):
    same_start = {"Template": ["Be kind."], "User": ["Hi?"], "Accepted": ["Hello there, I like green tea."],
                  "Rejected": ["Hello there, I like soup."]}
    examples = [example(0), example(1, reply_words=40), same_start]
    pairs, kept, counts = encode_examples(MarkerChat(tiny_tokenizer), examples, 64, 5)
    assert counts == {"examples": 3, "used": 2, "prompt_truncated": 0, "response_truncated": 3,
                      "dropped_identical": 1}  # capped at 5 tokens ("Hello there, I like") the last prefers nothing
    assert kept == examples[:2] and len(pairs) == 2
    with pytest.raises(ValueError, match="max_response_len"):
        encode_examples(MarkerChat(tiny_tokenizer), examples, 64, 64)


def test_pair_key_is_a_hash_of_the_scored_ids(tiny_tokenizer):
    a, _, _ = encode_example(MarkerChat(tiny_tokenizer), example(0), 128, 64)
    again, _, _ = encode_example(MarkerChat(tiny_tokenizer), example(0), 128, 64)
    other, _, _ = encode_example(MarkerChat(tiny_tokenizer), example(1), 128, 64)
    capped, _, _ = encode_example(MarkerChat(tiny_tokenizer), example(0), 128, 2)
    assert a.key == again.key and len(a.key) == 64
    assert len({a.key, other.key, capped.key}) == 3


def test_collate_stacks_chosen_rows_then_rejected_rows(tiny_tokenizer):
    tok = tiny_tokenizer
    pairs = [encode_example(MarkerChat(tok), ex, 128, 64)[0] for ex in (example(0), MULTI_TURN, example(3))]
    batch = collate(pairs, tok.pad, "cpu")
    longest = max(p.length for p in pairs)
    assert batch.inputs.shape == batch.targets.shape == batch.mask.shape == (6, longest - 1)
    rows = [(p.chosen_prompt, p.chosen) for p in pairs] + [(p.rejected_prompt, p.rejected) for p in pairs]
    for i, (prompt, response) in enumerate(rows):
        seq, n = list(prompt + response), len(prompt) + len(response) - 1
        assert batch.inputs[i, :n].tolist() == seq[:-1] and batch.targets[i, :n].tolist() == seq[1:]
        assert (batch.inputs[i, n:] == tok.pad).all()
        assert batch.targets[i][batch.mask[i].bool()].tolist() == list(response)
    assert batch.counts.tolist() == [len(r) for _, r in rows]
    assert batch.tokens == sum(len(p) + len(r) - 1 for p, r in rows)


def test_concatenated_forward_equals_separate_forwards(tiny_tokenizer, tiny_checkpoint):
    """Right padding to the longest row of the concatenated batch changes no response log-prob."""
    model = load_checkpoint(tiny_checkpoint)[0]
    pairs = [encode_example(MarkerChat(tiny_tokenizer), ex, 128, 64)[0] for ex in (example(0), MULTI_TURN, example(4))]
    batch = collate(pairs, tiny_tokenizer.pad, "cpu")
    with torch.no_grad():
        together = sequence_logps(model(batch.inputs), batch.targets, batch.mask)
        alone = []
        for p in pairs:
            for side in (Pair(p.chosen_prompt, p.chosen, p.chosen_prompt, p.chosen),
                         Pair(p.rejected_prompt, p.rejected, p.rejected_prompt, p.rejected)):
                single = collate([side], tiny_tokenizer.pad, "cpu")
                alone.append(sequence_logps(model(single.inputs), single.targets, single.mask)[0].item())
    assert together.tolist() == pytest.approx(alone[0::2] + alone[1::2], abs=1e-5)


def test_shared_prefix_forward_equals_the_plain_concatenated_one(tiny_tokenizer, tiny_checkpoint):
    """The prompt run once per pair (and lm_head on scored positions only) gives the plain batch's log-probs and
    gradients, for pairs sharing their whole prompt and for one whose histories differ (MULTI_TURN)."""
    from trainer.train import pair_logps
    model = load_checkpoint(tiny_checkpoint)[0]
    pairs = [encode_example(MarkerChat(tiny_tokenizer), ex, 128, 64)[0] for ex in (example(0), MULTI_TURN, example(4))]
    pad = tiny_tokenizer.pad
    plain_batch, shared_batch = collate(pairs, pad, "cpu"), collate_shared(pairs, pad, "cpu")
    assert shared_batch.tokens == plain_batch.tokens and torch.equal(shared_batch.counts, plain_batch.counts)
    grads = []
    for logps in (lambda: sequence_logps(model(plain_batch.inputs), plain_batch.targets, plain_batch.mask),
                  lambda: pair_logps(model, shared_batch, torch.device("cpu"))):
        model.zero_grad()
        out = logps()
        out.sum().backward()
        grads.append((out.detach(), torch.cat([p.grad.flatten() for p in model.parameters()])))
    (plain, plain_grad), (shared, shared_grad) = grads
    assert torch.allclose(shared, plain, atol=1e-5)
    assert torch.allclose(shared_grad, plain_grad, atol=1e-5)


def test_a_batch_of_long_prompts_beside_long_replies_fits_the_context(tiny_tokenizer, tiny_checkpoint):
    """Each pair fits max_len, but the longest prompt plus another pair's longest reply does not: the shared layout
    is wider than the context, the positions are not (the quick demo on the tiny test model hit this)."""
    from trainer.train import pair_logps
    model = load_checkpoint(tiny_checkpoint)[0]
    chat = MarkerChat(tiny_tokenizer)
    long_prompt = {**example(1), "User": ["pizza " * 80]}
    long_reply = {**example(2), "Accepted": ["yes " * 80]}
    pairs = [encode_example(chat, ex, 128, 100)[0] for ex in (long_prompt, long_reply)]
    assert max(len(p.chosen_prompt) for p in pairs) + max(len(p.chosen) for p in pairs) > model.cfg.max_seq_len
    plain_batch, shared_batch = collate(pairs, chat.pad_id, "cpu"), collate_shared(pairs, chat.pad_id, "cpu")
    with torch.no_grad():
        plain = sequence_logps(model(plain_batch.inputs), plain_batch.targets, plain_batch.mask)
        assert torch.allclose(pair_logps(model, shared_batch, torch.device("cpu")), plain, atol=1e-5)


def test_step_batches_are_full_length_bucketed_and_reproducible():
    torch.manual_seed(0)
    lengths = torch.randint(10, 200, (103,)).tolist()
    batches = step_batches(lengths, 8, seed=1, epoch=0)
    assert all(len(b) == 8 for b in batches) and len(batches) == 103 // 8
    flat = [i for b in batches for i in b]
    assert len(set(flat)) == len(flat)
    spread = sum(max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in batches) / len(batches)
    assert spread < 40  # random batches of 8 from 10..200 would spread ~150
    assert batches == step_batches(lengths, 8, seed=1, epoch=0)
    assert batches != step_batches(lengths, 8, seed=1, epoch=1)
    with pytest.raises(ValueError, match="cannot fill"):
        step_batches(lengths[:5], 8, seed=1, epoch=0)


def test_micro_batches_deal_a_step_over_accumulation_and_ranks():
    step = list(range(100, 112))
    parts = {(rank, k): mb for rank in range(2) for k, mb in enumerate(micro_batches(step, 3, rank, 2))}
    assert all(len(mb) == 2 for mb in parts.values())
    assert sorted(i for mb in parts.values() for i in mb) == step
    assert micro_batches(step, 1, 0, 1) == [step]


def test_eval_batches_cover_everything_once_sorted_by_length():
    lengths = [5, 1, 4, 2, 3]
    assert eval_batches(lengths, 2) == [[1, 3], [4, 2], [0]]


def test_split_examples_is_seeded_and_holds_out_at_least_one():
    examples = [example(i) for i in range(20)]
    train, held = split_examples(examples, 0.1, seed=3)
    assert len(held) == 2 and len(train) == 18
    assert sorted(map(str, train + held)) == sorted(map(str, examples))
    assert (train, held) == split_examples(examples, 0.1, seed=3)
    assert len(split_examples(examples[:3], 0.1, seed=3)[1]) == 1
    assert len(split_examples(examples, 0.0, seed=3)[1]) == 0
