"""Store benchmark: import 82,000 PKU-SafeRLHF-shaped rows, compared with a bare sqlite-utils insert_all of the
same rows in the same run; then export, paging over the store, and the atomic-rollback path.

    PYTHONPATH=. .venv/bin/python bench/bench_store.py [--rows 82000] [--out DIR]

The rows are synthetic (the real dataset is not redistributable) but have its schema and roughly its sizes.
Import timings are the best of --repeats runs, interleaved with the baselines (the machine may be shared).
Memory is measured in separate runs: peak RSS of a fresh process, and the peak Python heap under tracemalloc.
"""

import argparse
import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import sqlite_utils

from studio.formats import ImportOptions, export_file, import_file
from studio.store import ExampleFilter, Store

HARM_CATEGORIES = ["Endangering National Security", "Insulting Behavior", "Discriminatory Behavior",
                   "Endangering Public Health", "Copyright Issues", "Violence", "Drugs", "Privacy Violation",
                   "Economic Crime", "Mental Manipulation", "Human Trafficking", "Physical Harm", "Sexual Content",
                   "Cybercrime", "Disrupting Public Order", "Environmental Damage", "Psychological Harm",
                   "White-Collar Crime", "Animal Abuse"]
WORDS = ("the a to of and in is it you that for on with as this be are can your have not or will by an if "
         "safe help people should use would any could may also legal advice contact local information about "
         "how what when where why important consider risk harm police doctor service account password steps "
         "first then make sure never always please however instead recommend professional").split()


def sentence(rng, n_words):
    return " ".join(rng.choice(WORDS) for _ in range(n_words)).capitalize() + "."


def text(rng, n_sentences, words_per_sentence=14):
    return " ".join(sentence(rng, rng.randint(6, words_per_sentence)) for _ in range(n_sentences))


def pku_row(rng, i):
    """One row of the newer PKU-SafeRLHF schema; prompts ~80 chars, responses ~400-600 chars like the real set."""
    prompt = f"{sentence(rng, rng.randint(8, 16))[:-1]} (#{i})?"
    responses = [text(rng, rng.randint(3, 8)) for _ in range(2)]
    if i % 97 == 0:
        responses[1] = responses[0]  # the real set has a few identical pairs; the default filter drops them
    safe = [rng.random() < 0.5, rng.random() < 0.5]
    row = {"prompt": prompt, "response_0": responses[0], "response_1": responses[1],
           "prompt_source": rng.choice(["Alpaca3-70B", "human"]),
           "response_0_source": "Alpaca-7B", "response_1_source": "Alpaca-7B",
           "is_response_0_safe": safe[0], "is_response_1_safe": safe[1]}
    for side in (0, 1):
        harmful = set() if safe[side] else set(rng.sample(HARM_CATEGORIES, rng.randint(1, 3)))
        row[f"response_{side}_harm_category"] = {c: c in harmful for c in HARM_CATEGORIES}
        row[f"response_{side}_severity_level"] = 0 if safe[side] else rng.randint(1, 3)
    row["better_response_id"] = rng.randint(0, 1)
    row["safer_response_id"] = safe.index(True) if safe.count(True) == 1 else rng.randint(0, 1)
    for side in (0, 1):
        row[f"response_{side}_sha256"] = hashlib.sha256((prompt + responses[side]).encode()).hexdigest()
    return row


def write_rows(path, n, seed=0):
    rng = random.Random(seed)
    with open(path, "w", encoding="utf-8") as fh:
        for i in range(n):
            fh.write(json.dumps(pku_row(rng, i), ensure_ascii=False) + "\n")


def bare_insert_all(path, db_path, one_transaction=False):
    """The baseline: read the same JSONL and insert_all the rows as they are into one table (by default
    sqlite-utils commits each batch; one_transaction wraps them all in one, as our import does)."""
    db = sqlite_utils.Database(db_path)
    with open(path, encoding="utf-8") as fh:
        rows = (json.loads(line) for line in fh)
        if one_transaction:
            with db.atomic():
                db["rows"].insert_all(rows, batch_size=1000)
        else:
            db["rows"].insert_all(rows, batch_size=1000)
    n = db["rows"].count
    db.close()
    return n


def timed(fn, *args):
    start = time.perf_counter()
    result = fn(*args)
    return time.perf_counter() - start, result


def fresh(db_path):
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db_path}{suffix}").unlink(missing_ok=True)
    return db_path


def interleaved(repeats, runs):
    """{name: (best seconds, last result)} for `runs` = {name: (fn, rows, db_path, *args)}, run round-robin, each
    into a fresh database: the machine is shared, so each contender meets the same disturbances, and the least
    disturbed run of each counts."""
    times, results = {name: [] for name in runs}, {}
    for _ in range(repeats):
        for name, (fn, rows, db_path, *args) in runs.items():
            seconds, results[name] = timed(fn, rows, fresh(db_path), *args)
            times[name].append(seconds)
    return {name: (min(times[name]), results[name]) for name in runs}


