"""The studio's UI handlers as plain functions, on a real store and the tiny checkpoint."""
import io
import json
import sqlite3
import time

import pytest

from studio import models
from studio.formats import export_file, import_file
from studio.store import ExampleFilter, Store
from studio.ui import annotate, chatfmt, common, composer, data
from studio.ui.common import Refused
from studio.ui.composer import RANKS, TEXTS, new_draft
from trainer.conversation import Conversation
from trainer.interchange import load_seed_file
from trainer.spec import smollm2_file

XSS = '<img src=x onerror="alert(1)"> <script>alert(2)</script>'


@pytest.fixture
def store(tmp_path):
    return Store(tmp_path / "studio.db")


@pytest.fixture
def sampling(tiny_checkpoint):
    return {"model": str(tiny_checkpoint), "n": 3, "temperature": 1.0, "top_p": 1.0, "top_k": 0,
            "max_new_tokens": 12, "seed": 7}


def exported(store, fmt="seed-json", filters=None) -> bytes:
    out = io.BytesIO()
    export_file(store, out, fmt, filters)
    return out.getvalue()


def write(draft, user, accepted, rejected=""):
    draft.update(user=user, accepted=accepted, rejected=rejected)
    return draft


def sampled(store, sampling, user="Hi there.", annotator="ann"):
    draft = new_draft(user=user)
    composer.sample(store, annotator, draft, sampling)
    return draft


def ranked(draft, *ranks):
    draft.update(zip(RANKS, [str(r) if r else None for r in ranks]))
    return draft


# ------------------------------------------------------------------------------------------------ write mode

def test_a_two_turn_written_example_is_saved_exactly_as_previewed(store):
    draft = write(new_draft(), "How do I reset my password?", "Use the reset link on the sign-in page.")
    assert "Turn 1 kept as context" in composer.continue_written(store, "ann", draft)
    write(draft, "I lost access to my email too.", "Contact support with proof of identity.", "Too bad.")
    preview = composer.previews(composer.thread(store, "ann", draft), draft)["write_preview"]
    assert "1 pair stored" in composer.save_written(store, "ann", draft)
    assert exported(store).decode() == preview  # the preview is the export, byte for byte
    assert list(store.export_examples()) == [{
        "Template": ["CUSTOM"], "User": ["How do I reset my password?", "I lost access to my email too."],
        "Accepted": ["Use the reset link on the sign-in page.", "Contact support with proof of identity."],
        "Rejected": ["Use the reset link on the sign-in page.", "Too bad."]}]
    assert draft["conversation_id"] is None and draft["user"] == ""  # a fresh composer
    [conversation] = store.list_conversations()
    assert (conversation["status"], conversation["annotator"], conversation["n_turns"]) == ("done", "ann", 2)


def test_a_rejected_reply_on_an_earlier_turn_is_stored_as_a_pair_of_its_own(store):
    draft = write(new_draft(template_choice=composer.CUSTOM_TEXT, template_text="Be brief."), "u0", "a0", "r0")
    composer.continue_written(store, "ann", draft)
    composer.save_written(store, "ann", write(draft, "u1", "a1", "r1"))
    assert list(store.export_examples()) == [
        {"Template": ["Be brief."], "User": ["u0"], "Accepted": ["a0"], "Rejected": ["r0"]},
        {"Template": ["Be brief."], "User": ["u0", "u1"], "Accepted": ["a0", "a1"], "Rejected": ["a0", "r1"]}]


