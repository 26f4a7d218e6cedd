"""studio.pairing: ranking tiers + strategy -> (accepted, rejected) pairs."""
import pytest

from studio.pairing import STRATEGIES, derive_pairs, ranking_pairs, tiers_from_ranks
from studio.store import Store
from trainer.conversation import Conversation

A, B, C, D = "a", "b", "c", "d"


@pytest.mark.parametrize("strategy, expected", [
    ("best-vs-worst", [(A, D)]),
    ("best-vs-rest", [(A, B), (A, C), (A, D)]),
    ("all-pairs", [(A, B), (A, C), (A, D), (B, C), (B, D), (C, D)]),
])
def test_strict_order(strategy, expected):
    assert derive_pairs([[A], [B], [C], [D]], strategy) == expected


@pytest.mark.parametrize("strategy, expected", [
    ("best-vs-worst", [(A, D)]),
    ("best-vs-rest", [(A, B), (A, C), (A, D)]),
    ("all-pairs", [(A, B), (A, C), (A, D), (B, D), (C, D)]),
])
def test_ties_never_pair_within_a_tier(strategy, expected):
    assert derive_pairs([[A], [B, C], [D]], strategy) == expected


@pytest.mark.parametrize("strategy, expected", [
    ("best-vs-worst", [(A, C), (A, D), (B, C), (B, D)]),
    ("best-vs-rest", [(A, C), (A, D), (B, C), (B, D)]),
    ("all-pairs", [(A, C), (A, D), (B, C), (B, D)]),
])
def test_a_tied_best_tier_gives_every_winner_its_pairs(strategy, expected):
    assert derive_pairs([[A, B], [C, D]], strategy) == expected


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_one_tier_or_one_candidate_gives_nothing(strategy):
    assert derive_pairs([[A, B, C]], strategy) == derive_pairs([[A]], strategy) == []


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_none_acceptable_gives_nothing(strategy):
    assert derive_pairs([[A], [B], [C]], strategy, acceptable=0) == []


def test_unacceptable_tiers_are_only_ever_rejected():
    tiers = [[A], [B], [C], [D]]
    assert derive_pairs(tiers, "all-pairs", acceptable=2) == [(A, B), (A, C), (A, D), (B, C), (B, D)]
    assert derive_pairs(tiers, "all-pairs", acceptable=1) == derive_pairs(tiers, "best-vs-rest")
    assert derive_pairs(tiers, "best-vs-worst", acceptable=1) == [(A, D)]


def test_default_strategy_is_best_vs_rest():
    assert derive_pairs([[A], [B], [C]]) == derive_pairs([[A], [B], [C]], "best-vs-rest")


@pytest.mark.parametrize("tiers, acceptable, strategy, words", [
    ([], None, "all-pairs", "non-empty list of tiers"),
    ([[A], []], None, "all-pairs", "tier 1"),
    ([[A], [B, A]], None, "all-pairs", "twice"),
    ([[A], [B]], 3, "all-pairs", "between 0 and 2"),
    ([[A], [B]], -1, "all-pairs", "between 0 and 2"),
    ([[A], [B]], None, "best-vs-median", "unknown pairing strategy"),
    ("ab", None, "all-pairs", "non-empty list of tiers"),
])
def test_bad_rankings_are_refused(tiers, acceptable, strategy, words):
    with pytest.raises(ValueError, match=words):
        derive_pairs(tiers, strategy, acceptable)


def test_pairs_are_counted_as_the_strategies_promise():
    tiers = [[1, 2], [3], [4, 5, 6]]
    assert len(derive_pairs(tiers, "all-pairs")) == 2 * 1 + 2 * 3 + 1 * 3
    assert len(derive_pairs(tiers, "best-vs-rest")) == 2 * 4
    assert len(derive_pairs(tiers, "best-vs-worst")) == 2 * 3


def test_tiers_from_ranks_groups_equal_ranks_best_first():
    assert tiers_from_ranks({10: 2, 11: 1, 12: 2, 13: 5}) == [[11], [10, 12], [13]]
    assert tiers_from_ranks({}) == []


def test_ranking_pairs_are_seed_examples_in_the_conversations_context_ranked_pairs_then_edits():
    conversation = Conversation("Be brief.", ["u0", "u1"], ["a0"])
    texts = {1: "good", 2: "fine ", 3: "fine", 4: "bad", 5: "better"}
    pairs, identical = ranking_pairs(conversation, texts, [[5], [2, 3], [4]], "all-pairs", originals={5: 1})
    assert [(p.accepted, p.rejected, p.edit) for p in pairs] == [
        (5, 2, False), (5, 3, False), (5, 4, False), (2, 4, False), (3, 4, False), (5, 1, True)]
    assert identical == 0 and pairs[-1].example == {"Template": ["Be brief."], "User": ["u0", "u1"],
                                                    "Accepted": ["a0", "better"], "Rejected": ["a0", "good"]}
    same, identical = ranking_pairs(conversation, texts, [[2], [3]])
    assert (same, identical) == ([], 1)  # whitespace is no preference


def test_the_store_saves_exactly_the_pairs_the_preview_derives(tmp_path):
    """Preview equals export by construction: the store derives its pairs with ranking_pairs too."""
    store = Store(tmp_path / "studio.db")
    conversation_id = store.start_conversation(annotator="ann", template="Be kind.", user="u")
    ids = [store.add_candidate(conversation_id, 0, t) for t in ("a", "b", "c ", "c")]
    tiers, edits = [[ids[1]], [ids[0], ids[2]], [ids[3]]], {ids[1]: "b, edited"}
    result = store.save_ranking(conversation_id, 0, tiers, annotator="ann", strategy="all-pairs", edits=edits)
    texts = {**dict(zip(ids, ("a", "b", "c ", "c"))), "new": "b, edited"}
    previewed, identical = ranking_pairs(Conversation("Be kind.", ["u"]), texts, [["new"], tiers[1], tiers[2]],
                                         "all-pairs", originals={"new": ids[1]})
    stored = [store.get_example(i).seed for i in result.example_ids + result.edit_ids]
    assert stored == [p.example for p in previewed] and result.identical == identical == 1
