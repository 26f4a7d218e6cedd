"""studio.store on real SQLite files: schema, examples, annotation (conversations, rankings), queue, progress."""
import json
import sqlite3
import threading
from datetime import date

import pytest

from studio.store import (MIGRATIONS, DuplicateExample, ExampleFilter, Store, StoreError, content_hash,
                          example_row, timestamp)
from trainer.interchange import SeedError


def ex(user="Hi", accepted="Hello!", rejected="Go away.", template="CUSTOM"):
    return {"Template": [template], "User": [user], "Accepted": [accepted], "Rejected": [rejected]}


@pytest.fixture
def store(tmp_path):
    return Store(tmp_path / "studio.db")


def raw(store):
    return sqlite3.connect(store.path, isolation_level=None)


# ------------------------------------------------------------------------------------------------------- schema

def test_a_new_store_is_migrated_to_the_latest_version_in_wal_mode(store):
    assert store.schema_version == len(MIGRATIONS)
    assert raw(store).execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert raw(store).execute("PRAGMA page_size").fetchone()[0] == 8192
    Store(store.path)  # opening again migrates nothing
    assert raw(store).execute("SELECT count(*) FROM schema_version").fetchone()[0] == len(MIGRATIONS)


def test_every_connection_enforces_foreign_keys_and_waits_when_busy(store):
    with store._unit() as db:
        assert db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert db.execute("PRAGMA busy_timeout").fetchone()[0] == 10_000


def test_a_store_from_a_newer_version_is_refused(store):
    raw(store).execute("INSERT INTO schema_version (version) VALUES (99)")
    with pytest.raises(StoreError, match="schema version 99"):
        Store(store.path)


def test_the_schema_itself_refuses_bad_pairs(store):
    good = example_row(ex())
    columns = ", ".join(good)
    values = ", ".join("?" * len(good))
    db = raw(store)
    same_final = json.dumps(ex(rejected="Hello!"))
    for change in ({"seed": same_final}, {"n_turns": 2}, {"status": "maybe"}):
        with pytest.raises(sqlite3.IntegrityError):
            db.execute(f"INSERT INTO examples ({columns}) VALUES ({values})", list({**good, **change}.values()))


# ------------------------------------------------------------------------------------------------------ examples

def test_add_and_get_an_example_with_its_attributes(store):
    example_id, created = store.add_example(ex(), annotator="ann", source="manual", split="eval", meta={"k": [1]})
    got = store.get_example(example_id)
    assert created and got.seed == ex() and (got.annotator, got.source, got.split, got.status) == (
        "ann", "manual", "eval", "done")
    assert got.meta == {"k": [1]} and got.content_hash == content_hash(ex()) and got.deleted_at is None
    assert store.get_example(999) is None


def test_the_same_content_is_stored_once(store):
    first, _ = store.add_example(ex(), annotator="a")
    assert store.add_example(ex(), annotator="b") == (first, False)
    assert store.add_example(ex(template="Be brief.")) == (first + 1, True)
    assert store.count_examples() == 2


def test_invalid_examples_and_statuses_are_refused(store):
    with pytest.raises(SeedError) as info:
        store.add_example(ex(rejected="Hello!"))
    assert info.value.field == "Rejected[0]"
    with pytest.raises(StoreError, match="unknown status"):
        store.add_example(ex(), status="finished")
    assert store.count_examples() == 0


def test_update_revalidates_rehashes_and_refuses_duplicates(store):
    a, _ = store.add_example(ex())
    b, _ = store.add_example(ex(user="Other"))
    updated = store.update_example(a, seed=ex(accepted="Hello there!"), status="draft", split="eval")
    assert updated.seed["Accepted"] == ["Hello there!"]
    assert updated.content_hash == content_hash(ex(accepted="Hello there!"))
    assert (updated.status, updated.split) == ("draft", "eval") and updated.updated_at >= updated.created_at
    with pytest.raises(DuplicateExample) as info:
        store.update_example(a, seed=ex(user="Other"))
    assert info.value.existing_id == b
    with pytest.raises(SeedError):
        store.update_example(a, seed=ex(accepted=" "))
    with pytest.raises(StoreError, match="no example"):
        store.update_example(42, status="done")