@pytest.mark.parametrize("fields, problem", [
    (("", "a", "r"), "User message: is empty"),
    (("u", "", "r"), "Accepted reply: is empty"),
    (("u", "a", ""), "Rejected reply: is empty"),
    (("u", "same", "same"), "Rejected reply: is identical to Accepted"),
    (("u", "Same reply.", "Same reply. "), "Rejected reply: is identical to Accepted"),
    (("u" * 20_001, "a", "r"), "The user message is 20,001 characters; the limit is 20,000."),
])
def test_invalid_examples_are_refused_inline_and_nothing_is_stored(store, fields, problem):
    draft = write(new_draft(), *fields)
    with pytest.raises(Refused, match=problem):
        composer.save_written(store, "ann", draft)
    assert problem in composer.previews(composer.thread(store, "ann", draft), draft)["write_preview"]
    assert store.list_conversations() == [] and store.count_examples() == 0
    assert draft["user"] == fields[0]  # the annotator's text stays in the form


def test_several_problems_read_as_separate_sentences(store):
    with pytest.raises(Refused) as info:
        composer.save_written(store, "ann", write(new_draft(), " ", "", "r"))
    assert str(info.value) == ("User message: is empty or whitespace-only. "
                               "Accepted reply: is empty or whitespace-only.")


def test_continue_needs_no_rejected_reply_but_refuses_an_identical_one(store):
    with pytest.raises(Refused, match="identical"):
        composer.continue_written(store, "ann", write(new_draft(), "u", "a", "a"))
    draft = write(new_draft(), "u", "a")
    assert "0 pairs stored" in composer.continue_written(store, "ann", draft)
    th = composer.thread(store, "ann", draft)
    assert composer.current(th, draft) == Conversation("CUSTOM", ["u", ""], ["a"])  # the next turn is open


def test_work_is_attributed_to_a_named_annotator(store):
    with pytest.raises(Refused, match="Type your name"):
        composer.save_written(store, "", write(new_draft(), "u", "a", "r"))
    with pytest.raises(Refused, match="limit is 80"):
        composer.save_written(store, "x" * 81, write(new_draft(), "u", "a", "r"))
    assert common.who("  bob ", None) == "bob"
    assert common.who("bob", type("Request", (), {"username": "alice"})()) == "alice"  # a login wins


def test_a_model_draft_kept_unchanged_is_recorded_as_the_models(store, sampling):
    draft = write(new_draft(), "Hello!", "", "")
    for which, seed in (("accepted", 1), ("rejected", 2)):
        assert "drafted by the model" in composer.model_reply(store, "ann", draft, which, {**sampling, "seed": seed})
    assert draft["accepted"].strip() and draft["rejected"].strip() and draft["accepted"] != draft["rejected"]
    draft["rejected"] += " (edited)"
    composer.save_written(store, "ann", draft)
    [turn] = store.get_conversation(1).turns
    made, edited = turn.candidates
    assert (made.origin, made.checkpoint, made.sampling["seed"], made.sampling["max_new_tokens"]) == (
        "model", sampling["model"], 1, 12)
    assert edited.origin == "human" and edited.text.endswith(" (edited)")


# ------------------------------------------------------------------------------------------------ rank mode

def test_sampling_commits_the_turn_and_fills_the_slots(store, sampling):
    draft = sampled(store, sampling)
    ids = draft["candidate_ids"]
    assert len(ids) == 3 and all(draft[TEXTS[i]] for i in range(3))
    turn = store.get_conversation(draft["conversation_id"]).turns[0]
    assert [c.id for c in turn.candidates] == ids and {c.origin for c in turn.candidates} == {"model"}
    assert turn.candidates[0].sampling["seed"] == 7 and turn.candidates[0].checkpoint == sampling["model"]
    values = annotate.view(store, "ann", draft)
    assert [values[f"slot_{k}"]["visible"] for k in range(1, 5)] == [True, True, True, False]
    assert values["user"]["interactive"] is False  # the user message is committed now


def test_an_empty_seed_draws_a_new_one_for_every_request(store, sampling):
    values = {**sampling, "seed": ""}
    assert len({common.sampling_params(values).seed for _ in range(5)}) > 1
    assert common.sampling_params({**sampling, "seed": " 12 "}).seed == 12
    with pytest.raises(Refused, match="whole number"):
        common.sampling_params({**sampling, "seed": "1.5"})
    draft = sampled(store, values)
    composer.sample(store, "ann", draft, values)
    assert len(draft["candidate_ids"]) == 6  # a second draw, not the first one again


