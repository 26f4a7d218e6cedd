import torch

from trainer.checkpoint import load_checkpoint
from trainer.generate import SamplingParams, filter_top_k_top_p, generate, penalise_repeats, until_stop
from trainer.inference import ChatModel
from trainer.chat import render_prompt


def prompts(tok):
    return [render_prompt(tok, "CUSTOM", ["Hello! How are you doing today?"], []),
            render_prompt(tok, "Sys", ["hi", "I like pizza"], ["hey"]),
            [tok.sot, tok.eot, tok.sou, tok.eou, tok.soa]]


def test_greedy_cached_equals_uncached_token_for_token(tiny_checkpoint):
    model, chat, _ = load_checkpoint(tiny_checkpoint)
    tok = chat.tok
    greedy = SamplingParams(temperature=0, repetition_penalty=1.0, max_new_tokens=40)
    cached = generate(model, prompts(tok), greedy, stop_ids=(tok.eoa,), pad_id=tok.pad, use_cache=True)
    uncached = generate(model, prompts(tok), greedy, stop_ids=(tok.eoa,), pad_id=tok.pad, use_cache=False)
    assert cached == uncached
    assert all(len(row) == 40 for row in cached)  # random weights never emit <EOA> early here


def test_batched_generation_matches_one_prompt_at_a_time(tiny_checkpoint):
    model, chat, _ = load_checkpoint(tiny_checkpoint)
    tok = chat.tok
    greedy = SamplingParams(temperature=0, max_new_tokens=20)
    batched = generate(model, prompts(tok), greedy, (tok.eoa,), tok.pad)
    single = [generate(model, [p], greedy, (tok.eoa,), tok.pad)[0] for p in prompts(tok)]
    assert batched == single


def test_sampling_is_deterministic_per_seed(tiny_checkpoint):
    model, chat, _ = load_checkpoint(tiny_checkpoint)
    tok = chat.tok

    def run(seed):
        return generate(model, prompts(tok), SamplingParams(seed=seed, max_new_tokens=15), (tok.eoa,), tok.pad)

    assert run(1) == run(1)
    assert run(1) != run(2)


def test_generation_stops_at_end_of_assistant(tiny_checkpoint):
    model, chat, _ = load_checkpoint(tiny_checkpoint)
    tok = chat.tok
    head = torch.nn.Linear(model.cfg.dim, model.cfg.vocab_size)  # a head that always prefers <EOA>
    torch.nn.init.zeros_(head.weight)
    torch.nn.init.zeros_(head.bias)
    head.bias.data[tok.eoa] = 10.0
    model.lm_head = head
    out = generate(model, prompts(tok), SamplingParams(temperature=0, max_new_tokens=30), (tok.eoa,), tok.pad)
    assert out == [[], [], []]


def test_output_ends_before_the_first_of_any_stop_token():
    assert until_stop([5, 6, 9, 7, 7], stop_ids=(9,)) == [5, 6]
    assert until_stop([5, 8, 6, 9], stop_ids=(9, 8)) == [5]
    assert until_stop([5, 6], stop_ids=(9,)) == [5, 6]


def test_top_k_and_top_p_keep_only_the_head_of_the_distribution():
    logits = torch.tensor([[4.0, 3.0, 2.0, 1.0, 0.0]])
    kept = torch.isfinite(filter_top_k_top_p(logits, top_k=2, top_p=1.0))
    assert kept.tolist() == [[True, True, False, False, False]]
    probs = logits.softmax(-1)[0]
    kept = torch.isfinite(filter_top_k_top_p(logits, top_k=0, top_p=float(probs[0]) + 1e-3))
    assert kept.tolist() == [[True, True, False, False, False]]


def test_repetition_penalty_lowers_seen_tokens_of_either_sign():
    logits = torch.tensor([[2.0, -2.0, 1.0]])
    seen = torch.tensor([[True, True, False]])
    assert penalise_repeats(logits, seen, 2.0).tolist() == [[1.0, -4.0, 1.0]]


def test_chat_model_candidates_differ(tiny_checkpoint):
    chat = ChatModel.load(tiny_checkpoint, device="cpu")
    cands = chat.candidates("CUSTOM", ["Hello!"], [], SamplingParams(max_new_tokens=12, seed=5), n=3)
    assert len(cands) == 3 and len(set(cands)) == 3
