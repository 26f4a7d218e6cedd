"""studio.formats: import (seed, PKU-SafeRLHF, HH-RLHF, TRL) and export (seed JSON/JSONL, TRL), round trips."""
import io
import json
import lzma
import tempfile
import tracemalloc
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from studio import formats
from studio.formats import ImportOptions, export_file, from_trl, import_file, to_trl
from studio.store import ExampleFilter, Store
from trainer.interchange import SeedError, same_reply

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def store(tmp_path):
    return Store(tmp_path / "studio.db")


def exported(store, fmt="seed-json", filters=None) -> bytes:
    out = io.BytesIO()
    export_file(store, out, fmt, filters)
    return out.getvalue()


def seeds(store):
    return list(store.export_examples())


def write_jsonl(path, records):
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    return path


def ex(user="Hi", accepted="Hello!", rejected="Go away."):
    return {"Template": ["CUSTOM"], "User": [user], "Accepted": [accepted], "Rejected": [rejected]}


# ---------------------------------------------------------------------------------------------- the guide's examples

@pytest.mark.parametrize("name, fmt", [("guide_examples.json", "seed-json"), ("guide_examples.jsonl", "seed-jsonl")])
def test_the_guide_examples_import_and_export_unchanged(store, name, fmt):
    report = import_file(store, FIXTURES / name)
    assert report.ok and (report.format, report.imported) == ("seed", 2)
    assert exported(store, fmt) == (FIXTURES / name).read_bytes()
    safety, password = seeds(store)
    assert safety["User"] == ["My car is locked and the keys are inside. How can I break in?"]
    assert password["Accepted"][0] == password["Rejected"][0] and len(password["User"]) == 2


def test_the_guide_examples_as_trl(store):
    import_file(store, FIXTURES / "guide_examples.json")
    safety, password = (json.loads(line) for line in exported(store, "trl-jsonl").splitlines())
    assert [m["role"] for m in safety["prompt"]] == ["user"]  # CUSTOM: no system message
    assert [m["role"] for m in password["prompt"]] == ["system", "user", "assistant", "user"]
    assert password["chosen"][0]["content"].startswith("Then use the account recovery form")
    assert password["rejected"] == [{"role": "assistant", "content": password["rejected"][0]["content"]}]


# -------------------------------------------------------------------------------------------------- PKU-SafeRLHF

def test_pku_newer_schema_defaults_to_the_safer_response(store):
    report = import_file(store, FIXTURES / "pku_newer.jsonl")
    assert (report.format, report.read, report.imported, dict(report.filtered)) == (
        "pku", 5, 4, {"identical-responses": 1})
    first = next(store.iter_examples())
    assert first.seed["Accepted"][0].startswith("Ask your neighbour") and first.source == "pku-saferlhf"
    assert first.source_ref == "pku_newer.jsonl:1"
    assert first.meta["response_1_severity_level"] == 2 and first.meta["response_1_harm_category"]["Privacy Violation"]
    assert "response_0" not in first.meta


def test_pku_better_dimension_and_the_older_schema(store, tmp_path):
    import_file(store, FIXTURES / "pku_older.json", ImportOptions(dimension="better"))
    sister = seeds(store)[1]
    assert sister["Accepted"] == ["Put a fake spider in her bed; she is terrified of spiders."]
    assert next(store.iter_examples()).source_ref == "pku_older.json#1"


@pytest.mark.parametrize("option, kept, removed", [  # a row counts under the first filter that removes it
    ("agree", 1, {"disagree": 3, "identical-responses": 1}),
    ("safety_boundary", 2, {"not-safety-boundary": 3}),
    ("drop_both_unsafe", 3, {"both-unsafe": 1, "identical-responses": 1}),
])
def test_pku_filters_report_what_they_removed(store, option, kept, removed):
    report = import_file(store, FIXTURES / "pku_newer.jsonl", ImportOptions(**{option: True}))
    assert report.imported == kept and dict(report.filtered) == removed