def test_soft_delete_and_undo(store):
    a, _ = store.add_example(ex())
    b, _ = store.add_example(ex(user="Two"))
    assert store.delete_example(a) and not store.delete_example(a)
    assert store.count_examples() == 1 and [e.id for e in store.list_examples().items] == [b]
    assert [e.id for e in store.list_examples(ExampleFilter(deleted=True)).items] == [a]
    assert list(store.export_examples()) == [ex(user="Two")]
    assert store.get_example(a).deleted_at is not None
    assert store.add_example(ex()) == (a, False)  # still known: a deleted example is not stored again
    assert store.undelete_example(a) and not store.undelete_example(a)
    assert store.count_examples() == 2
    with pytest.raises(StoreError):
        store.delete_example(12345)


def test_pages_are_newest_first_with_totals(store):
    ids = [store.add_example(ex(user=f"u{i}"))[0] for i in range(7)]
    first, last = store.list_examples(page=1, page_size=3), store.list_examples(page=3, page_size=3)
    assert [e.id for e in first.items] == ids[::-1][:3] and [e.id for e in last.items] == [ids[0]]
    assert (first.total, first.pages, store.list_examples(page=4, page_size=3).items) == (7, 3, [])
    with pytest.raises(StoreError):
        store.list_examples(page=0)


def test_filters_on_every_attribute(store):
    store.add_example(ex(user="a"), annotator="ann", source="pku", split="train")
    store.add_example(ex(user="b"), annotator="bob", source="pku", split="eval", status="draft")
    store.add_example(ex(user="c", accepted='50% "off"'), annotator="bob", source="hh")

    def users(**kw):
        return [e.seed["User"][0] for e in store.list_examples(ExampleFilter(**kw)).items]

    assert users(annotator="bob") == ["c", "b"] and users(source="pku", split="eval") == ["b"]
    assert users(status="done") == ["c", "a"] and users(status=["draft", "done"]) == ["c", "b", "a"]
    assert users(text='50% "OFF') == ["c"] and users(text="50_") == [] and users(text="B") == ["b"]
    assert store.count_by("annotator") == {"ann": 1, "bob": 2}
    assert store.count_by("status", ExampleFilter(source="pku")) == {"done": 1, "draft": 1}
    with pytest.raises(StoreError):
        store.count_by("content_hash")


def test_date_range_filters(store):
    for user, day in (("old", "2026-01-01T10:00:00.000Z"), ("mid", "2026-02-15T23:59:59.999Z"),
                      ("new", "2026-03-01T00:00:00.000Z")):
        example_id, _ = store.add_example(ex(user=user))
        raw(store).execute("UPDATE examples SET created_at = ? WHERE id = ?", [day, example_id])

    def users(**kw):
        return [e.seed["User"][0] for e in store.iter_examples(ExampleFilter(**kw))]

    assert users(since="2026-02-01") == ["mid", "new"]
    assert users(until="2026-02-15") == ["old", "mid"]  # a date-only until includes that whole day
    assert users(since=date(2026, 1, 2), until="2026-03-01T00:00:00+00:00") == ["mid"]
    assert timestamp("2026-03-01T01:00:00+01:00") == "2026-03-01T00:00:00.000Z"


def test_paging_reads_the_covering_index_not_the_rows(store):
    where, params = ExampleFilter(annotator="x", status="done", since="2026-01-01").where()
    with store._unit() as db:
        for sql in (f"SELECT count(*) FROM examples WHERE {where}",
                    f"SELECT id FROM examples WHERE {where} ORDER BY id DESC LIMIT 50 OFFSET 5000"):
            plan = " ".join(row[3] for row in db.execute("EXPLAIN QUERY PLAN " + sql, params))
            assert "COVERING INDEX examples_page" in plan and "TEMP B-TREE" not in plan