def child_peak_rss(function, *args) -> int:
    """Peak resident memory (bytes) of a fresh Python process that runs one of this file's functions."""
    code = (f"import resource, sys; sys.path[:0] = [{str(Path(__file__).parent)!r}, {os.getcwd()!r}]; "
            f"import bench_store; bench_store.{function}(*{args!r}); "
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)")
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout
    return int(out.split()[-1]) * 1024  # ru_maxrss is in KiB on Linux


def peak_memory(fn, *args):
    tracemalloc.start()
    fn(*args)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def import_store(path, db_path):
    report = import_file(Store(db_path), path, ImportOptions(format="pku"))
    assert report.ok, report.summary()
    return report


def paging(store, filters, page_size=50):
    """Seconds for the first, a middle and the last page of a filter (with its count)."""
    total = store.count_examples(filters)
    pages = max(1, -(-total // page_size))
    return {page: timed(store.list_examples, filters, page, page_size)[0] for page in (1, pages // 2 or 1, pages)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=82_000)
    parser.add_argument("--repeats", type=int, default=3, help="import timings: the best of this many runs")
    parser.add_argument("--out", type=Path, default=None, help="working directory (default: a temporary one)")
    args = parser.parse_args()
    work = args.out or Path(tempfile.mkdtemp(prefix="bench_store_"))
    work.mkdir(parents=True, exist_ok=True)
    rows = work / "pku.jsonl"
    seconds, _ = timed(write_rows, rows, args.rows)
    print(f"generated {args.rows} rows ({rows.stat().st_size / 2**20:.1f} MiB) in {seconds:.1f} s")

    best = interleaved(args.repeats, {"bare": (bare_insert_all, rows, work / "bare.db"),
                                      "bare_atomic": (bare_insert_all, rows, work / "bare_atomic.db", True),
                                      "ours": (import_store, rows, work / "ours.db")})
    (bare_s, n_bare), (atomic_s, _), (ours_s, report) = best["bare"], best["bare_atomic"], best["ours"]
    print(f"bare insert_all: {n_bare} rows in {bare_s:.2f} s (commit per batch), {atomic_s:.2f} s (one transaction)")
    print(f"our import:      {report.imported} examples in {ours_s:.2f} s "
          f"({report.filtered['identical-responses']} identical pairs filtered): "
          f"{ours_s / bare_s:.2f}x plain insert_all, {ours_s / atomic_s:.2f}x insert_all in one transaction")

    store = Store(work / "ours.db")
    for fmt in ("seed-json", "seed-jsonl", "trl-jsonl"):
        runs = [timed(export_file, store, work / f"export.{fmt}", fmt) for _ in range(args.repeats)]
        print(f"export {fmt}: {runs[-1][1]} examples in {min(s for s, _ in runs):.2f} s")

    extra = work / "extra.jsonl"
    write_rows(extra, max(0, 100_000 - report.imported) * 102 // 100, seed=1)
    import_store(extra, work / "ours.db")
    print(f"paging over {store.count_examples()} examples, 50 a page, newest first, with the count:")
    for label, filters in (("all", ExampleFilter()), ("annotator (no match)", ExampleFilter(annotator="x")),
                           ("text search", ExampleFilter(text="password"))):
        print(f"  {label}: " + ", ".join(f"page {p} {s * 1000:.0f} ms" for p, s in paging(store, filters).items()))

    bad = work / "bad.jsonl"
    shutil.copyfile(rows, bad)
    with open(bad, "ab") as fh:
        fh.write(b'{"prompt": "x", "response_0": "a", "response_1": 3}\n')
    seconds, report = timed(import_file, Store(fresh(work / "atomic.db")), bad)
    assert not report.committed and Store(work / "atomic.db").count_examples() == 0
    print(f"atomic: one bad row after {args.rows} good ones -> nothing stored ({seconds:.2f} s), "
          f"error: {report.errors[0]}")

    rss = {name: child_peak_rss(function, str(rows), str(fresh(work / "memory.db")))
           for name, function in (("bare insert_all", "bare_insert_all"), ("our import", "import_store"))}
    print("peak RSS of a fresh process: " + ", ".join(f"{name} {b / 2**20:.0f} MiB" for name, b in rss.items())
          + f" (input file {rows.stat().st_size / 2**20:.0f} MiB)")
    import_peak = peak_memory(import_store, rows, fresh(work / "memory.db"))
    export_peak = peak_memory(export_file, store, work / "export.memory.json", "seed-json")
    print(f"peak Python heap (tracemalloc): import {import_peak / 2**20:.1f} MiB, export {export_peak / 2**10:.0f} KiB")
    print(f"python {sys.version.split()[0]}, sqlite {sqlite_utils.Database(memory=True).sqlite_version}")


if __name__ == "__main__":
    main()