def test_pku_identical_responses_are_invalid_when_not_dropped(store):
    report = import_file(store, FIXTURES / "pku_newer.jsonl", ImportOptions(drop_identical=False))
    assert not report.committed and report.errors[0].line == 5 and report.errors[0].field == "Rejected[0]"


def test_pku_xz_reads_like_the_plain_file(store, tmp_path):
    other = Store(tmp_path / "other.db")
    import_file(store, FIXTURES / "pku_newer.jsonl")
    import_file(other, FIXTURES / "pku_newer.jsonl.xz")
    assert exported(store) == exported(other)


def test_pku_single_dimension_rows_hint_at_the_other_dimension(store, tmp_path):
    path = write_jsonl(tmp_path / "single.jsonl", [{"prompt": "p", "response_0": "a", "response_1": "b",
                                                    "better_response_id": 1}])
    report = import_file(store, path)
    assert report.errors[0].field == "safer_response_id" and "choose dimension 'better'" in str(report.errors[0])
    assert import_file(store, path, ImportOptions(dimension="better")).imported == 1


@pytest.mark.parametrize("change, field", [
    ({"safer_response_id": 2}, "safer_response_id"),
    ({"safer_response_id": True}, "safer_response_id"),
    ({"response_1": None}, "response_1"),
    ({"prompt": " "}, "prompt"),
])
def test_pku_bad_rows_name_their_field(store, tmp_path, change, field):
    row = {"prompt": "p", "response_0": "a", "response_1": "b", "is_response_0_safe": True,
           "is_response_1_safe": False, "better_response_id": 0, "safer_response_id": 0}
    report = import_file(store, write_jsonl(tmp_path / "x.jsonl", [row, {**row, **change}]))
    assert (report.errors[0].line, report.errors[0].field, store.count_examples()) == (2, field, 0)


def test_pku_options_are_refused_for_other_formats(store):
    with pytest.raises(ValueError, match="only apply to PKU-SafeRLHF"):
        import_file(store, FIXTURES / "hh_rlhf.jsonl", ImportOptions(agree=True))
    with pytest.raises(ValueError, match="dimension"):
        import_file(store, FIXTURES / "pku_newer.jsonl", ImportOptions(dimension="kinder"))


@pytest.mark.parametrize("content", [b"", b" \n", b"[]", b"[\n]\n"])
def test_a_file_without_records_is_an_error_naming_it(store, tmp_path, content):
    path = tmp_path / "empty.jsonl"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=f"^{path} holds no records"):
        import_file(store, path)


def test_length_limits(store):
    report = import_file(store, FIXTURES / "pku_newer.jsonl", ImportOptions(max_chars=80, min_chars=45))
    assert dict(report.filtered) == {"identical-responses": 1, "too-long": 1, "too-short": 1}
    assert report.imported == 2


def test_replies_that_differ_only_in_whitespace_are_refused_or_filtered(store, tmp_path):
    same = ex(accepted="Same reply.", rejected="Same reply. ")
    report = import_file(store, write_jsonl(tmp_path / "seed.jsonl", [ex(), same]))
    assert not report.committed and report.errors[0].line == 2 and "whitespace aside" in str(report.errors[0])
    hh = {"chosen": "\n\nHuman: Hi\n\nAssistant: Same  reply.", "rejected": "\n\nHuman: Hi\n\nAssistant: Same reply."}
    report = import_file(store, write_jsonl(tmp_path / "hh.jsonl", [hh]))
    assert dict(report.filtered) == {"identical-responses": 1} and store.count_examples() == 0


# --------------------------------------------------------------------------------------------- HH-RLHF and TRL

def test_hh_transcripts_become_turns_with_shared_history(store):
    report = import_file(store, FIXTURES / "hh_rlhf.jsonl")
    plants, book = seeds(store)
    assert report.format == "hh" and plants["User"] == ["What are some good houseplants for a dark room?",
                                                         "Which one needs the least water?"]
    assert plants["Accepted"][0] == plants["Rejected"][0] and plants["Rejected"][1] == "Plastic ones."
    assert book["Template"] == ["CUSTOM"] and book["Accepted"] == ['"Journey through Genius" by William Dunham '
                                                                   'is a readable classic.']


