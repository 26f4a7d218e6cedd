"""Store.save_edit: an annotator's edit of a candidate, stored as preferred over the original."""
import pytest

from studio.store import ExampleFilter, Store, StoreError


@pytest.fixture
def store(tmp_path):
    return Store(tmp_path / "studio.db")


def test_an_edit_is_stored_as_preferred_over_its_original_in_the_turns_context(store):
    conversation = store.start_conversation(annotator="ann", template="Be brief.", user="u0")
    first = store.add_candidate(conversation, 0, "a0")
    store.save_ranking(conversation, 0, [[first]], annotator="ann")
    store.add_turn(conversation, "u1")
    original = store.add_candidate(conversation, 1, "Reset it.", origin="model", checkpoint="ckpt")
    edited = store.add_candidate(conversation, 1, "Use the reset link.", origin="human", edited_from=original)
    example_id = store.save_edit(conversation, 1, edited, annotator="ann")
    example = store.get_example(example_id)
    assert example.seed == {"Template": ["Be brief."], "User": ["u0", "u1"], "Accepted": ["a0", "Use the reset link."],
                            "Rejected": ["a0", "Reset it."]}
    assert (example.conversation_id, example.accepted_id, example.rejected_id, example.ranking_id) == (
        conversation, edited, original, None)
    assert (example.annotator, example.status) == ("ann", "draft")
    assert store.save_edit(conversation, 1, edited, annotator="ann") is None  # the same pair is stored once
    store.set_conversation_status(conversation, "done")
    assert [e.id for e in store.iter_examples(ExampleFilter(status="done"))] == [example_id]


def test_only_an_edit_of_the_same_turn_can_be_saved(store):
    conversation = store.start_conversation(user="u")
    plain = store.add_candidate(conversation, 0, "a")
    with pytest.raises(StoreError, match="not an edit"):
        store.save_edit(conversation, 0, plain)
    with pytest.raises(StoreError, match="no turn 1"):
        store.save_edit(conversation, 1, plain)