def test_a_conversations_examples_are_found_through_a_partial_index(store):
    with store._unit() as db:
        plan = db.execute("EXPLAIN QUERY PLAN UPDATE examples SET status = 'done' WHERE conversation_id = ?", [1])
        assert "USING INDEX examples_conversation" in plan.fetchone()[3]
        assert "WHERE conversation_id IS NOT NULL" in db.execute(
            "SELECT sql FROM sqlite_master WHERE name = 'examples_conversation'").fetchone()[0]


def test_export_is_in_insertion_order_and_skips_deleted(store):
    ids = [store.add_example(ex(user=u))[0] for u in "cab"]
    store.delete_example(ids[1])
    assert [e["User"][0] for e in store.export_examples()] == ["c", "b"]
    assert list(store.export_examples()) == list(store.export_examples())


def test_bulk_insert_is_one_transaction(store):
    with store.bulk_insert(batch_size=2) as bulk:
        for user in "abcab":
            bulk.add(ex(user=user), source="file")
    assert (bulk.added, bulk.duplicates, store.count_examples()) == (3, 2, 3)
    with pytest.raises(RuntimeError):
        with store.bulk_insert(batch_size=2) as bulk:
            for user in "defg":
                bulk.add(ex(user=user))
            raise RuntimeError("stop")
    assert store.count_examples() == 3


def test_writes_from_many_threads_all_land(store):
    errors = []

    def work(thread):
        try:
            for i in range(15):
                store.add_example(ex(user=f"{thread}-{i}"), annotator=str(thread))
                store.list_examples(page_size=5)
        except Exception as e:  # noqa: BLE001 - collected and asserted below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and store.count_examples() == 90


# ------------------------------------------------------------------------------------------------- annotation

def ranked_turn(store, conversation, turn, texts, **kw):
    ids = [store.add_candidate(conversation, turn, t) for t in texts]
    return ids, store.save_ranking(conversation, turn, [[i] for i in ids], annotator="ann", **kw)


def test_a_ranking_yields_pairs_with_provenance(store):
    conversation = store.start_conversation(annotator="ann", user="How do I reset my password?")
    good = store.add_candidate(conversation, 0, "Use the reset link.", origin="model", checkpoint="runs/a/best",
                               sampling={"temperature": 0.7, "seed": 1})
    edited = store.add_candidate(conversation, 0, "Use the reset link on the sign-in page.", origin="human",
                                 edited_from=good, annotator="ann")
    tie1 = store.add_candidate(conversation, 0, "Tell me your old password.")
    tie2 = store.add_candidate(conversation, 0, "No.")
    result = store.save_ranking(conversation, 0, [[edited], [good], [tie1, tie2]], annotator="ann",
                                strategy="all-pairs")
    assert len(result.example_ids) == 5 and result.duplicate_ids == [] and result.identical == 0
    first = store.get_example(result.example_ids[0])
    assert (first.conversation_id, first.ranking_id, first.accepted_id, first.rejected_id) == (
        conversation, result.ranking_id, edited, good)
    assert first.seed == ex("How do I reset my password?", "Use the reset link on the sign-in page.",
                            "Use the reset link.") and first.status == "draft"
    got = store.get_conversation(conversation)
    assert got.turns[0].reply_id == edited and got.turns[0].rankings[0].tiers == [[edited], [good], [tie1, tie2]]
    assert got.turns[0].candidates[0].sampling == {"temperature": 0.7, "seed": 1}
    assert got.turns[0].candidates[1].edited_from == good and got.turns[0].candidates[1].origin == "human"