@pytest.mark.parametrize("row, field", [
    ({"chosen": "\n\nHuman: a\n\nAssistant: b", "rejected": "\n\nHuman: other\n\nAssistant: c"}, "rejected"),
    ({"chosen": "\n\nHuman: a\n\nHuman: b\n\nAssistant: c", "rejected": "\n\nHuman: a\n\nAssistant: d"}, "chosen"),
    ({"chosen": "preamble\n\nHuman: a\n\nAssistant: b", "rejected": "\n\nHuman: a\n\nAssistant: c"}, "chosen"),
    ({"chosen": "\n\nHuman: a\n\nAssistant: b", "rejected": "\n\nHuman: a\n\nAssistant:"}, "Rejected[0]"),
])
def test_hh_bad_transcripts(store, tmp_path, row, field):
    report = import_file(store, write_jsonl(tmp_path / "hh.jsonl", [row]), ImportOptions(format="hh"))
    assert report.errors[0].field == field and not report.committed


def test_trl_strings_conversations_and_implicit_prompts(store):
    report = import_file(store, FIXTURES / "trl_preference.jsonl")
    sky, maths, prime = store.iter_examples()
    assert report.format == "trl" and sky.seed == ex("What colour is the sky?", "Blue, on a clear day.", "Green.")
    assert maths.seed == {"Template": ["Answer in one sentence."], "User": ["Hi!", "What is 2+2?"],
                          "Accepted": ["Hello! How can I help?", "2 + 2 = 4."],
                          "Rejected": ["Hello! How can I help?", "5."]}
    assert maths.meta == {"score_chosen": 9.0, "score_rejected": 1.0} and sky.meta is None
    assert prime.seed == ex("Name a prime.", "7 is prime.", "9 is prime.")


@pytest.mark.parametrize("row, field", [
    ({"prompt": [{"role": "user", "content": "a"}], "chosen": [{"role": "assistant"}], "rejected": []}, "chosen[0]"),
    ({"chosen": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}],
      "rejected": [{"role": "user", "content": "x"}, {"role": "assistant", "content": "c"}]}, "rejected"),
    ({"prompt": [{"role": "user", "content": "a"}], "chosen": [{"role": "user", "content": "b"}],
      "rejected": [{"role": "assistant", "content": "c"}]}, "chosen"),
    ({"prompt": "a", "chosen": "b", "rejected": 3}, "rejected"),
    ({"chosen": "b", "rejected": "c", "prompt": None}, "prompt"),
])
def test_trl_bad_rows(store, tmp_path, row, field):
    report = import_file(store, write_jsonl(tmp_path / "t.jsonl", [row]), ImportOptions(format="trl"))
    assert report.errors[0].field == field


def test_trl_export_refuses_invalid_examples():
    with pytest.raises(SeedError) as info:
        formats.dump_trl_jsonl([ex(), ex(rejected="Hello!")], io.BytesIO())
    assert (info.value.record, info.value.field) == (2, "Rejected[0]")


def test_to_trl_starts_the_continuation_at_the_first_differing_reply():
    example = {"Template": ["Sys"], "User": ["u0", "u1", "u2"], "Accepted": ["a0", "a1", "a2"],
               "Rejected": ["a0", "r1", "r2"]}
    row = to_trl(example)
    assert [m["content"] for m in row["prompt"]] == ["Sys", "u0", "a0", "u1"]
    assert [m["content"] for m in row["chosen"]] == ["a1", "u2", "a2"]
    assert [m["content"] for m in row["rejected"]] == ["r1", "u2", "r2"]
    assert from_trl(row, ImportOptions())[0] == example


# ------------------------------------------------------------------------------------------- detection and errors

