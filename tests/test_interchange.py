"""trainer.interchange: validation of the seed format, the streaming reader and the canonical writer."""
import io
import json

import pytest

from trainer import interchange
from trainer.interchange import (SeedError, dump_seed_json, dump_seed_jsonl, iter_json_records, load_seed_file,
                                 validate_example)

EXAMPLE = {"Template": ["CUSTOM"], "User": ["Hi"], "Accepted": ["Hello!"], "Rejected": ["Go away."]}
LINE = json.dumps(EXAMPLE).encode()


def fields(example):
    return [p.field for p in validate_example(example)]


def read(data: bytes, **kw):
    return list(iter_json_records(io.BytesIO(data), name="f.json", **kw))


def error(data: bytes, **kw) -> SeedError:
    with pytest.raises(SeedError) as info:
        read(data, **kw)
    return info.value


# ---------------------------------------------------------------------------------------------------- validation

def test_valid_examples_have_no_problems():
    two_turns = {"Template": ["You are terse."], "User": ["a", "b"], "Accepted": ["x", "y"], "Rejected": ["x", "z"]}
    assert validate_example(EXAMPLE) == [] and validate_example(two_turns) == []


@pytest.mark.parametrize("change, expected", [
    ({"Template": []}, ["Template"]),
    ({"Template": ["CUSTOM", "again"]}, ["Template"]),
    ({"Template": "CUSTOM"}, ["Template"]),
    ({"Template": [" "]}, ["Template[0]"]),
    ({"User": []}, ["User"]),
    ({"User": ["Hi", "again"]}, ["Accepted", "Rejected"]),
    ({"Accepted": ["Hello!", "extra"]}, ["Accepted"]),
    ({"User": ["\t\n"]}, ["User[0]"]),
    ({"Accepted": [""]}, ["Accepted[0]"]),
    ({"Rejected": [3]}, ["Rejected[0]"]),
    ({"Rejected": None}, ["Rejected"]),
    ({"Rejected": ["Hello!"]}, ["Rejected[0]"]),
    ({"User": ["\ud800"]}, ["User[0]"]),
    ({"Accepted": ["Hi\x00 there"]}, ["Accepted[0]"]),
    ({"Extra": 1, "notes": "x"}, ["Extra", "notes"]),
])
def test_each_rule_names_its_field(change, expected):
    assert fields({**EXAMPLE, **change}) == expected


def test_missing_keys_and_non_objects():
    assert fields({"Template": ["CUSTOM"]}) == ["User", "Accepted", "Rejected"]
    assert validate_example([EXAMPLE])[0].message == "expected a JSON object, got array"


def test_earlier_turns_may_be_equal_only_the_final_must_differ():
    shared = {"Template": ["CUSTOM"], "User": ["a", "b"], "Accepted": ["same", "good"], "Rejected": ["same", "bad"]}
    assert validate_example(shared) == []
    assert fields({**shared, "Rejected": ["other", "good"]}) == ["Rejected[1]"]


@pytest.mark.parametrize("rejected", ["Hello! ", " Hello!", "Hello!\n", "Hello!\t\n "])
def test_final_replies_that_differ_only_in_whitespace_are_identical(rejected):
    problem, = validate_example({**EXAMPLE, "Rejected": [rejected]})
    assert problem.field == "Rejected[0]" and "identical to Accepted[0] (whitespace aside)" in problem.message
    assert validate_example({**EXAMPLE, "Rejected": ["Hello !"]}) == []  # a space inside a word is a difference
    assert interchange.same_reply("a  b\n", "a b") and not interchange.same_reply("ab", "a b")


def test_problem_messages_are_readable():
    problem, = validate_example({**EXAMPLE, "Rejected": ["Hello!"]})
    assert "identical to Accepted[0]" in problem.message
    unknown, = validate_example({**EXAMPLE, "Sytem": "x"})
    assert unknown.field == "Sytem" and "unknown key" in unknown.message


# ------------------------------------------------------------------------------------------------------- reading