def test_later_turns_carry_the_accepted_replies_as_shared_history(store):
    conversation = store.start_conversation(annotator="ann", template="Be kind.", user="u0")
    (best0, _), _ = ranked_turn(store, conversation, 0, ["a0", "b0"])
    assert store.add_turn(conversation, "u1") == 1
    _, result = ranked_turn(store, conversation, 1, ["a1", "b1", "c1"], strategy="best-vs-worst")
    example = store.get_example(result.example_ids[0]).seed
    assert example == {"Template": ["Be kind."], "User": ["u0", "u1"], "Accepted": ["a0", "a1"],
                       "Rejected": ["a0", "c1"]}


def test_a_new_turn_needs_the_previous_reply(store):
    conversation = store.start_conversation(user="u0")
    with pytest.raises(StoreError, match="no accepted reply"):
        store.add_turn(conversation, "u1")
    with pytest.raises(StoreError, match="non-empty"):
        store.start_conversation(user="  ")


def test_reranking_replaces_the_old_pairs_and_revives_the_ones_it_yields_again(store):
    conversation = store.start_conversation(annotator="ann", user="u")
    (a, b, c), first = ranked_turn(store, conversation, 0, ["a", "b", "c"], strategy="all-pairs")
    assert len(first.example_ids) == 3
    second = store.save_ranking(conversation, 0, [[a], [b, c]], annotator="ann", strategy="best-vs-rest")
    live = {e.id for e in store.iter_examples(ExampleFilter(status="draft"))}
    assert set(second.example_ids) == live == set(first.example_ids[:2])  # (a,b) and (a,c) came back
    assert store.get_example(first.example_ids[2]).deleted_at is not None  # (b,c) is gone
    assert [r.id for r in store.get_conversation(conversation).turns[0].rankings] == [second.ranking_id]


def test_candidates_that_differ_only_in_whitespace_make_no_pair(store):
    conversation = store.start_conversation(annotator="ann", user="u")
    a, spaced = (store.add_candidate(conversation, 0, t) for t in ("Same reply.", "Same reply. "))
    result = store.save_ranking(conversation, 0, [[a], [spaced]], annotator="ann")
    assert (result.example_ids, result.identical, store.count_examples()) == ([], 1, 0)


def test_identical_candidates_none_acceptable_and_duplicates(store):
    conversation = store.start_conversation(annotator="ann", user="u")
    a, b, same = (store.add_candidate(conversation, 0, t) for t in ("a", "b", "a"))
    result = store.save_ranking(conversation, 0, [[a], [same], [b]], annotator="ann", strategy="all-pairs")
    # (a, same) is skipped; (same, b) has the content of (a, b), which is stored once
    assert (len(result.example_ids), result.duplicate_ids, result.identical) == (1, result.example_ids, 1)
    other = store.start_conversation(annotator="bob", user="u")
    a2, b2 = store.add_candidate(other, 0, "a"), store.add_candidate(other, 0, "b")
    again = store.save_ranking(other, 0, [[a2], [b2]], annotator="bob")
    assert again.example_ids == [] and again.duplicate_ids == [result.example_ids[0]]
    nothing = store.save_ranking(other, 0, [[a2], [b2]], annotator="bob", acceptable=0)
    assert nothing.example_ids == [] and store.get_conversation(other).turns[0].reply_id is None


def test_rankings_are_checked(store):
    conversation = store.start_conversation(user="u")
    other = store.start_conversation(user="v")
    a, b = store.add_candidate(conversation, 0, "a"), store.add_candidate(conversation, 0, "b")
    stranger = store.add_candidate(other, 0, "x")
    with pytest.raises(StoreError, match="not candidates of turn 0"):
        store.save_ranking(conversation, 0, [[a], [stranger]])
    with pytest.raises(ValueError, match="twice"):
        store.save_ranking(conversation, 0, [[a], [a, b]])
    with pytest.raises(StoreError, match="no turn 3"):
        store.save_ranking(conversation, 3, [[a]])
    with pytest.raises(StoreError, match="unknown origin"):
        store.add_candidate(conversation, 0, "c", origin="robot")
    with pytest.raises(StoreError, match="not a candidate of turn 0"):
        store.add_candidate(conversation, 0, "c", edited_from=stranger)
    store.save_ranking(conversation, 0, [[a], [b]])
    store.add_turn(conversation, "next")
    with pytest.raises(StoreError, match="cannot change"):
        store.save_ranking(conversation, 0, [[b], [a]])
    store.save_ranking(conversation, 0, [[a, b]])  # same reply: allowed, no pairs