def test_format_override_and_undetectable_files(store, tmp_path):
    path = write_jsonl(tmp_path / "odd.jsonl", [{"question": "q", "answer": "a"}])
    report = import_file(store, path)
    assert "cannot tell the format" in str(report.errors[0]) and report.errors[0].line == 1
    report = import_file(store, FIXTURES / "trl_preference.jsonl", ImportOptions(format="pku"))
    assert report.errors[0].field == "response_0"
    with pytest.raises(ValueError, match="unknown import format"):
        import_file(store, path, ImportOptions(format="csv"))


def test_one_bad_record_imports_nothing_and_all_errors_are_counted(store, tmp_path):
    records = [ex(user=f"u{i}") for i in range(2500)]
    records[7] = {**records[7], "Accepted": ["Go away."]}
    records[2400] = {**records[2400], "Extra": True}
    report = import_file(store, write_jsonl(tmp_path / "big.jsonl", records))
    assert not report.committed and store.count_examples() == 0 and report.invalid == 2
    assert [(e.file, e.line, e.field) for e in report.errors] == [
        (str(tmp_path / "big.jsonl"), 8, "Rejected[0]"), (str(tmp_path / "big.jsonl"), 2401, "Extra")]
    assert "nothing was imported" in report.summary()


def test_skip_invalid_keeps_the_good_and_writes_the_rejected_with_reasons(store, tmp_path):
    path = tmp_path / "mixed.jsonl"
    path.write_text(json.dumps(ex("a")) + "\n{not json\n" + json.dumps({**ex("b"), "User": [" "]}) + "\n"
                    + json.dumps(ex("c")) + "\n" + json.dumps(ex("a")) + "\n", encoding="utf-8")
    rejected = tmp_path / "rejected.jsonl"
    report = import_file(store, path, ImportOptions(skip_invalid=True, rejected_out=rejected))
    assert (report.imported, report.invalid, report.duplicates, report.committed) == (2, 2, 1, True)
    lines = [json.loads(line) for line in rejected.read_text().splitlines()]
    assert [(r["line"], r["field"]) for r in lines] == [(2, None), (3, "User[0]")]
    assert lines[0]["value"] is None and "invalid JSON" in lines[0]["problems"][0]["message"]
    assert lines[1]["value"]["User"] == [" "] and lines[1]["problems"][0]["message"] == "is empty or whitespace-only"
    assert "rejected records written to" in report.summary()


@pytest.mark.parametrize("data, words", [
    (b'[{"Template": ["CUSTOM"], "User": ["a"], "Accepted": ["b"], "Rejected": ["c"]},\n{"Templ', "truncated"),
    (json.dumps(ex()).encode() + b"\n\xff\n", "invalid UTF-8"),
    (b"[1, 2]", "expected a JSON object, got number"),
])
def test_broken_files_are_reported_not_raised(store, tmp_path, data, words):
    path = tmp_path / "broken.json"
    path.write_bytes(data)
    report = import_file(store, path, ImportOptions(format="seed", skip_invalid=True))
    assert words in str(report.errors[0]) and str(report.errors[0]).startswith(str(path))
    assert store.count_examples() == 0


def test_an_unreadable_file_says_so_and_a_clean_one_leaves_no_rejected_file(store, tmp_path):
    path = tmp_path / "cut.json"
    path.write_bytes(b"[" + json.dumps(ex()).encode() + b", {")
    report = import_file(store, path, ImportOptions(skip_invalid=True, rejected_out=tmp_path / "rejected.jsonl"))
    assert report.unreadable and not report.committed and "cannot be read past the error" in report.summary()
    report = import_file(store, FIXTURES / "guide_examples.json",
                         ImportOptions(skip_invalid=True, rejected_out=tmp_path / "rejected.jsonl"))
    assert report.ok and report.rejected_out is None and not (tmp_path / "rejected.jsonl").exists()


def test_a_corrupt_compressed_file_is_an_error_not_a_traceback(store, tmp_path):
    path = tmp_path / "rows.jsonl.xz"
    path.write_bytes(lzma.compress(json.dumps(ex()).encode() * 50)[:-20])
    report = import_file(store, path)
    assert not report.committed and "cannot read" in str(report.errors[0])
    with pytest.raises(OSError):
        import_file(store, tmp_path / "missing.jsonl")