def test_repeated_samples_become_one_candidate(store, sampling, monkeypatch):
    class Confident:  # a model sure of its answer samples it again and again
        def candidates(self, template, users, replies, params, n):
            return ["Same reply.", "Same reply.", "Another one."][:n]

    monkeypatch.setattr(composer.models, "load", lambda path: Confident())
    draft = sampled(store, sampling)
    assert [draft[TEXTS[i]] for i in range(len(draft["candidate_ids"]))] == ["Same reply.", "Another one."]
    with pytest.raises(Refused, match="already shown"):
        composer.sample(store, "ann", draft, sampling)
    assert len(draft["candidate_ids"]) == 2
    assert composer.new_replies(["a", " ", "b", "a"], shown=["b"]) == ["a"]
    assert composer.new_replies(["Same reply. ", "Same\nreply.", "b"], shown=["Same reply."]) == ["b"]


def test_an_edit_of_whitespace_only_is_no_edit_and_yields_no_pair(store, sampling, monkeypatch):
    class TwoReplies:
        def candidates(self, template, users, replies, params, n):
            return ["Same reply.", "Another one."]

    monkeypatch.setattr(composer.models, "load", lambda path: TwoReplies())
    draft = ranked(sampled(store, sampling), 1, 2)
    draft[TEXTS[1]] = "Same reply. "  # the second, ranked below the first, now reads like it
    draft[TEXTS[0]] = "Same reply.\n"
    th = composer.thread(store, "ann", draft)
    assert composer.edited_slots(th, draft) == [2]
    shown = composer.previews(th, draft)
    assert "yields **0** pairs (best-vs-rest) + **1** from your edits" in shown["pairs"]
    assert "1 edit stored" in composer.save_ranking(store, "ann", draft, done=True)
    assert exported(store).decode() == shown["rank_preview"]
    assert [(e["Accepted"][0], e["Rejected"][0]) for e in store.export_examples()] == [
        ("Same reply. ", "Another one.")]


def test_a_ranking_with_an_edit_stores_the_ranked_pairs_and_edited_over_original(store, sampling):
    draft = sampled(store, sampling, user="Tell me about tea.")
    second, original, third = draft[TEXTS[0]], draft[TEXTS[1]], draft[TEXTS[2]]
    draft[TEXTS[1]] = "Green tea is mild and fresh."
    ranked(draft, 2, 1, 3)
    shown = composer.previews(composer.thread(store, "ann", draft), draft)
    assert "yields **2** pairs (best-vs-rest) + **1** from your edits" in shown["pairs"]
    message = composer.save_ranking(store, "ann", draft, done=True)
    assert "2 pairs stored" in message and "1 edit stored" in message
    assert exported(store).decode() == shown["rank_preview"]
    assert [(e["Accepted"][0], e["Rejected"][0]) for e in store.export_examples()] == [
        ("Green tea is mild and fresh.", second), ("Green tea is mild and fresh.", third),
        ("Green tea is mild and fresh.", original)]
    edit = store.get_example(3)
    candidates = {c.id: c for c in store.get_conversation(edit.conversation_id).turns[0].candidates}
    assert candidates[edit.accepted_id].edited_from == edit.rejected_id
    assert (candidates[edit.rejected_id].text, candidates[edit.accepted_id].origin) == (original, "human")


