"""studio.quality: statistics and the data-quality report, on a real store."""
import pytest

from studio.quality import quality_report, similar, stats
from studio.store import ExampleFilter, Store


def ex(user, accepted, rejected, template="CUSTOM"):
    return {"Template": [template], "User": [user], "Accepted": [accepted], "Rejected": [rejected]}


@pytest.fixture
def store(tmp_path):
    return Store(tmp_path / "studio.db")


def test_stats_counts_turns_and_lengths(store):
    store.add_example(ex("abcd", "a" * 10, "b" * 2), annotator="ann", source="pku")
    store.add_example(ex("ab", "a" * 4, "b" * 8), annotator="bob", source="pku", split="eval", status="draft")
    store.add_example({"Template": ["CUSTOM"], "User": ["u", "xyzxyz"], "Accepted": ["s", "a" * 6],
                       "Rejected": ["s", "b" * 5]}, annotator="bob", source="hh")
    result = stats(store)
    assert result["examples"] == 3 and result["turns"] == {1: 2, 2: 1}
    assert (result["by_status"], result["by_annotator"], result["by_source"], result["by_split"]) == (
        {"done": 2, "draft": 1}, {"ann": 1, "bob": 2}, {"hh": 1, "pku": 2}, {"eval": 1, "train": 2})
    assert result["final_turn_chars"] == {"user": {"min": 2, "mean": 4.0, "median": 4, "max": 6},
                                          "accepted": {"min": 4, "mean": 6.7, "median": 6, "max": 10},
                                          "rejected": {"min": 2, "mean": 5.0, "median": 5, "max": 8}}
    assert stats(store, ExampleFilter(source="hh"))["by_annotator"] == {"bob": 1}
    assert stats(Store(store.path.with_name("empty.db")))["final_turn_chars"]["user"]["max"] == 0


def test_near_identical_replies():
    assert similar("Call a locksmith.", "call a  LOCKSMITH!")
    assert similar("one two three four five six seven eight nine ten eleven",
                   "one two three four five six seven eight nine ten twelve", threshold=0.9)
    assert not similar("Call a locksmith.", "Smash the window with a rock.")
    assert not similar("one two three four", "one two three five", threshold=0.9)


def test_the_report_names_the_examples_to_review(store):
    ids = {}
    ids["near"], _ = store.add_example(ex("q1", "Call a locksmith now.", "call a locksmith now!"))
    ids["long"], _ = store.add_example(ex("q2", "A long, careful and helpful reply.", "No."))
    ids["dup1"], _ = store.add_example(ex("Same prompt?", "yes", "no"))
    ids["dup2"], _ = store.add_example(ex("Same prompt?", "certainly", "nope"))
    ids["fuzzy"], _ = store.add_example(ex("same  PROMPT", "ok", "not ok"))
    report = quality_report(store)
    assert report["examples"] == 5
    assert report["near_identical"]["ids"] == [ids["near"]] and report["near_identical"]["count"] == 1
    assert report["length_bias"] == {"accepted_longer": 3, "rejected_longer": 1, "equal": 1,
                                     "share_accepted_longer": 0.6}
    assert report["exact_duplicates"] == {"groups": 1, "ids": [[ids["dup1"], ids["dup2"]]]}
    assert report["near_duplicates"] == {"groups": 1, "ids": [[ids["dup1"], ids["dup2"], ids["fuzzy"]]]}


def test_pairs_of_one_conversation_are_not_duplicates(store):
    conversation = store.start_conversation(annotator="ann", user="How do I reset my password?")
    candidates = [store.add_candidate(conversation, 0, t) for t in ("Use the link.", "Ask IT.", "No idea.")]
    store.save_ranking(conversation, 0, [[candidates[0]], candidates[1:]], annotator="ann")
    assert store.count_examples() == 2 and quality_report(store)["exact_duplicates"]["groups"] == 0
    store.add_example(ex("How do I reset my password?", "Click 'Forgot password'.", "Guess."))
    assert quality_report(store)["exact_duplicates"]["ids"] == [[1, 2, 3]]


def test_limits_cut_the_lists_not_the_counts(store):
    for i in range(5):
        store.add_example(ex(f"q{i}", f"same answer {i}", f"same answer {i}!"))
    report = quality_report(store, limit=2)
    assert report["near_identical"]["count"] == 5 and len(report["near_identical"]["ids"]) == 2
    assert quality_report(Store(store.path.with_name("empty.db")))["length_bias"]["share_accepted_longer"] is None
