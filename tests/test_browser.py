"""The studio in a real browser (Playwright driving Debian's chromium, headless), used the way a new annotator would.

These tests fail, never skip, without chromium: `make test` installs it (`make browser`).
"""
import json
import re
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from playwright.sync_api import expect, sync_playwright

from studio.store import ExampleFilter, Store
from studio_server import running_studio
from trainer.interchange import load_seed_file

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--no-default-browser-check"]
XSS_IMG = '<img src=x onerror="window.__xss = 1">'
XSS_SCRIPT = "<script>window.__xss = 2</script>"
TIMEOUT_MS = 20_000
FIXTURES = Path(__file__).parent / "fixtures"

expect.set_options(timeout=TIMEOUT_MS)  # generous: the CI machine is shared and slow
pytestmark = [pytest.mark.browser, pytest.mark.filterwarnings("ignore::DeprecationWarning:gradio.queueing")]


@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (`make browser`, or apt-get install chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def studio(tiny_checkpoint, tmp_path_factory):
    with running_studio(tmp_path_factory.mktemp("browser"), tiny_checkpoint) as served:
        yield served


def open_page(browser, url):
    """A fresh browser profile on the studio; any request leaving the app is blocked and remembered."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    page.outside = []
    context.route(re.compile(r"^(?!%s/)" % re.escape(url)), lambda route: (page.outside.append(route.request.url),
                                                                            route.abort()))
    page.goto(url)
    return page


def ready(page):
    """Wait for the page-load events to finish (they restore the name and the draft), as a person would."""
    expect(page.locator("#progress")).to_contain_text("Queue")
    return page


@pytest.fixture
def page(browser, studio):
    page = ready(open_page(browser, studio[0]))
    yield page
    assert page.outside == []  # offline: nothing but the app itself was requested
    page.context.close()


def box(page, elem_id):
    return page.locator(f"#{elem_id} textarea")


def cell(page, row, column):
    return page.locator(f"#examples [data-testid=cell-{row}-{column}]")


def notice(page):
    return expect(page.locator("#notice"))


def sign_in(page, name):
    box(page, "annotator").fill(name)


def press_outside_fields(page, *keys):
    page.locator("#shortcuts").click()  # focus the page, not a field: digits then rank instead of typing
    for key in keys:
        page.keyboard.press(key)


def search(page, text):
    box(page, "f-text").fill(text)
    box(page, "f-text").press("Enter")


def write_turn(page, user, accepted, rejected=""):
    box(page, "user-msg").fill(user)
    box(page, "accepted").fill(accepted)
    box(page, "rejected").fill(rejected)


def test_a_new_user_writes_ranks_finds_and_exports(page, studio, tiny_checkpoint):
    url, settings = studio
    sign_in(page, "nina")
    # write mode: two turns, the second saved with Ctrl+Enter
    write_turn(page, "How do I reset my password?", "Use the reset link on the sign-in page.")
    page.locator("#continue-write").click()
    notice(page).to_contain_text("Turn 1 kept as context")
    expect(page.locator("#chat [data-testid=bot]")).to_have_text("Use the reset link on the sign-in page.")
    write_turn(page, "I lost access to that email too.", "Contact support with proof of identity.",
               "Then you are out of luck.")
    expect(page.locator("#write-preview")).to_contain_text("Then you are out of luck.")
    box(page, "rejected").press("Control+Enter")
    notice(page).to_contain_text("Saved: 1 pair stored.")
    expect(page.locator("#chat [data-testid=user]")).to_have_count(0)  # a fresh composer

    # rank mode: three sampled candidates, one edited, ranked with the keyboard
    box(page, "user-msg").fill("Tell me about green tea.")
    page.get_by_role("tab", name="Rank").click()
    page.locator("#sampling").click()
    run_best = settings.runs_dir / "run-1" / "checkpoints" / "best"  # a run that finished while the page was open
    run_best.parent.mkdir(parents=True)
    run_best.symlink_to(tiny_checkpoint, target_is_directory=True)
    page.locator("#find-checkpoints").click()
    page.locator("#model input").click()
    page.get_by_role("option", name="run-1 · best").click()
    page.locator("#max-new-tokens input[type=number]").fill("16")
    page.locator("#max-new-tokens input[type=number]").press("Enter")
    box(page, "seed").fill("11")
    page.locator("#sample").click()
    notice(page).to_contain_text("Sampled 3 candidates")
    expect(page.locator("#cand-4")).to_be_hidden()
    first, original, third = (box(page, f"cand-{k}").input_value() for k in (1, 2, 3))
    box(page, "cand-2").fill("Green tea is mild, fresh and a little grassy.")
    press_outside_fields(page, "2", "1", "3")
    expect(page.locator("#rank-2 input")).to_have_value("1")
    expect(page.locator("#rank-1 input")).to_have_value("2")
    expect(page.locator("#rank-3 input")).to_have_value("3")
    expect(page.locator("#pairs")).to_contain_text("This ranking yields 2 pairs (best-vs-rest) + 1 from your edits.")
    press_outside_fields(page, "Control+Enter")
    notice(page).to_contain_text("Ranking of turn 1 saved: 2 pairs stored. 1 edit stored")

    # the Data tab finds both
    page.get_by_role("tab", name="Data").click()
    search(page, "password")
    expect(page.locator("#where")).to_contain_text("1 example · page 1 of 1")
    expect(cell(page, 0, 7)).to_have_text("Then you are out of luck.")
    cell(page, 0, 7).click()
    expect(page.locator("#view-accepted [data-testid=bot]").nth(1)).to_have_text(
        "Contact support with proof of identity.")
    search(page, "grassy")
    expect(page.locator("#where")).to_contain_text("3 examples · page 1 of 1")

    # export everything that is done, download it, and check it
    search(page, "")
    expect(page.locator("#where")).to_contain_text("4 examples")
    page.locator("#export-btn").click()
    expect(page.locator("#download")).to_contain_text("(4 examples)")
    with page.expect_download() as download:
        page.locator("#download").click()
    examples = load_seed_file(download.value.path())
    edited = "Green tea is mild, fresh and a little grassy."
    assert examples == [
        {"Template": ["CUSTOM"], "User": ["How do I reset my password?", "I lost access to that email too."],
         "Accepted": ["Use the reset link on the sign-in page.", "Contact support with proof of identity."],
         "Rejected": ["Use the reset link on the sign-in page.", "Then you are out of luck."]},
        *({"Template": ["CUSTOM"], "User": ["Tell me about green tea."], "Accepted": [edited], "Rejected": [other]}
          for other in (first, third, original))]
    store = Store(settings.db)
    assert {e.annotator for e in store.iter_examples(ExampleFilter(status="done"))} == {"nina"}
    ranked = store.get_conversation(store.get_example(2).conversation_id).turns[0].candidates
    assert {c.checkpoint for c in ranked if c.origin == "model"} == {str(run_best)}


def test_annotator_text_stays_inert(page, studio):
    sign_in(page, "oscar")
    write_turn(page, XSS_IMG, XSS_SCRIPT)
    page.locator("#continue-write").click()
    notice(page).to_contain_text("Turn 1 kept as context")
    expect(page.locator("#chat [data-testid=user]")).to_have_text(XSS_IMG)  # shown as the characters typed
    expect(page.locator("#chat [data-testid=bot]")).to_have_text(XSS_SCRIPT)
    write_turn(page, "<b>bold?</b> **markdown?**", "fine", XSS_IMG)
    page.locator("#save-write").click()
    notice(page).to_contain_text("Saved")
    page.get_by_role("tab", name="Data").click()
    search(page, "onerror")
    expect(cell(page, 0, 5)).to_have_text("<b>bold?</b> **markdown?**")
    cell(page, 0, 5).click()
    expect(page.locator("#view-rejected [data-testid=bot]").nth(1)).to_have_text(XSS_IMG)
    expect(page.locator("#view-accepted [data-testid=user]").nth(1)).to_have_text("<b>bold?</b> **markdown?**")
    assert page.locator("#view-accepted img, #view-rejected img, #chat img, #examples img").count() == 0
    assert page.locator("#view-accepted b, #view-accepted strong").count() == 0
    assert page.evaluate("window.__xss") is None


def test_work_in_progress_survives_a_reload(page, studio):
    sign_in(page, "pia")
    write_turn(page, "A question I am still writing", "half an answer")
    page.get_by_role("tab", name="Rank").click()
    page.locator("#sample").click()
    notice(page).to_contain_text("Sampled 3 candidates")
    box(page, "cand-1").fill("an edit in progress")
    press_outside_fields(page, "3")
    expect(page.locator("#rank-3 input")).to_have_value("1")
    page.wait_for_timeout(1500)  # the draft is saved on every change; let the last one land
    page.reload()
    ready(page)
    expect(box(page, "annotator")).to_have_value("pia")
    expect(box(page, "cand-1")).to_have_value("an edit in progress")
    expect(page.locator("#rank-3 input")).to_have_value("1")
    expect(box(page, "user-msg")).to_have_value("A question I am still writing")
    expect(box(page, "accepted")).to_have_value("half an answer")
    notice(page).to_contain_text("Welcome back")


def test_a_parquet_file_is_checked_then_imported_from_the_data_tab(page, studio, tmp_path):
    rows = [json.loads(line) for line in (FIXTURES / "hh_rlhf.jsonl").read_text(encoding="utf-8").splitlines()]
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "hh-train.parquet")
    (tmp_path / "broken.parquet").write_bytes(b"PAR1 but nothing else")
    page.get_by_role("tab", name="Data").click()
    page.locator("#import").get_by_text("Import", exact=True).first.click()  # the accordion opens

    page.locator("#import-file input[type=file]").set_input_files(str(tmp_path / "broken.parquet"))
    page.locator("#check-import").click()
    expect(box(page, "import-report")).to_have_value(re.compile(r"broken\.parquet.*not a readable parquet file",
                                                                re.S))
    expect(page.locator("#commit-import")).to_be_disabled()

    page.locator("#import-file button[aria-label='Clear']").click()
    page.locator("#import-file input[type=file]").set_input_files(str(tmp_path / "hh-train.parquet"))
    page.locator("#check-import").click()
    expect(box(page, "import-report")).to_have_value(re.compile(r"^hh-train\.parquet: 2 records read as hh; "
                                                                r"2 would be imported"))
    page.locator("#commit-import").click()
    expect(box(page, "import-report")).to_have_value(re.compile(r"^hh-train\.parquet: .* 2 imported"))
    search(page, "ZZ plant")
    expect(page.locator("#where")).to_contain_text("1 example · page 1 of 1")


def test_the_work_queue_with_alt_n_and_ctrl_enter(page, studio, tmp_path):
    url, settings = studio
    prompts = tmp_path / "queue.txt"
    prompts.write_text("First queued prompt\nSecond queued prompt\n", encoding="utf-8")
    sign_in(page, "quinn")
    with page.expect_file_chooser() as chooser:
        page.locator("#import-prompts").click()
    chooser.value.set_files(str(prompts))
    notice(page).to_contain_text("Queued 2 new prompts from queue.txt")
    press_outside_fields(page, "Alt+n")
    expect(box(page, "user-msg")).to_have_value("First queued prompt")
    expect(box(page, "user-msg")).to_be_disabled()
    box(page, "accepted").fill("good")
    box(page, "rejected").fill("bad")
    box(page, "rejected").press("Control+Enter")
    notice(page).to_contain_text("Prompt 2 from the queue")
    expect(box(page, "user-msg")).to_have_value("Second queued prompt")
    expect(page.locator("#progress")).to_contain_text("1/2 prompts done")
    page.locator("#skip-prompt").click()
    notice(page).to_contain_text("The queue is empty")


def test_with_auth_a_login_page_comes_first_and_saves_carry_the_login(browser, tiny_checkpoint, tmp_path):
    with running_studio(tmp_path, tiny_checkpoint, auth=[("alice", "pw-a")]) as (url, settings):
        page = open_page(browser, url)
        page.get_by_label("username").fill("alice")
        page.get_by_label("password").fill("wrong")
        page.get_by_role("button", name="Login").click()
        expect(page.get_by_text("Incorrect Credentials")).to_be_visible()
        page.get_by_label("username").fill("alice")  # the failed attempt cleared the form
        page.get_by_label("password").fill("pw-a")
        page.get_by_role("button", name="Login").click()
        ready(page)
        expect(box(page, "annotator")).to_have_value("alice")
        write_turn(page, "u", "a", "r")
        page.locator("#save-write").click()
        notice(page).to_contain_text("Saved")
        assert [e.annotator for e in Store(settings.db).iter_examples()] == ["alice"]
        page.context.close()


def no_error_badges(page):
    """Gradio marks every output of an event that raised with an error badge; a refusal is a message instead."""
    expect(page.locator("[data-testid=status-tracker] .error")).to_have_count(0)


def test_an_empty_seed_samples_anew_and_an_edit_is_yours_as_it_is_typed(page):
    sign_in(page, "ruth")
    box(page, "user-msg").fill("What is your favourite soup?")
    page.get_by_role("tab", name="Rank").click()
    page.locator("#sampling").click()
    expect(page.locator("#seed :is(input, textarea)")).to_have_value("")  # still empty: a new seed every time
    page.locator("#max-new-tokens input[type=number]").fill("8")
    page.locator("#max-new-tokens input[type=number]").press("Enter")
    page.locator("#sample").click()
    notice(page).to_contain_text("Sampled 3 candidates")
    page.locator("#sample").click()
    expect(page.locator("#cand-4")).to_be_visible()  # new replies, not the same draw again
    notice(page).not_to_contain_text("already shown")
    expect(page.locator("#cand-1")).to_contain_text("Candidate 1 · model")
    box(page, "cand-1").fill("A thick pea soup.")
    expect(page.locator("#cand-1")).to_contain_text("Candidate 1 · yours · edited")  # at once, not after a save
    expect(box(page, "cand-1")).to_have_value("A thick pea soup.")


def test_a_name_typed_in_another_browser_brings_back_its_draft(page, browser, studio):
    sign_in(page, "sol")
    write_turn(page, "Where is my parcel?", "It is on its way.")
    page.locator("#continue-write").click()
    notice(page).to_contain_text("Turn 1 kept as context")
    other = ready(open_page(browser, studio[0]))
    sign_in(other, "sol")
    box(other, "annotator").press("Tab")
    expect(other.locator("#chat [data-testid=bot]")).to_have_text("It is on its way.")  # no reload needed
    expect(other.locator("#notice")).to_contain_text("Welcome back")
    other.context.close()


def test_a_refused_edit_keeps_the_text_and_page_zero_is_refused_alone(page):
    sign_in(page, "tara")
    write_turn(page, "What is two plus two?", "Four.", "Five.")
    page.locator("#save-write").click()
    notice(page).to_contain_text("Saved")
    page.get_by_role("tab", name="Data").click()
    search(page, "two plus two")
    cell(page, 0, 5).click()
    expect(page.locator("#view-accepted [data-testid=bot]")).to_have_text("Four.")
    page.locator("#page input").fill("0")
    page.locator("#page input").press("Enter")
    expect(page.locator("#where")).to_contain_text("1 example · page 1 of 1 (there is no page 0)")
    expect(page.locator("#page input")).to_have_value("1")
    expect(cell(page, 0, 5)).to_have_text("What is two plus two?")
    no_error_badges(page)
    page.locator("#edit").get_by_text("Edit", exact=True).first.click()  # the accordion opens
    editor = page.locator("#edit-json .cm-content")
    typed = '{"Template": ["CUSTOM"], "User": ["What is two plus two?"], "Accepted": ["Four."], "Rejected": ["Four. "]}'
    editor.fill(typed)
    page.locator("#save-example").click()
    expect(page.locator("#data-notice")).to_contain_text("Rejected[0]': is identical to Accepted[0] (whitespace aside)")
    expect(editor).to_have_text(typed)  # what the error is about is still there to fix