def test_the_best_candidate_continues_the_conversation(store, sampling):
    draft = ranked(sampled(store, sampling), 2, 1, 3)
    best = draft[TEXTS[1]]
    assert "continues the conversation" in composer.save_ranking(store, "ann", draft, done=False)
    draft["user"] = "And then?"
    composer.sample(store, "ann", draft, sampling)
    th = composer.thread(store, "ann", draft)
    assert composer.current(th, draft) == Conversation("CUSTOM", ["Hi there.", "And then?"], [best])
    composer.save_ranking(store, "ann", ranked(draft, 1, 2, 2), done=True)
    last = list(store.export_examples())[-1]
    assert last["User"] == ["Hi there.", "And then?"] and last["Accepted"][0] == last["Rejected"][0] == best


@pytest.mark.parametrize("strategy, ranks, pairs", [
    ("best-vs-rest", (1, 1, 2), 2), ("best-vs-worst", (1, 2, 3), 1), ("all-pairs", (1, 2, 3), 3),
    ("best-vs-rest", (3, 1, 2), 2)])
def test_the_pair_count_follows_ties_and_the_strategy(store, sampling, strategy, ranks, pairs):
    draft = ranked(sampled(store, sampling), *ranks)
    draft["strategy"] = strategy
    derived, _ = composer.ranked_pairs(composer.thread(store, "ann", draft), draft)
    assert ([p for p in derived if not p.edit], [p for p in derived if p.edit]) == (derived, [])
    assert len(derived) == pairs
    assert f"{pairs} pair" in composer.save_ranking(store, "ann", draft, done=True)


def test_every_candidate_needs_a_rank_unless_none_is_acceptable(store, sampling):
    draft = ranked(sampled(store, sampling), 1, None, 2)
    with pytest.raises(Refused, match="missing: 2"):
        composer.save_ranking(store, "ann", draft, done=True)
    draft["none_acceptable"] = True
    with pytest.raises(Refused, match="Nothing acceptable to continue with"):
        composer.save_ranking(store, "ann", draft, done=False)
    assert "0 pairs stored" in composer.save_ranking(store, "ann", draft, done=True)
    [ranking] = store.get_conversation(1).turns[0].rankings
    assert ranking.acceptable == 0 and store.count_examples() == 0


def test_your_own_reply_joins_the_candidates(store, sampling):
    draft = sampled(store, sampling)
    draft["own"] = "A reply I wrote."
    composer.add_own(store, "ann", draft)
    assert draft[TEXTS[3]] == "A reply I wrote." and draft["own"] == ""
    composer.save_ranking(store, "ann", ranked(draft, 2, 3, 4, 1), done=True)
    assert [e["Accepted"][0] for e in store.export_examples()] == ["A reply I wrote."] * 3


def test_an_empty_or_oversized_candidate_is_refused(store, sampling):
    draft = ranked(sampled(store, sampling), 1, 2, 3)
    draft[TEXTS[0]] = "  "
    with pytest.raises(Refused, match="Candidate 1 is empty"):
        composer.save_ranking(store, "ann", draft, done=True)
    draft[TEXTS[0]] = "x" * 20_001
    with pytest.raises(Refused, match="Candidate 1 is 20,001 characters"):
        composer.save_ranking(store, "ann", draft, done=True)
    assert store.count_examples() == 0


def test_text_is_stored_as_a_text_box_holds_it(store, sampling, monkeypatch):
    class Model:  # replies with what a browser text box cannot hold: a NUL and CR LF
        def candidates(self, *args):
            return ["same start\x00 one\r\nline", "same start\x00 two", " \x00 "]

    monkeypatch.setattr(models, "load", lambda path: Model())
    draft = sampled(store, sampling)
    assert [draft[t] for t in TEXTS[:3]] == ["same start one\nline", "same start two", ""]
    draft[TEXTS[1]] += " (edited)"
    assert "1 edit stored" in composer.save_ranking(store, "ann", ranked(draft, 2, 1), done=True)
    form = composer.merge_form(None, {k: new_draft(user="a\x00b\r\nc\rd")[k] for k in composer.FORM})
    assert form["user"] == "ab\nc\nd"


