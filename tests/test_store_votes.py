"""Blind votes between a run's policy and its reference: the vote, the example a winner makes, the tally."""
import pytest

from studio.store import ExampleFilter, Store, StoreError

CONVERSATION = dict(template="CUSTOM", user=["Hi!", "Any tips for sleep?"],
                    policy_replies=["Hello!", "Keep a routine."], reference_replies=["Hello!", "No."])


@pytest.fixture
def store(tmp_path):
    return Store(tmp_path / "studio.db")


def vote(store, outcome, side="A", policy="/runs/r1/checkpoints/best", run="r1", **kwargs):
    return store.record_vote(run=run, policy=policy, reference="/models/base", policy_side=side, outcome=outcome,
                             annotator="vera", sampling={"seed": 3}, **{**CONVERSATION, **kwargs})


def test_a_policy_win_becomes_a_compare_example_with_the_policy_accepted(store):
    vote_id, example_id = vote(store, "policy")
    example = store.get_example(example_id)
    assert example.seed == {"Template": ["CUSTOM"], "User": ["Hi!", "Any tips for sleep?"],
                            "Accepted": ["Hello!", "Keep a routine."], "Rejected": ["Hello!", "No."]}
    assert (example.source, example.annotator, example.status, example.source_ref) == ("compare", "vera", "done", "r1")
    assert example.meta == {"run": "r1", "policy": "/runs/r1/checkpoints/best", "reference": "/models/base",
                            "winner": "policy"}


def test_a_reference_win_accepts_the_reference_and_ties_or_both_bad_make_no_example(store):
    _, example_id = vote(store, "reference", side="B")
    assert store.get_example(example_id).seed["Accepted"] == ["Hello!", "No."]
    assert vote(store, "tie")[1] is None
    assert vote(store, "both_bad")[1] is None
    assert store.count_examples(ExampleFilter(source="compare")) == 1


def test_the_same_winning_conversation_twice_is_one_example_and_two_votes(store):
    first, second = vote(store, "policy"), vote(store, "policy", side="B")
    assert first[1] == second[1] and first[0] != second[0]
    assert store.vote_tally()[0]["votes"] == 2


def test_tally_counts_outcomes_per_run_and_checkpoint(store):
    for outcome in ("policy", "policy", "reference", "tie", "both_bad"):
        vote(store, outcome)
    vote(store, "reference", policy="/runs/r1/checkpoints/last")
    vote(store, "policy", run="r2", policy="/runs/r2/checkpoints/best")
    assert store.vote_tally("r1") == [
        {"run": "r1", "checkpoint": "/runs/r1/checkpoints/best", "votes": 5, "policy": 2, "reference": 1, "tie": 1,
         "both_bad": 1},
        {"run": "r1", "checkpoint": "/runs/r1/checkpoints/last", "votes": 1, "policy": 0, "reference": 1, "tie": 0,
         "both_bad": 0}]
    assert [t["run"] for t in store.vote_tally()] == ["r1", "r1", "r2"]


def test_bad_votes_store_nothing(store):
    with pytest.raises(StoreError, match="unknown outcome"):
        vote(store, "draw")
    with pytest.raises(StoreError, match="policy_side"):
        vote(store, "tie", side="C")
    with pytest.raises(ValueError):  # identical final replies cannot be a preference
        vote(store, "policy", reference_replies=["Hello!", "Keep a routine."])
    assert store.vote_tally() == [] and store.count_examples() == 0
