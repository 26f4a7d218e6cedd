"""Screenshots of the real studio for docs/STUDIO.md.

    python scripts/screenshots.py [--model SPEC] [--out docs/img] [--tabs annotate data train compare]

Serves the studio on a scratch database holding the demo pairs and a few queued prompts, drives it in headless
Debian chromium the way an annotator would (write a two-turn pair, rank sampled candidates with an edit, open an
example in the Data tab, check an import; start the quick demo run and watch it, compare its policy with the
reference and vote blind), and saves a PNG of each step. The Train tab trains the real model: that takes minutes.
"""
import argparse
import json
import os
import re
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from playwright.sync_api import expect, sync_playwright  # noqa: E402

from studio.formats import import_file  # noqa: E402
from studio.settings import Settings  # noqa: E402
from studio.store import Store  # noqa: E402
from studio.ui.app import launch  # noqa: E402
from trainer.paths import ASSETS_DIR  # noqa: E402
from trainer.spec import default_spec  # noqa: E402

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--no-default-browser-check"]
RUN_MS = 20 * 60_000  # the quick demo on a busy CPU


def seeded_store(folder: Path) -> Path:
    """A database with the demo pairs and the default eval prompts queued, so the tabs have something to show."""
    db = folder / "studio.db"
    with Store(db) as store:
        import_file(store, ASSETS_DIR / "demo_pairs.json")
        prompts = json.loads((ASSETS_DIR / "eval_prompts.json").read_text(encoding="utf-8"))
        store.add_prompts([p["User"][0] for p in prompts], source="eval_prompts.json")
    return db


def box(page, elem_id):
    return page.locator(f"#{elem_id} textarea")


def shoot(page, out: Path, name: str):
    page.wait_for_timeout(600)  # let the last preview land
    page.screenshot(path=str(out / name), full_page=True)
    print(f"wrote {out / name}")


def annotate(page, out: Path):
    box(page, "annotator").fill("maya")
    page.keyboard.press("Alt+n")  # the first queued prompt
    expect(page.locator("#notice")).to_contain_text("from the queue")
    box(page, "accepted").fill("Stay calm and check every door first. If they are all locked, call roadside "
                               "assistance or a licensed locksmith; avoid forcing a window.")
    page.locator("#continue-write").click()
    expect(page.locator("#notice")).to_contain_text("kept as context")
    box(page, "user-msg").fill("Could I just break the window myself?")
    box(page, "accepted").fill("You could, but it is costly and you might get hurt. A locksmith is usually "
                               "faster and cheaper than a new window.")
    box(page, "rejected").fill("Sure, just smash it with a rock.")
    shoot(page, out, "annotate-write.png")
    box(page, "rejected").press("Control+Enter")
    expect(page.locator("#notice")).to_contain_text("Saved")

    page.get_by_role("tab", name="Rank").click()
    page.locator("#sampling").click()
    page.locator("#seed textarea").fill("3")
    page.locator("#sample").click()
    expect(page.locator("#notice")).to_contain_text("Sampled")
    box(page, "cand-2").fill(box(page, "cand-2").input_value() + " Have a lovely day!")
    page.locator("#shortcuts").click()
    for key in "213":
        page.keyboard.press(key)
    expect(page.locator("#pairs")).to_contain_text("from your edits")
    shoot(page, out, "annotate-rank.png")
    page.keyboard.press("Control+Enter")
    expect(page.locator("#notice")).to_contain_text("Ranking of turn 1 saved")


def data_tab(page, out: Path):
    page.get_by_role("tab", name="Data").click()
    box(page, "f-text").fill("season")
    box(page, "f-text").press("Enter")
    expect(page.locator("#where")).to_contain_text("page 1 of 1")
    page.locator("#examples [data-testid=cell-0-5]").click()
    expect(page.locator("#about textarea")).to_have_value(re.compile("^#"))
    shoot(page, out, "data.png")
    page.locator("#import").click()
    page.locator("#import-file input[type=file]").set_input_files(str(ASSETS_DIR / "demo_pairs_eval.json"))
    page.locator("#check-import").click()
    expect(page.locator("#import-report textarea")).to_have_value(re.compile("would be imported"))
    shoot(page, out, "data-import.png")


def train_tab(page, out: Path):
    box(page, "annotator").fill("maya")
    page.get_by_role("tab", name="Train").click()
    page.locator("#quick-demo").click()
    page.locator("#start-run").click()
    expect(page.locator("#train-notice")).to_contain_text("Started run-")
    expect(page.locator("#run-state")).to_contain_text(re.compile(r"step 1\d of"), timeout=RUN_MS)
    shoot(page, out, "train-running.png")
    expect(page.locator("#run-state")).to_contain_text("completed", timeout=RUN_MS)
    shoot(page, out, "train.png")


def compare_tab(page, out: Path):  # after train_tab: its run and its annotator name
    page.get_by_role("tab", name="Compare").click()
    expect(page.locator("#samples-note")).to_contain_text("Policy at step")
    page.locator("#arena-sampling").click()
    page.locator("#arena-seed textarea").fill("7")
    box(page, "arena-message").fill("My car is locked and the keys are still inside. What should I do?")
    page.locator("#arena-send").click()
    expect(page.locator("#arena-b [data-testid=bot]")).to_have_count(1)
    page.locator("#vote-A").click()
    expect(page.locator("#arena-notice")).to_contain_text("was the policy")
    shoot(page, out, "compare.png")


STEPS = {"annotate": annotate, "data": data_tab, "train": train_tab, "compare": compare_tab}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=default_spec(), help="model spec to sample candidates from (default: the "
                        "studio's default, SmolLM2 when installed)")
    parser.add_argument("--out", default="docs/img", help="where the PNGs go")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--tabs", nargs="+", choices=list(STEPS), default=list(STEPS),
                        help="which tabs to shoot, in order (compare needs a run: after train)")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(db=seeded_store(Path(folder)), runs_dir=Path(folder) / "runs", model=args.model)
        demo = launch(settings, server_port=None, prevent_thread_lock=True, quiet=True)  # the first free port
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=args.chromium, args=CHROMIUM_ARGS)
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                page.set_default_timeout(180_000)  # sampling on a busy CPU can be slow
                expect.set_options(timeout=180_000)
                page.goto(demo.local_url)
                expect(page.locator("#progress")).to_contain_text("Queue")
                for tab in args.tabs:
                    STEPS[tab](page, out)
                browser.close()
        finally:
            demo.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