def test_a_missing_model_commits_nothing(store, sampling, tmp_path):
    draft = new_draft(user="Hi")
    with pytest.raises(models.ModelUnavailable, match="no such file or directory"):
        composer.sample(store, "ann", draft, {**sampling, "model": str(tmp_path / "nothing")})
    assert store.list_conversations() == []


# ------------------------------------------------------------------------------------------ queue and people

def test_prompts_are_read_from_text_and_json_lines(tmp_path):
    txt = tmp_path / "p.txt"
    txt.write_text("\ufeffFirst prompt\n\n  Second prompt  \r\n", encoding="utf-8")
    assert composer.read_prompts(txt) == ["First prompt", "Second prompt"]
    jsonl = tmp_path / "p.jsonl"
    jsonl.write_text('"plain"\n{"text": "t", "template": "Be brief."}\n{"prompt": "p"}\n', encoding="utf-8")
    assert composer.read_prompts(jsonl) == ["plain", {"text": "t", "template": "Be brief."},
                                            {"text": "p", "template": "CUSTOM"}]
    for body, problem in (('"ok"\n{"text": 1}\n', "line 2: expected a string"), ("{oops\n", "line 1: not valid"),
                          ('{"text": "unfinished\n', r"line 1: not valid JSON \(Unterminated string starting at column "
                                                   r"10\)\.$"),
                          ('"' + "x" * 20_001 + '"\n', "line 1: the prompt is 20,001 characters")):
        jsonl.write_text(body, encoding="utf-8")
        with pytest.raises(Refused, match=problem):
            composer.read_prompts(jsonl)


def test_the_work_queue_serves_saves_skips_and_discards(store, tmp_path):
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("p1\np2\np3\n", encoding="utf-8")
    assert "Queued 3 new prompts" in composer.import_prompts(store, "", new_draft(), str(prompts))
    assert "Queued 0 new prompts from prompts.txt (3 were already queued)." in composer.import_prompts(
        store, "", new_draft(), str(prompts))
    draft = new_draft()
    composer.next_prompt(store, "ann", draft)
    assert draft["user"] == "p1" and annotate.view(store, "ann", draft)["user"]["interactive"] is False
    message = composer.save_written(store, "ann", write(draft, "p1", "a", "r"))
    assert "Prompt 2 from the queue" in message and draft["user"] == "p2"  # saving serves the next prompt
    assert "Prompt 3" in composer.skip(store, "ann", draft)
    composer.continue_written(store, "ann", write(draft, "p3", "a"))
    with pytest.raises(Refused, match="Save, skip or discard"):
        composer.next_prompt(store, "ann", draft)
    composer.discard(store, "ann", draft)
    assert store.list_conversations(status="discarded")[0]["first_user"] == "p3"
    other = new_draft()
    composer.next_prompt(store, "bob", other)
    assert other["user"] == "p2"  # ann skipped it; bob gets it
    assert "**Queue** 1/3 prompts done, 1 waiting (1 with other annotators)" in composer.progress_text(store, "ann")
    assert "**You** 1 conversation saved, 1 pair, 0 in progress" in composer.progress_text(store, "ann")
    composer.next_prompt(store, "cy", new_draft())  # p3, discarded by ann
    assert "0 waiting (2 with other annotators)" in composer.progress_text(store, "ann")
    assert "The queue is empty for you (2 with other annotators)" in composer.next_prompt(store, "ann", new_draft())


def test_an_edited_candidate_is_labelled_yours_as_it_is_typed(store, sampling):
    draft = sampled(store, sampling)
    draft[TEXTS[0]] = "my own words"
    labels = composer.slot_labels(composer.thread(store, "ann", draft), draft)
    assert labels[:4] == ["Candidate 1 · yours · edited", "Candidate 2 · model", "Candidate 3 · model", "Candidate 4"]