def test_array_jsonl_and_single_object_read_alike(tmp_path):
    files = {"a.json": b"[" + LINE + b",\n" + LINE + b"]", "b.jsonl": LINE + b"\n" + LINE + b"\n",
             "c.json": json.dumps(EXAMPLE, indent=2).encode()}
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
    assert [len(load_seed_file(tmp_path / n)) for n in files] == [2, 2, 1]
    assert load_seed_file(tmp_path / "c.json") == [EXAMPLE]


def test_bom_crlf_and_blank_lines_are_accepted():
    crlf = b"\xef\xbb\xbf" + LINE + b"\r\n\r\n" + LINE + b"\r\n"
    assert [where.line for where, _ in read(crlf)] == [1, 3]
    assert [where.record for where, _ in read(b"\xef\xbb\xbf[\r\n" + LINE + b",\r\n" + LINE + b"\r\n]\r\n")] == [1, 2]


def test_locations_are_records_for_arrays_and_lines_for_jsonl():
    pretty = json.dumps([EXAMPLE, EXAMPLE], indent=1).encode()
    assert [(w.record, w.line) for w, _ in read(pretty)] == [(1, 2), (2, 16)]
    assert [(w.record, w.line) for w, _ in read(LINE + b"\n\n" + LINE)] == [(None, 1), (None, 3)]


def test_empty_inputs_have_no_records():
    assert read(b"") == read(b" \n") == read(b"[]") == read(b"[ \n ]\n") == []


@pytest.mark.parametrize("data, where, words", [
    (b"[" + LINE + b"," + LINE, (3, 1), "truncated"),
    (b"[" + LINE + b"," + LINE[:-9], (2, 1), "truncated"),
    (LINE + b"\n" + LINE[:-9], (None, 2), "truncated"),
    (b"[" + LINE + b" " + LINE + b"]", (2, 1), "expected ',' or ']' after record 1"),
    (b"[" + LINE + b"] x", (None, 1), "after the closing"),
    (b"[" + LINE + b",]", (2, 1), "invalid JSON"),
    (LINE + b"\n{\"User\": [1,}\n", (None, 2), "invalid JSON"),
    (LINE + b"\n\xff\xfe\n", (None, 2), "invalid UTF-8"),
    (b"[" + LINE + b",\n" + LINE.replace(b"Hi", b"H\xc3i") + b"]", (None, 2), "invalid UTF-8"),
])
def test_broken_files_raise_located_errors(data, where, words):
    e = error(data)
    assert (e.record, e.line) == where and words in str(e) and str(e).startswith("f.json, ")


def test_messages_count_records_from_one_and_say_where_json_broke_off():
    assert str(error(b"[" + LINE + b", " + LINE.replace(b'"Hi"', b'"Hi') + b"]")) == (
        "f.json, record 2, line 1: invalid JSON: Expecting ',' delimiter at line 1 column 135")
    truncated = str(error(LINE + b'\n{"User": ["unfinished'))
    assert truncated == ("f.json, line 2: invalid JSON: Unterminated string starting at line 2 column 11 (the file "
                         "looks truncated)")
    assert interchange.json_problem("Expecting value", "line 1 column 2") == "Expecting value at line 1 column 2"


def test_a_huge_record_is_refused_without_reading_it_all(monkeypatch):
    monkeypatch.setattr(interchange, "MAX_RECORD_BYTES", 1000)
    e = error(b'{"User": ["' + b"x" * 5000 + b'"]}\n' + LINE)
    assert e.line == 1 and "larger than" in str(e)
    records = read(b'{"User": ["' + b"x" * 5000 + b'"]}\n' + LINE, recover=True)
    assert isinstance(records[0][1], SeedError) and records[1] == (interchange.Location("f.json", line=2), EXAMPLE)


def test_records_longer_than_a_chunk_are_read_whole(monkeypatch):
    monkeypatch.setattr(interchange, "_CHUNK", 7)
    long = {**EXAMPLE, "User": ["é" * 100 + "\n"]}
    data = b"[" + json.dumps(long, ensure_ascii=False).encode() + b",\r\n" + LINE + b"]"
    assert [value for _, value in read(data)] == [long, EXAMPLE]
    assert [value for _, value in read(LINE + b"\n" + LINE)] == [EXAMPLE, EXAMPLE]


