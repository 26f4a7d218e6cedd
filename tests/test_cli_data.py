"""The import / export / stats subcommands, through argparse as dpo-studio builds them."""
import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest

from studio.cli_data import add_data_commands
from studio.store import Store

FIXTURES = Path(__file__).parent / "fixtures"
ROOT = Path(__file__).parent.parent


def run(*argv) -> int:
    parser = argparse.ArgumentParser(prog="dpo-studio")
    add_data_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args([str(a) for a in argv])
    return args.func(args)


@pytest.fixture
def db(tmp_path):
    return tmp_path / "studio.db"


def test_import_then_export_the_guide_examples(db, tmp_path, capsys):
    assert run("import", FIXTURES / "guide_examples.jsonl", "--db", db, "--annotator", "ann") == 0
    assert "2 imported" in capsys.readouterr().out
    out = tmp_path / "out.json"
    assert run("export", out, "--db", db, "--format", "seed-json") == 0
    assert out.read_bytes() == (FIXTURES / "guide_examples.json").read_bytes()
    assert "wrote 2 examples" in capsys.readouterr().err


def test_export_to_stdout_with_filters(db, capsysbinary):
    run("import", FIXTURES / "pku_newer.jsonl", "--db", db, "--split", "eval")
    run("import", FIXTURES / "guide_examples.json", "--db", db)
    capsysbinary.readouterr()
    assert run("export", "-", "--db", db, "--format", "trl-jsonl", "--split", "eval", "--source", "pku-saferlhf") == 0
    lines = capsysbinary.readouterr().out.splitlines()
    assert len(lines) == 4 and all(set(json.loads(line)) == {"prompt", "chosen", "rejected"} for line in lines)
    assert run("export", "-", "--db", db, "--format", "seed-jsonl", "--since", "2999-01-01") == 0
    assert capsysbinary.readouterr().out == b""


def test_an_empty_file_is_an_error_naming_it(db, tmp_path, capsys):
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")
    assert run("import", empty, "--db", db) == 1
    captured = capsys.readouterr()
    assert captured.err == f"dpo-studio import: error: {empty} holds no records: there is nothing to import\n"
    assert captured.out == ""


def test_pku_options_reach_the_import(db, capsys):
    assert run("import", FIXTURES / "pku_newer.jsonl", "--db", db, "--agree", "--dimension", "better") == 0
    out = capsys.readouterr().out
    assert "1 imported" in out and "filtered out by disagree: 3" in out


def test_bad_input_exits_non_zero_with_located_errors_and_imports_nothing(db, tmp_path, capsys):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"Template": ["CUSTOM"], "User": ["u"], "Accepted": ["a"], "Rejected": ["a"]}) + "\n")
    assert run("import", bad, "--db", db) == 1
    captured = capsys.readouterr()
    assert f"{bad}, line 1, field 'Rejected[0]'" in captured.err and "nothing was imported" in captured.out
    assert Store(db).count_examples() == 0


def test_skip_invalid_writes_the_rejected_next_to_the_input(db, tmp_path, capsys):
    mixed = tmp_path / "mixed.jsonl"
    mixed.write_text(json.dumps({"Template": ["CUSTOM"], "User": ["u"], "Accepted": ["a"], "Rejected": ["b"]})
                     + "\n[1]\n", encoding="utf-8")
    assert run("import", mixed, "--db", db, "--skip-invalid") == 0
    rejected = tmp_path / "mixed.jsonl.rejected.jsonl"
    assert json.loads(rejected.read_text())["line"] == 2 and "1 imported" in capsys.readouterr().out


@pytest.mark.parametrize("argv, words", [
    (["import", "missing.jsonl"], "no such file"),
    (["import", FIXTURES / "hh_rlhf.jsonl", "--safety-boundary"], "only apply to PKU-SafeRLHF"),
    (["export", "out.json"], "no database at"),
    (["stats"], "no database at"),
])
def test_usage_errors_are_one_readable_line(db, tmp_path, capsys, monkeypatch, argv, words):
    monkeypatch.chdir(tmp_path)
    assert run(*argv, "--db", db) == 1
    err = capsys.readouterr().err
    assert words in err and "Traceback" not in err and err.startswith(f"dpo-studio {argv[0]}: error:")


def test_a_bad_date_is_a_readable_error(db, capsys):
    run("import", FIXTURES / "guide_examples.json", "--db", db)
    assert run("export", "-", "--db", db, "--since", "last tuesday") == 1
    assert "error: Invalid isoformat string" in capsys.readouterr().err


def test_stats_text_and_json(db, capsys):
    run("import", FIXTURES / "pku_newer.jsonl", "--db", db)
    run("import", FIXTURES / "hh_rlhf.jsonl", "--db", db, "--annotator", "ann")
    capsys.readouterr()
    assert run("stats", "--db", db) == 0
    text = capsys.readouterr().out
    assert text.startswith("6 examples\n") and "by source:" in text and "hh-rlhf: 2" in text
    assert "length bias: the accepted reply is the longer one in" in text
    assert run("stats", "--db", db, "--json", "--annotator", "ann") == 0
    result = json.loads(capsys.readouterr().out)
    assert result["stats"]["examples"] == 2 and result["stats"]["turns"] == {"1": 1, "2": 1}
    assert set(result["quality"]) == {"examples", "near_identical", "length_bias", "exact_duplicates",
                                      "near_duplicates"}


def test_the_real_entry_point_exits_non_zero_without_a_traceback(db, tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_bytes(b'[{"Template": ["CUSTOM"], ')
    code = ("import sys; from studio.cli_data import add_data_commands; import argparse; "
            "p = argparse.ArgumentParser(prog='dpo-studio'); add_data_commands(p.add_subparsers(dest='command')); "
            "a = p.parse_args(sys.argv[1:]); sys.exit(a.func(a))")
    result = subprocess.run([sys.executable, "-c", code, "import", str(bad), "--db", str(db)], cwd=ROOT,
                            capture_output=True, text=True, env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"})
    assert result.returncode == 1 and "Traceback" not in result.stderr
    assert f"{bad}, record 1, line 1: invalid JSON" in result.stderr