def test_a_name_typed_in_a_fresh_browser_brings_back_that_annotators_draft(store, sampling):
    draft = sampled(store, sampling, annotator="ann")
    values = annotate.named(store, "ann", None)
    assert values["draft"]["conversation_id"] == draft["conversation_id"] and values["mode"]["selected"] == "rank"
    assert "Welcome back" in values["notice"]
    assert annotate.named(store, "bob", None) is None  # nothing of bob's: the page stays as it is
    assert annotate.named(store, "ann", write(new_draft(), "typed here", "")) is None  # this browser's work stays


def test_work_in_progress_is_restored_from_the_browser_or_the_store(store, sampling):
    draft = sampled(store, sampling)
    draft[TEXTS[0]] = "an edit in progress"
    saved = json.loads(json.dumps(draft))  # what the browser keeps
    restored = annotate.restore(store, "ann", saved)
    assert restored[TEXTS[0]]["value"] == "an edit in progress" and restored["mode"]["selected"] == "rank"
    elsewhere = annotate.restore(store, "ann", None)  # another browser: the draft conversation from the store
    assert elsewhere["draft"]["conversation_id"] == draft["conversation_id"]
    assert len(elsewhere["draft"]["candidate_ids"]) == 3
    assert annotate.restore(store, "bob", saved)["draft"]["conversation_id"] is None  # not bob's
    typed = annotate.restore(store, "ann", new_draft(user="half-written", accepted="draft reply"))
    assert (typed["user"]["value"], typed["accepted"]) == ("half-written", "draft reply")


def test_the_view_shows_annotator_text_literally(store):
    draft = write(new_draft(), XSS, "  indented\n    code", "r")
    composer.continue_written(store, "ann", draft)
    chat = annotate.view(store, "ann", draft)["chat"]
    assert chat[0]["content"] == [{"type": "text", "text": "&lt;img src=x onerror=\"alert(1)\"&gt; "
                                                           "&lt;script&gt;alert(2)&lt;/script&gt;"}]
    assert [chatfmt.plain_text(m) for m in chat] == [XSS, "  indented\n    code"]


# ------------------------------------------------------------------------------------------------ data tab

def fill(store, n, **attrs):
    with store.bulk_insert() as bulk:
        for i in range(n):
            bulk.add({"Template": ["CUSTOM"], "User": [f"question {i}"], "Accepted": [f"good {i}"],
                      "Rejected": [f"bad {i}"]}, **attrs)


def test_browse_filters_and_pages(store):
    fill(store, 30, source="import", annotator="ann")
    store.add_example({"Template": ["CUSTOM"], "User": [XSS], "Accepted": ["a"], "Rejected": ["b"]}, annotator="bob")
    rows, page, where = data.browse(store, data.example_filter(), 1)
    assert (len(rows), page, where) == (data.PAGE_SIZE, 1, "31 examples · page 1 of 2")
    assert rows[0][:6] == [31, "done", "bob", "", 1, XSS]  # newest first; text stays text (a str Dataframe)
    rows, page, where = data.browse(store, data.example_filter(annotator="ann"), 9)
    assert (len(rows), page, where) == (5, 2, "30 examples · page 2 of 2")  # past the end: the last page
    assert data.browse(store, data.example_filter(text="question 7"), 1)[2] == "1 example · page 1 of 1"
    assert data.facets(store) == {"annotator": [data.ANY, "ann", "bob"], "source": [data.ANY, "import"]}
    report = data.stats_report(store, data.example_filter(annotator="ann"))
    assert report.startswith("30 examples") and "length bias" in report


