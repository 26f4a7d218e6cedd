"""Train and Compare in a real browser (Playwright driving Debian's chromium): start a quick run, watch it, compare
the policy with the reference, vote blind, and find the vote's example in the Data tab.

Like tests/test_browser.py (whose fixtures and helpers this reuses), it fails, never skips, without chromium.
"""
import re

import pytest
from playwright.sync_api import expect

from studio import runs
from studio.store import ExampleFilter, Store
from studio.ui.train import DEMO_PAIRS, RUN_COLUMNS, SERIES_COLORS
from test_browser import box, browser, cell, no_error_badges, page, search, sign_in, studio  # noqa: F401 (fixtures)
from trainer.chat import CUSTOM
from trainer.checkpoint import load_checkpoint, save_checkpoint
from trainer.rundir import BEST, RunDir

RUN_MS = 240_000  # a quick run of the tiny model, on two shared cores
pytestmark = [pytest.mark.browser, pytest.mark.filterwarnings("ignore::DeprecationWarning:gradio.queueing")]


def assistant_texts(page, chat_id):
    return page.locator(f"#{chat_id} [data-testid=bot]").all_inner_texts()


def test_train_watch_compare_vote_and_find_the_example(page, studio, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # the trainer process inherits it: one core left for the page
    url, settings = studio
    sign_in(page, "tess")

    # Train: a fresh studio offers the demo pairs; the quick preset, with a bolder lr for the tiny model
    page.get_by_role("tab", name="Train").click()
    expect(page.locator("#data-source input[value=demo]")).to_be_checked()
    page.locator("#quick-demo").click()
    page.locator("#lr input").fill("0.01")
    page.locator("#start-run").click()  # at once: the preset is applied in the page, not after a round trip
    expect(page.locator("#train-notice")).to_contain_text("Started run-")
    run_id = re.search(r"Started (run-[\w-]+)", page.locator("#train-notice").inner_text()).group(1)
    config = RunDir(settings.runs_dir / run_id).read_config()
    assert (config["max_steps"], config["batch_size"], config["lr"]) == (30, 8, 0.01)
    expect(page.locator("#amount input")).to_have_value("30")
    expect(page.locator("#run-state")).to_contain_text(re.compile(r"\*?(starting|running)"))
    expect(page.locator("#stop-run")).to_be_enabled()
    expect(page.locator("#run-state")).to_contain_text(re.compile(r"step [1-9]\d* of 30"), timeout=RUN_MS)
    expect(page.locator("#run-state")).to_contain_text("completed", timeout=RUN_MS)
    expect(page.locator("#run-state")).to_contain_text("step 30 of 30")
    expect(page.locator("#run-progress input[type=number]")).to_have_value("30")
    for plot, series in (("loss", "train"), ("loss", "eval"), ("reward-accuracy", "eval"),
                         ("rewards-chosen-rejected", "train chosen"), ("log-probs-chosen-rejected", "eval rejected")):
        line = f'#plot-{plot} path[aria-roledescription="line mark"][stroke="{SERIES_COLORS[series]}"]'
        expect(page.locator(line)).to_have_attribute("d", re.compile(r"^M.+L"))  # drawn, in its colour
    expect(page.locator("#runs-table [data-testid=cell-0-1]")).to_have_text("completed")
    expect(page.locator("#run-log textarea")).to_have_value(re.compile(r"completed: \{"))
    expect(page.locator("#stop-run")).to_be_disabled()

    # Compare: the eval prompts side by side, at the last eval by default
    page.get_by_role("tab", name="Compare").click()
    expect(page.locator("#compare-run input")).to_have_value(run_id)
    expect(page.locator("#samples-note")).to_contain_text("Policy at step 30")
    expect(page.locator("#samples [data-testid=cell-0-0]")).to_contain_text("My car is locked")
    page.locator("#compare-step input").click()
    page.get_by_role("option", name="0", exact=True).click()
    expect(page.locator("#samples-note")).to_contain_text("Policy at step 0")
    expect(page.locator("#samples [data-testid=cell-0-1]")).to_have_text(  # step 0: the policy is the reference
        page.locator("#samples [data-testid=cell-0-2]").inner_text())

    # the arena: both answer the same message with the same settings; a blind vote for A
    page.locator("#arena-sampling").click()
    page.locator("#arena-max-new-tokens input[type=number]").fill("16")
    page.locator("#arena-max-new-tokens input[type=number]").press("Enter")
    box(page, "arena-seed").fill("3")
    box(page, "arena-message").fill("Hi, how are you?")
    page.locator("#arena-send").click()
    expect(page.locator("#arena-a [data-testid=bot]")).to_have_count(1, timeout=60_000)
    expect(page.locator("#arena-b [data-testid=bot]")).to_have_count(1)
    a_reply = assistant_texts(page, "arena-a")[0]
    page.locator("#vote-A").click()
    expect(page.locator("#arena-notice")).to_contain_text(re.compile(r"A is better: [AB] was the policy"))
    expect(page.locator("#arena-notice")).to_contain_text("(source compare)")
    expect(page.locator("#arena-send")).to_be_disabled()  # decided: a new round is blind again
    expect(page.locator("#win-rates [data-testid=cell-0-2]")).to_have_text("1")

    # the Data tab finds the vote's example, A's reply accepted, attributed to the voter
    page.get_by_role("tab", name="Data").click()
    search(page, "Hi, how are you?")
    expect(page.locator("#where")).to_contain_text("1 example · page 1 of 1")
    expect(cell(page, 0, 3)).to_have_text("compare")
    expect(cell(page, 0, 2)).to_have_text("tess")
    [example] = Store(settings.db).iter_examples(ExampleFilter(source="compare"))
    assert example.seed["User"] == ["Hi, how are you?"] and example.seed["Template"] == [CUSTOM]
    assert example.seed["Accepted"] == [a_reply] and example.annotator == "tess"


def listed_run(settings, tiny_checkpoint):
    """A run prepared, never launched, with a best/ checkpoint (a copy of the base model, as at step 3)."""
    rd = runs.create_run(settings.runs_dir, {}, tiny_checkpoint, data_file=DEMO_PAIRS, data_label="demo pairs",
                         base_label="tiny model", started_by="tess")
    model, tok, _ = load_checkpoint(tiny_checkpoint)
    save_checkpoint(rd / BEST, model, tok, {"dpo_step": 3})
    return rd


def test_a_setting_out_of_range_is_refused_alone_and_the_runs_table_fits(page, studio, tiny_checkpoint):
    url, settings = studio
    rd = listed_run(settings, tiny_checkpoint)
    page.get_by_role("tab", name="Train").click()
    expect(page.locator("#runs-table [data-testid=cell-0-0]")).to_have_text(rd.path.name)
    state = page.locator("#run-state").inner_text()
    page.locator("#lr input").fill("-1")
    page.locator("#batch-size input").fill("0")
    page.locator("#start-run").click()
    expect(page.locator("#train-notice")).to_contain_text(re.compile(
        r"The trainer refuses these settings: lr must be above 0, not -1(\.0)?; batch_size must be at least 1, not 0"))
    no_error_badges(page)
    expect(page.locator("#run-state")).to_have_text(state)
    table = page.locator("#runs-table").bounding_box()
    headers = [th.bounding_box() for th in page.locator("#runs-table th").all()]
    assert len(headers) == len(RUN_COLUMNS)
    assert all(h["height"] < 50 for h in headers)  # one line each, not a word broken over many
    assert all(h["x"] + h["width"] <= table["x"] + table["width"] + 1 for h in headers)  # none cut off


def test_the_arena_seed_stays_empty_and_a_vote_names_the_sides_and_closes_the_round(page, studio, tiny_checkpoint):
    url, settings = studio
    sign_in(page, "uma")
    rd = listed_run(settings, tiny_checkpoint)
    page.get_by_role("tab", name="Compare").click()
    page.locator("#compare-run input").click()
    page.get_by_role("option", name=rd.path.name).click()
    expect(page.locator("#arena-checkpoint input")).to_have_value("best (step 3)")
    page.locator("#arena-sampling").click()
    expect(page.locator("#arena-seed :is(input, textarea)")).to_have_value("")  # opening it left it empty
    page.locator("#arena-max-new-tokens input[type=number]").fill("8")
    page.locator("#arena-max-new-tokens input[type=number]").press("Enter")
    box(page, "arena-message").fill("Hello there.")
    page.locator("#arena-send").click()
    expect(page.locator("#arena-b [data-testid=bot]")).to_have_count(1, timeout=60_000)
    expect(page.locator("#arena-a")).to_contain_text("Model A")
    page.locator("#vote-tie").click()  # the policy is a copy of the reference: both said the same
    expect(page.locator("#arena-notice")).to_contain_text("Tie:")
    expect(page.locator("#arena-a")).not_to_contain_text("Model A")
    policy, reference = f"policy ({rd.path.name} · best (step 3))", "reference (tiny model)"
    a, b = (page.locator(f"#arena-{side}").inner_text() for side in "ab")
    assert (f"A: {policy}" in a and f"B: {reference}" in b) or (f"A: {reference}" in a and f"B: {policy}" in b)
    for choice in ("A", "B", "tie", "both-bad"):
        expect(page.locator(f"#vote-{choice}")).to_be_disabled()
    page.locator("#arena-new").click()
    expect(page.locator("#vote-A")).to_be_enabled()
    expect(page.locator("#arena-a")).to_contain_text("Model A")