def test_conversation_status_flows_to_examples_and_export(store):
    conversation = store.start_conversation(annotator="ann", user="u")
    _, result = ranked_turn(store, conversation, 0, ["a", "b"])
    assert list(store.export_examples(ExampleFilter(status="done"))) == []
    store.set_conversation_status(conversation, "done")
    assert [e.id for e in store.iter_examples(ExampleFilter(status="done"))] == result.example_ids
    store.set_conversation_status(conversation, "discarded")
    assert store.count_examples(ExampleFilter(status="done")) == 0
    with pytest.raises(StoreError):
        store.set_conversation_status(conversation, "archived")
    assert store.list_conversations(annotator="ann")[0] | {"updated_at": None} == {
        "id": conversation, "status": "discarded", "annotator": "ann", "template": "CUSTOM", "updated_at": None,
        "first_user": "u", "n_turns": 1}


# ----------------------------------------------------------------------------------------------------- the queue

def test_the_queue_serves_resumes_and_never_reserves_a_skip(store):
    assert store.add_prompts(["p1", "p2", {"text": "p3", "template": "Be brief."}, "p1"], source="seed") == 3
    assert store.add_prompts(["p1"]) == 0
    first = store.next_prompt("ann")
    assert (first.text, first.template) == ("p1", "CUSTOM") and store.next_prompt("ann") == first  # resumes
    assert store.next_prompt("bob").text == "p2"
    store.skip_prompt(first.id, "ann")
    assert store.next_prompt("ann").text == "p3"
    third = store.start_conversation(annotator="ann", prompt_id=store.next_prompt("ann").id)
    assert store.get_conversation(third).template == "Be brief."
    store.set_conversation_status(third, "done")
    assert store.next_prompt("ann") is None  # p1 skipped by ann, p2 with bob, p3 done
    assert store.queue_for("ann") == {"done": 1, "waiting": 0, "held": 1, "skipped": 1}
    assert store.queue_for("bob") == {"done": 1, "waiting": 2, "held": 0, "skipped": 0}  # p2 is bob's own
    assert store.next_prompt("cy").text == "p1"
    assert store.queue_for("cy") == {"done": 1, "waiting": 1, "held": 1, "skipped": 0}
    with pytest.raises(StoreError):
        store.add_prompts([" "])


def test_a_skipped_conversation_returns_its_prompt_to_others(store):
    store.add_prompts(["p"])
    conversation = store.start_conversation(annotator="ann", prompt_id=store.next_prompt("ann").id)
    store.set_conversation_status(conversation, "skipped")
    assert store.next_prompt("ann") is None and store.next_prompt("bob").text == "p"


def test_progress_by_annotator_and_queue(store):
    store.add_prompts(["p1", "p2", "p3"])
    for name, status in (("ann", "done"), ("ann", "draft"), ("bob", "skipped")):
        conversation = store.start_conversation(annotator=name, prompt_id=store.next_prompt(name).id)
        if status == "done":
            ranked_turn(store, conversation, 0, ["a", "b"])
        store.set_conversation_status(conversation, status)
    store.add_example(ex(), annotator="")
    progress = store.progress()
    assert progress["annotators"]["ann"] == {"draft": 1, "done": 1, "skipped": 0, "discarded": 0, "examples": 1}
    assert progress["annotators"]["bob"]["skipped"] == 1 and progress["annotators"][""]["examples"] == 1
    assert progress["queue"] == {"pending": 1, "assigned": 1, "done": 1}