def test_paging_stays_fast_at_100k_rows(store):
    fill(store, 1)
    db = sqlite3.connect(store.path)  # clone the stored row 100k times, whatever the table's columns are
    columns = [row[1] for row in db.execute("PRAGMA table_info(examples)") if row[1] != "id"]
    values = {"content_hash": "'h' || i", "annotator": "'ann' || (i % 5)"}
    db.execute(f"""WITH RECURSIVE n(i) AS (SELECT 2 UNION ALL SELECT i + 1 FROM n WHERE i < 100000)
        INSERT INTO examples ({', '.join(columns)}) SELECT {', '.join(values.get(c, c) for c in columns)}
        FROM examples, n WHERE examples.id = 1""")
    db.commit()
    assert store.count_examples() == 100_000
    for filters, page in ((data.example_filter(), 1), (data.example_filter(), 4000),
                          (data.example_filter(annotator="ann3"), 100), (data.example_filter(text="good 0"), 1)):
        start = time.perf_counter()
        rows, _, where = data.browse(store, filters, page)
        assert rows and time.perf_counter() - start < 0.5, where


def test_open_edit_delete_and_undo(store):
    fill(store, 2)
    shown = data.open_example(store, 1)
    assert shown["accepted"] == chatfmt.to_chatbot(Conversation("CUSTOM", ["question 0"], ["good 0"]))
    assert shown["status"] == "done"
    edited = json.loads(shown["json"]) | {"Rejected": ["worse 0"]}
    assert data.save_example(store, 1, json.dumps(edited), "draft") == "Example 1 saved."
    assert store.get_example(1).seed["Rejected"] == ["worse 0"] and store.get_example(1).status == "draft"
    for text, problem in (("{", "Not valid JSON"), (json.dumps(edited | {"Rejected": ["good 0"]}), "identical"),
                          (json.dumps(edited | {"Extra": 1}), "unknown key"),
                          (json.dumps(store.get_example(2).seed), "same content already exists")):
        with pytest.raises(ValueError, match=problem):
            data.save_example(store, 1, text, "done")
    assert "moved to the trash" in data.delete_example(store, 1)
    assert data.open_example(store, 1)["deleted"] and store.count_examples() == 1
    assert data.browse(store, data.example_filter(trash=True), 1)[0][0][0] == 1
    assert data.restore_example(store, 1) == "Example 1 is back." and store.count_examples() == 2


def test_a_page_below_one_shows_the_first_and_says_so(store):
    fill(store, 2)
    rows, page, where = data.browse(store, data.example_filter(), 0)
    assert (len(rows), page, where) == (2, 1, "2 examples · page 1 of 1 (there is no page 0)")
    with pytest.raises(ValueError, match=r"^Not valid JSON: Unterminated string starting at line 1, column 11\.$"):
        data.save_example(store, 1, '{"User": ["unfinished', "done")


def test_an_import_is_checked_before_anything_is_stored(store, tmp_path):
    good = {"Template": ["CUSTOM"], "User": ["u"], "Accepted": ["a"], "Rejected": ["r"]}
    path = tmp_path / "mixed.jsonl"
    path.write_text(json.dumps(good) + "\n" + json.dumps({**good, "Rejected": ["a"]}) + "\n", encoding="utf-8")
    ok, report = data.check_import(store, str(path), data.import_options("auto", "safer", [], True, False))
    assert not ok and "mixed.jsonl, line 2" in report and "1 invalid" in report and store.count_examples() == 0
    ok, report = data.check_import(store, str(path), data.import_options("seed", "safer", [], True, True))
    assert ok and "1 would be imported" in report and store.count_examples() == 0
    report = data.commit_import(store, str(path), data.import_options("seed", "safer", [], True, True))
    assert "1 imported" in report and list(store.export_examples()) == [good]


def test_an_import_check_counts_duplicates_of_the_store_and_writes_nothing(store, tmp_path):
    stored = {"Template": ["CUSTOM"], "User": ["u"], "Accepted": ["a"], "Rejected": ["r"]}
    store.add_example(stored)
    path = tmp_path / "again.jsonl"
    new = {**stored, "Rejected": ["other"]}
    path.write_text("".join(json.dumps(e) + "\n" for e in (stored, new, new)), encoding="utf-8")
    ok, report = data.check_import(store, str(path), data.import_options("auto", "safer", [], True, False))
    assert ok and report.startswith("again.jsonl: 3 records read as seed; 1 would be imported, 2 duplicates, ")
    assert store.count_examples() == 1
    report = data.commit_import(store, str(path), data.import_options("auto", "safer", [], True, False))
    assert report.startswith("again.jsonl: 3 records read as seed; 1 imported, 2 duplicates, ")


