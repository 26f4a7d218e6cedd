"""The run-directory contract: prepared runs, atomic status, append-only logs that tolerate a torn last line."""
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from trainer.rundir import DATA, EVAL_DATA, LOG, METRICS, SAMPLES, STATUS, RunDir, read_jsonl, sha256_file


def test_prepare_snapshots_data_with_sha256_and_queues(tmp_path):
    data, held_out = tmp_path / "pairs.json", tmp_path / "held.json"
    data.write_bytes(b'[{"Template": ["CUSTOM"]}]\n')
    held_out.write_bytes(b"[]\n")
    rd = RunDir(tmp_path / "run")
    config = rd.prepare({"beta": 0.5, "max_steps": 7}, data, held_out)
    assert (rd / DATA).read_bytes() == data.read_bytes()
    assert config == rd.read_config()
    assert config["data"] == DATA and config["data_sha256"] == sha256_file(data)
    assert config["eval_data"] == EVAL_DATA and config["eval_data_sha256"] == sha256_file(held_out)
    assert config["beta"] == 0.5 and config["run_dir"] == str(rd.path)
    status = rd.read_status()
    assert status["state"] == "queued" and status["total_steps"] == 7 and status["step"] == 0
    with pytest.raises(FileExistsError):
        rd.prepare({}, data)


def test_resolve_keeps_absolute_paths_and_roots_relative_ones_in_the_run(tmp_path):
    rd = RunDir(tmp_path)
    assert rd.resolve(DATA) == tmp_path / DATA
    assert rd.resolve("/elsewhere/x.json") == Path("/elsewhere/x.json")


def test_write_status_merges_fields_and_rejects_unknown_states(tmp_path):
    rd = RunDir(tmp_path)
    rd.write_status(state="running", step=3, pid=123)
    status = rd.write_status(step=4, best_step=2)
    assert status == rd.read_status()
    assert (status["state"], status["step"], status["best_step"], status["pid"]) == ("running", 4, 2, 123)
    assert status["error"] is None and status["updated_at"] > 0
    with pytest.raises(ValueError, match="crashed"):
        rd.write_status(state="crashed")
    assert [p.name for p in tmp_path.iterdir()] == [STATUS]  # no temp files left behind


def test_status_readers_never_see_a_half_written_file(tmp_path):
    rd = RunDir(tmp_path)
    rd.write_status(state="running", step=0)
    done, seen, errors = threading.Event(), [], []

    def reader():
        while not done.is_set():
            try:
                seen.append(json.loads((tmp_path / STATUS).read_text())["step"])
            except Exception as e:  # a torn file would land here
                errors.append(e)

    thread = threading.Thread(target=reader)
    thread.start()
    for step in range(1, 200):
        rd.write_status(step=step, padding="x" * (step * 50))
    done.set()
    thread.join()
    assert not errors and seen and seen == sorted(seen)


def test_jsonl_appends_and_reads_without_a_torn_last_line(tmp_path):
    rd = RunDir(tmp_path)
    rd.append(METRICS, [{"step": 1, "loss": 0.69}, {"step": 2, "loss": 0.5}])
    rd.append(SAMPLES, [{"step": 0, "prompt_id": "a", "policy": "é", "reference": "ü"}])
    with open(tmp_path / METRICS, "a") as fh:
        fh.write('{"step": 3, "lo')  # a writer killed mid-line
    assert rd.read_metrics() == [{"step": 1, "loss": 0.69}, {"step": 2, "loss": 0.5}]
    assert rd.read_samples()[0]["policy"] == "é"
    assert read_jsonl(tmp_path / "missing.jsonl") == []


def test_truncate_after_drops_later_rows_and_the_torn_line(tmp_path):
    rd = RunDir(tmp_path)
    rd.append(METRICS, [{"step": s} for s in range(6)])
    rd.append(SAMPLES, [{"step": 0}, {"step": 5}])
    with open(tmp_path / METRICS, "a") as fh:
        fh.write('{"step": 6')
    rd.truncate_after(3)
    assert [r["step"] for r in rd.read_metrics()] == [0, 1, 2, 3]
    assert (tmp_path / METRICS).read_text().endswith("}\n")
    assert [r["step"] for r in rd.read_samples()] == [0]
    rd.truncate_after(-1)
    assert rd.read_metrics() == [] and rd.read_samples() == []


def test_observed_state_shows_crashed_when_the_process_is_gone(tmp_path):
    rd = RunDir(tmp_path)
    assert rd.observed_state() == "queued"
    rd.write_status(state="running", pid=os.getpid())
    assert rd.observed_state() == "running"
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    rd.write_status(pid=gone.pid)
    assert rd.observed_state() == "crashed"
    rd.write_status(state="completed")
    assert rd.observed_state() == "completed"


def test_log_goes_to_stdout_and_log_txt(tmp_path, capsys):
    RunDir(tmp_path).log("hello")
    assert capsys.readouterr().out.endswith(" hello\n")
    assert (tmp_path / LOG).read_text().endswith(" hello\n")


def test_log_is_written_once_when_stdout_already_is_log_txt(tmp_path):
    """The studio starts the trainer with stdout sent to log.txt: lines must not appear twice."""
    code = f"from trainer.rundir import RunDir; RunDir({str(tmp_path)!r}).log('once')"
    with open(tmp_path / LOG, "a") as out:
        subprocess.run([sys.executable, "-c", code], stdout=out, check=True,
                       env={**os.environ, "PYTHONPATH": os.getcwd()})
    assert (tmp_path / LOG).read_text().count("once") == 1