def test_recover_yields_bad_lines_and_goes_on():
    records = read(LINE + b"\n{oops\n" + LINE + b"\n", recover=True)
    assert [w.line for w, _ in records] == [1, 2, 3]
    assert isinstance(records[1][1], SeedError) and records[2][1] == EXAMPLE


def test_load_seed_file_names_file_line_and_field(tmp_path):
    path = tmp_path / "data.jsonl"
    path.write_text(json.dumps(EXAMPLE) + "\n" + json.dumps({**EXAMPLE, "User": ["  "]}) + "\n")
    with pytest.raises(SeedError) as info:
        load_seed_file(path)
    e = info.value
    assert (e.file, e.line, e.record, e.field) == (str(path), 2, None, "User[0]")
    assert str(e) == f"{path}, line 2, field 'User[0]': is empty or whitespace-only"
    with pytest.raises(SeedError) as info:
        interchange.check_example({"User": [], "Extra": 1}, interchange.Location("x.json", record=3))
    assert str(info.value) == ("x.json, record 3: Extra: unknown key (expected Template, User, Accepted, Rejected); "
                               "Template: missing; Accepted: missing; Rejected: missing")
    assert info.value.field == "Extra" and len(info.value.problems) == 4


def test_loaded_examples_use_the_canonical_key_order(tmp_path):
    path = tmp_path / "x.json"
    path.write_text(json.dumps({k: EXAMPLE[k] for k in reversed(list(EXAMPLE))}))
    assert list(load_seed_file(path)[0]) == ["Template", "User", "Accepted", "Rejected"]


# ------------------------------------------------------------------------------------------------------- writing

def test_dump_json_is_canonical_utf8_one_example_per_line():
    unicode = {"Rejected": ["non"], "Accepted": ["Bien sûr — 好"], "User": ["Ça va?"], "Template": ["CUSTOM"]}
    out = io.BytesIO()
    assert dump_seed_json([EXAMPLE, unicode], out) == 2
    assert out.getvalue().decode("utf-8") == (
        '[\n{"Template": ["CUSTOM"], "User": ["Hi"], "Accepted": ["Hello!"], "Rejected": ["Go away."]},\n'
        '{"Template": ["CUSTOM"], "User": ["Ça va?"], "Accepted": ["Bien sûr — 好"], "Rejected": ["non"]}\n]\n')


def test_dump_jsonl_and_empty_outputs():
    out = io.BytesIO()
    assert dump_seed_jsonl([EXAMPLE, EXAMPLE], out) == 2
    assert out.getvalue() == LINE + b"\n" + LINE + b"\n"
    for dump, empty in ((dump_seed_json, b"[]\n"), (dump_seed_jsonl, b"")):
        out = io.BytesIO()
        assert dump([], out) == 0 and out.getvalue() == empty


def test_written_files_read_back_identically(tmp_path):
    examples = [EXAMPLE, {**EXAMPLE, "User": ['quote " and \\ and \n newline']}]
    for dump in (dump_seed_json, dump_seed_jsonl):
        path = tmp_path / "out"
        with open(path, "wb") as fh:
            dump(examples, fh)
        assert load_seed_file(path) == examples


def test_dump_validates_write_only_frames():
    invalid = {**EXAMPLE, "Accepted": ["Go away."]}
    with pytest.raises(SeedError) as info:
        dump_seed_jsonl([EXAMPLE, invalid], io.BytesIO())
    assert info.value.record == 2 and info.value.field == "Rejected[0]"
    out = io.BytesIO()
    assert interchange.write_seed_jsonl([interchange.encode_example(invalid)], out) == 1
    assert b"Go away." in out.getvalue()


def test_the_interchange_module_uses_the_standard_library_only():
    imported = {line.split()[1].split(".")[0] for line in open(interchange.__file__)
                if line.startswith(("import ", "from "))}
    assert imported <= {"codecs", "json", "os", "re", "dataclasses", "typing"}