def test_annotators_keep_saving_while_a_file_is_checked(store, tmp_path):
    path = tmp_path / "big.jsonl"
    path.write_text("".join(json.dumps({"Template": ["CUSTOM"], "User": [f"u{i}"], "Accepted": ["a"],
                                        "Rejected": ["r"]}) + "\n" for i in range(1000)), encoding="utf-8")
    annotator = Store(store.path, busy_timeout=0.2)
    saved = []

    def save_meanwhile(done, total):  # called from inside the check, every 1000 records
        saved.append(annotator.add_example({"Template": ["CUSTOM"], "User": [f"saved {len(saved)}"], "Accepted": ["a"],
                                            "Rejected": ["r"]})[0])

    data.check_import(store, str(path), data.import_options("auto", "safer", [], True, False), save_meanwhile)
    assert saved and store.count_examples() == len(saved)


def test_an_empty_file_is_refused_by_name(store, tmp_path):
    path = tmp_path / "empty.json"
    path.write_bytes(b"")
    with pytest.raises(ValueError, match="^empty.json holds no records: there is nothing to import.$"):
        data.check_import(store, str(path), data.import_options("auto", "safer", [], True, False))


def test_pku_filters_are_reported_per_filter(store, tmp_path):
    rows = [{"prompt": f"p{i}", "response_0": f"r0 {i}", "response_1": f"r1 {i}", "is_response_0_safe": i % 2 == 0,
             "is_response_1_safe": False, "better_response_id": 0, "safer_response_id": 0} for i in range(4)]
    path = tmp_path / "pku.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    options = data.import_options("pku", "safer", ["drop_both_unsafe"], True, False)
    ok, report = data.check_import(store, str(path), options)
    assert ok and "filtered out by both-unsafe: 2" in report and "2 would be imported" in report


def test_export_writes_a_file_the_trainer_can_load(store):
    fill(store, 3, annotator="ann")
    store.add_example({"Template": ["CUSTOM"], "User": ["x"], "Accepted": ["y"], "Rejected": ["z"]}, status="draft")
    path, n = data.export(store, "seed-json", data.example_filter(status="done"))
    assert n == 3 and path.endswith("-seed-json.json")
    assert load_seed_file(path) == list(store.export_examples(ExampleFilter(status="done")))
    path, n = data.export(store, "trl-jsonl", data.example_filter(annotator="ann", text="question 1"))
    assert n == 1 and json.loads(open(path).readline())["chosen"] == [{"role": "assistant", "content": "good 1"}]
    path, _ = data.export(store, "seed-jsonl", data.example_filter())
    fresh = Store(path + ".db")
    assert import_file(fresh, path).imported == 4


# --------------------------------------------------------------------------------------------------- models

def test_models_are_cached_per_spec_and_listed_with_the_shipped_ones_and_runs(tiny_checkpoint, tmp_path):
    assert models.load(tiny_checkpoint) is models.load(str(tiny_checkpoint))
    run = tmp_path / "runs" / "run-1"
    (run / "checkpoints").mkdir(parents=True)
    (run / "checkpoints" / "best").symlink_to(tiny_checkpoint, target_is_directory=True)
    shipped = [("SmolLM2-135M-Instruct", "smollm2-135m-instruct")] if smollm2_file() else []
    assert models.choices("tiny", tmp_path / "runs") == [
        ("default · tiny (embedded, 5.5M)", "tiny"), *shipped, ("run-1 · best", str(run / "checkpoints" / "best"))]
    with pytest.raises(models.ModelUnavailable, match="not a model directory"):
        models.load(tmp_path)
