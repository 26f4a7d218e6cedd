"""Saving a ranking with its edits: each edit stored as preferred over its original, all in one transaction."""
import sqlite3

import pytest

from studio import store as store_module
from studio.store import ExampleFilter, OpenTurn, Reply, Store, StoreError


@pytest.fixture
def store(tmp_path):
    return Store(tmp_path / "studio.db")


def test_an_edit_is_stored_as_preferred_over_its_original_in_the_turns_context(store):
    conversation = store.start_conversation(annotator="ann", template="Be brief.", user="u0")
    first = store.add_candidate(conversation, 0, "a0")
    store.save_ranking(conversation, 0, [[first]], annotator="ann")
    store.add_turn(conversation, "u1")
    original = store.add_candidate(conversation, 1, "Reset it.", origin="model", checkpoint="ckpt")
    result = store.save_ranking(conversation, 1, [[original]], annotator="ann", edits={original: "Use the reset link."})
    [example_id] = result.edit_ids
    example = store.get_example(example_id)
    assert example.seed == {"Template": ["Be brief."], "User": ["u0", "u1"], "Accepted": ["a0", "Use the reset link."],
                            "Rejected": ["a0", "Reset it."]}
    edited = example.accepted_id
    assert (example.conversation_id, example.rejected_id, example.ranking_id) == (conversation, original, None)
    assert store.get_conversation(conversation).turns[1].reply_id == edited  # the edit took the original's place
    assert (example.annotator, example.status) == ("ann", "draft")
    again = store.save_ranking(conversation, 1, [[edited]], annotator="ann")  # a ranked edit yields its pair again
    assert again.edit_ids == [example_id] and store.count_examples(ExampleFilter(status="draft")) == 1
    store.set_conversation_status(conversation, "done")
    assert [e.id for e in store.iter_examples(ExampleFilter(status="done"))] == [example_id]


def test_only_a_candidate_of_the_same_turn_can_be_edited(store):
    conversation = store.start_conversation(user="u")
    other = store.start_conversation(user="v")
    stranger = store.add_candidate(other, 0, "x")
    with pytest.raises(StoreError, match="not candidates of turn 0"):
        store.save_ranking(conversation, 0, [[stranger]], edits={stranger: "y"})
    with pytest.raises(StoreError, match="no turn 1"):
        store.save_ranking(conversation, 1, [[stranger]], edits={stranger: "y"})


def dump(store) -> list[str]:
    return list(sqlite3.connect(store.path).iterdump())


def test_a_failure_part_way_through_a_save_leaves_the_store_as_it_was_and_a_retry_stores_it_once(store, monkeypatch):
    conversation = store.start_conversation(annotator="ann", user="u", prompt_id=None)
    a, b, c = (store.add_candidate(conversation, 0, t) for t in ("a", "b", "c"))
    before = dump(store)
    inserted, real = [], store_module._insert_example

    def fail_on_the_third(db, row):  # after the edit candidates, the ranking and two pairs are written
        inserted.append(row)
        if len(inserted) == 3:
            raise sqlite3.OperationalError("disk I/O error")
        return real(db, row)

    monkeypatch.setattr(store_module, "_insert_example", fail_on_the_third)
    with pytest.raises(sqlite3.OperationalError):
        store.save_ranking(conversation, 0, [[b], [a], [c]], annotator="ann", edits={b: "b, better", c: "c, edited"},
                           finish=True)
    assert dump(store) == before
    monkeypatch.setattr(store_module, "_insert_example", real)
    result = store.save_ranking(conversation, 0, [[b], [a], [c]], annotator="ann",
                                edits={b: "b, better", c: "c, edited"}, finish=True)
    turn = store.get_conversation(conversation).turns[0]
    assert [x.text for x in turn.candidates] == ["a", "b", "c", "b, better", "c, edited"]  # no orphans, no twins
    assert (len(result.example_ids), len(result.edit_ids), store.count_examples(ExampleFilter(status="done"))) == (
        2, 2, 4)


def test_a_written_turn_is_one_transaction_too(store, monkeypatch):
    store.add_prompts(["p1"])
    prompt = store.next_prompt("ann")
    before = dump(store)
    monkeypatch.setattr(store_module, "_insert_example", lambda db, row: 1 / 0)
    at = OpenTurn(user="p1", prompt_id=prompt.id)
    with pytest.raises(ZeroDivisionError):
        store.save_written(at, Reply("good"), Reply("bad"), annotator="ann", finish=True)
    assert dump(store) == before
    monkeypatch.undo()
    result = store.save_written(at, Reply("good"), Reply("bad", "model", "ckpt", {"seed": 1}), annotator="ann",
                                finish=True)
    assert (result.conversation_id, result.turn, len(result.example_ids)) == (1, 0, 1)
    assert store.list_conversations() == [
        {**store.list_conversations()[0], "status": "done", "first_user": "p1", "n_turns": 1}]
    assert store.queue_for("ann")["done"] == 1