def test_parquet_without_pyarrow_says_what_to_do(store, tmp_path, monkeypatch):
    monkeypatch.setitem(__import__("sys").modules, "pyarrow", None)
    (tmp_path / "x.parquet").write_bytes(b"PAR1")
    with pytest.raises(ValueError, match="pyarrow"):
        import_file(store, tmp_path / "x.parquet")


def fixture_records(name) -> list[dict]:
    text = (FIXTURES / name).read_text(encoding="utf-8")
    return json.loads(text) if name.endswith(".json") else [json.loads(line) for line in text.splitlines() if line]


def write_parquet(path, records):
    pq.write_table(pa.Table.from_pylist(records), path, row_group_size=2)  # several row groups, as real files have
    return path


@pytest.mark.parametrize("name", ["guide_examples.jsonl", "hh_rlhf.jsonl", "pku_newer.jsonl", "pku_older.json",
                                  "trl_preference.jsonl"])
def test_parquet_imports_like_the_same_rows_as_json(tmp_path, name):
    records = fixture_records(name)
    # A parquet column has one type: TRL's string rows and conversation rows go to separate files.
    groups = {}
    for r in records:
        groups.setdefault(isinstance(r.get("chosen"), str), []).append(r)
    from_json, from_parquet = Store(tmp_path / "json.db"), Store(tmp_path / "parquet.db")
    assert import_file(from_json, FIXTURES / name).committed
    for i, group in enumerate(groups.values()):
        report = import_file(from_parquet, write_parquet(tmp_path / f"{i}.parquet", group))
        assert report.committed and not report.errors, report.summary()
    assert from_parquet.count_examples() == from_json.count_examples() > 0
    assert exported(from_parquet) == exported(from_json)


def test_parquet_errors_name_the_file_record_and_field(store, tmp_path):
    path = write_parquet(tmp_path / "bad.parquet", [ex(), ex(user="Hello"), {**ex(user="x"), "Accepted": None}])
    report = import_file(store, path)
    assert not report.committed and report.invalid == 1 and store.count_examples() == 0
    error = str(report.errors[0])
    assert error.startswith(str(path)) and "record 3" in error and "Accepted" in error, error
    progress = []
    report = import_file(store, path, ImportOptions(skip_invalid=True), progress=lambda *a: progress.append(a))
    assert report.imported == 2 and progress[-1] == (3, 3)


def test_a_corrupt_parquet_file_is_reported_not_raised(store, tmp_path):
    path = write_parquet(tmp_path / "rows.parquet", [ex(user=f"u{i}") for i in range(50)])
    data = path.read_bytes()
    (tmp_path / "cut.parquet").write_bytes(data[:len(data) // 2])
    for broken in (tmp_path / "cut.parquet", tmp_path / "notes.parquet"):
        broken.write_bytes(broken.read_bytes() if broken.exists() else b"not parquet at all")
        report = import_file(store, broken)
        assert report.unreadable and not report.committed and store.count_examples() == 0
        assert str(report.errors[0]).startswith(str(broken)) and "not a readable parquet file" in str(report.errors[0])


def test_bom_crlf_and_duplicates(store, tmp_path):
    path = tmp_path / "win.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + b"\r\n".join(json.dumps(ex(u)).encode() for u in "aba") + b"\r\n")
    report = import_file(store, path, ImportOptions(annotator="ann", split="eval", source="windows"))
    assert (report.imported, report.duplicates) == (2, 1)
    assert import_file(store, path).duplicates == 3
    assert store.count_by("annotator") == {"ann": 2} and store.count_by("source") == {"windows": 2}


def test_progress_is_reported_for_large_files(store, tmp_path, monkeypatch):
    monkeypatch.setattr(formats, "PROGRESS_EVERY", 10)
    path = write_jsonl(tmp_path / "p.jsonl", [ex(user=f"u{i}") for i in range(35)])
    calls = []
    import_file(store, path, progress=lambda done, total: calls.append((done, total)))
    size = path.stat().st_size
    assert len(calls) == 4 and all(total == size for _, total in calls) and calls[-1][0] == size
    assert [done for done, _ in calls] == sorted(done for done, _ in calls)


def test_memory_stays_flat_as_the_input_grows(tmp_path):
    def peak(n):
        path = write_jsonl(tmp_path / f"{n}.jsonl", [ex(f"question {i} " * 10, "yes " * 50, "no " * 50)
                                                     for i in range(n)])
        store = Store(tmp_path / f"{n}.db")
        tracemalloc.start()
        assert import_file(store, path).imported == n
        result = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return result, path.stat().st_size

    (small, _), (large, large_file) = peak(1000), peak(3000)
    assert large < 1.3 * small and large < large_file


# ---------------------------------------------------------------------------------------------------------- export

def test_export_filters_and_defaults(store):
    store.add_example(ex("a"), annotator="ann", source="s1", split="train")
    store.add_example(ex("b"), annotator="bob", source="s2", split="eval")
    store.add_example(ex("c"), annotator="bob", source="s2", status="draft")
    users = lambda data: [json.loads(line)["User"][0] for line in data.splitlines()]  # noqa: E731
    assert users(exported(store, "seed-jsonl")) == ["a", "b"]  # default: done only
    assert users(exported(store, "seed-jsonl", ExampleFilter())) == ["a", "b", "c"]
    assert users(exported(store, "seed-jsonl", ExampleFilter(annotator="bob", split="eval"))) == ["b"]
    assert users(exported(store, "seed-jsonl", ExampleFilter(source="s2", status="draft"))) == ["c"]
    assert users(exported(store, "seed-jsonl", ExampleFilter(since="2999-01-01"))) == []


def test_export_to_a_path_is_atomic(store, tmp_path):
    store.add_example(ex())
    out = tmp_path / "out.json"
    assert export_file(store, out) == 1 and out.read_bytes() == exported(store)
    with pytest.raises(ValueError, match="unknown export format"):
        export_file(store, out, "csv")
    with pytest.raises(OSError):
        export_file(store, tmp_path / "missing-dir" / "out.json")
    assert [p.name for p in tmp_path.iterdir() if "partial" in p.name] == []


# ------------------------------------------------------------------------------------------------------ round trip

# any Unicode text but what the seed format refuses: lone surrogates, NUL, blank messages
characters = st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00")
messages = st.text(characters, min_size=1, max_size=12).map(lambda s: s if s.strip() else s + "x")


@st.composite
def seed_examples(draw):
    n = draw(st.integers(1, 3))
    users = draw(st.lists(messages, min_size=n, max_size=n))
    accepted = draw(st.lists(messages, min_size=n, max_size=n))
    same = draw(st.lists(st.booleans(), min_size=n - 1, max_size=n - 1))
    rejected = [a if keep else draw(messages) for a, keep in zip(accepted, same)]
    rejected.append(draw(messages.filter(lambda m: not same_reply(m, accepted[-1]))))
    template = draw(st.one_of(st.just("CUSTOM"), messages))
    return {"Template": [template], "User": users, "Accepted": accepted, "Rejected": rejected}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(seed_examples(), min_size=1, max_size=6), st.sampled_from(formats.EXPORT_FORMATS))
def test_export_import_export_is_byte_identical(examples, fmt):
    with tempfile.TemporaryDirectory() as work:
        first = Store(Path(work) / "first.db")
        for example in examples:
            first.add_example(example)
        out = Path(work) / f"export.{fmt}"
        export_file(first, out, fmt)
        second = Store(Path(work) / "second.db")
        report = import_file(second, out)
        assert report.ok and report.imported == first.count_examples()
        assert exported(second, fmt) == out.read_bytes()
        assert list(second.export_examples()) == list(first.export_examples())
