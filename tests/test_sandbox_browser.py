"""The sandbox page in a real browser (Playwright for Python, Debian's Chromium at /usr/bin/chromium):
every flow a team lead would try, in English and in Chinese, the way a person clicks through it.
Each step's screenshot goes to screenshots/test_sandbox_browser/ (README shows two of them).

Without Chromium the test is skipped, except under CI=true, where that is a failure (.ci/run
installs it with apt when it is missing).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from tests.conftest import IN_CI
from tests.test_sandbox_start import start, stop

CHROMIUM = os.environ.get("TANDEM_CHROMIUM", "/usr/bin/chromium")
SHOTS = Path(__file__).resolve().parent.parent / "screenshots" / "test_sandbox_browser"
CJK = re.compile(r"[\u4e00-\u9fff]")
WAIT = 15_000  # ms a step may take (an action waits for Tandem's messages before the page looks)


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        reason = f"Chromium not found at {CHROMIUM} (apt-get install -y chromium)"
        if IN_CI:
            pytest.fail(reason + " (CI=true: the browser tests must run)")
        pytest.skip(reason)
    sync_api = pytest.importorskip("playwright.sync_api") if not IN_CI else __import__(
        "playwright.sync_api", fromlist=["sync_playwright"])
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def sandbox_url(repo_root, tmp_path_factory):
    process, port, _banner = start(repo_root, tmp_path_factory.mktemp("sandbox"), "sandbox")
    yield f"http://127.0.0.1:{port}/sandbox"
    stop(process)


class Person:
    """One browser page acting as one seeded person."""

    def __init__(self, browser, url: str, user_id: str):
        self.page = browser.new_page(viewport={"width": 1280, "height": 860})
        self.page.set_default_timeout(WAIT)
        self.errors: list[str] = []
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.goto(f"{url}?user={user_id}")
        self.page.locator("[data-testid=messages]").wait_for()

    def open(self, conv: str) -> None:
        self.page.click(f"[data-testid=conv-{conv}]")
        self.page.wait_for_function("c => document.querySelector('[data-testid=conv-' + c + ']').classList.contains('here')", arg=conv)

    def run(self, text: str) -> None:
        self.page.fill("[data-testid=compose]", text)
        self.page.click("[data-testid=send]")

    def messages(self):
        return self.page.locator("#messages [data-testid=message]")

    def modal(self):
        return self.page.locator("[data-testid=modal]")

    def field(self, block_id: str):
        return self.modal().locator(f"[data-block-id={block_id}] .input-el")

    def shot(self, name: str) -> None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(SHOTS / f"{name}.png"))

    def close(self) -> None:
        assert not self.errors, self.errors  # no script error on the page, ever
        self.page.close()


def test_every_flow_in_english_and_chinese(browser, sandbox_url):
    olga, ada, priya, leo, chen = (Person(browser, sandbox_url, user) for user in
                                   ("U0OLGA", "U0ADA", "U0PRIYA", "U0LEO", "U0CHEN"))

    # 1. Olga files an activity request with /request new; an empty form gets inline errors first.
    olga.open("ops")
    olga.run("/request new")
    olga.modal().wait_for()
    olga.page.click("[data-testid=modal-submit]")
    olga.page.locator("[data-testid=error-title]").wait_for()
    assert olga.page.inner_text("[data-testid=error-title]") == "Please fill this in."
    olga.shot("01-request-form-inline-errors")
    olga.field("title").fill("Spring campaign")
    olga.field("starts_at").fill("2026-12-10T09:00")
    olga.field("ends_at").fill("2026-12-20T18:00")
    olga.field("details").fill("Landing page, push and email for the spring sale.")
    olga.field("expected_effect").fill("More spring orders")
    olga.field("budget_amount").fill("12000")
    olga.field("budget_currency").select_option(index=1)
    olga.page.click("[data-testid=modal-submit]")
    olga.modal().wait_for(state="detached")
    olga.open("dm")
    olga.page.get_by_text("is waiting for approval. First stage: Ops lead.").wait_for()
    olga.shot("02-request-filed")

    # 2. The activity passes its three-stage chain: Ops lead, Product owner, Budget owner.
    for number, approver in enumerate((ada, priya, leo), start=1):
        approver.open("dm")
        card = approver.messages().filter(has_text="Spring campaign").last
        assert f"Stage {number} of 3" in card.inner_text()
        card.locator("[data-testid=el-approval_approve]").click()
        card.get_by_text("approved").first.wait_for()
        approver.shot(f"03-approval-stage-{number}")
    olga.page.get_by_text("is approved by every stage").wait_for()

    # 3. Chen (zh-CN) triages it in #triage: the page speaks Chinese to him; the card moves on.
    assert chen.page.inner_text("#channels-label") == "频道"
    chen.open("triage")
    card = chen.messages().filter(has_text="Spring campaign").last
    card.locator("[data-testid=el-request_start]").click()
    card.get_by_text("In progress").first.wait_for()
    chen.shot("04-triaged-by-chen-zh")

    # Chen files his own request from a message ("Turn into request"): the form is in Chinese.
    chen.open("ops")
    message = chen.messages().filter(has_text="spring campaign brief").first
    message.hover()
    message.locator("[data-testid=turn-into-request]").click()
    chen.modal().wait_for()
    assert CJK.search(chen.page.inner_text("[data-testid=modal-title]"))
    assert "spring campaign brief" in chen.field("details").input_value()
    chen.shot("05-turn-into-request-zh")
    chen.page.click("[data-testid=modal-x]")
    chen.modal().wait_for(state="detached")

    # 4. The clock jumps to tomorrow 09:30 (Shanghai): Chen's standup prompt comes, in Chinese.
    chen.open("dm")
    chen.page.fill("[data-testid=jump]", "+1 day 09:30")
    chen.page.click("[data-testid=jump-go]")
    chen.page.locator("[data-testid=notice]").get_by_text("时钟已前进").wait_for()
    prompt = chen.messages().filter(has=chen.page.locator("[data-testid=el-standup_fill]")).last
    assert CJK.search(prompt.inner_text())
    prompt.locator("[data-testid=el-standup_fill]").click()
    chen.modal().wait_for()
    answers = chen.modal().locator("textarea")
    for index, text in enumerate(("修好了支付回调", "春季活动的落地页", "等设计稿")):
        answers.nth(index).fill(text)
    chen.shot("06-standup-answer-zh")
    chen.page.click("[data-testid=modal-submit]")
    chen.modal().wait_for(state="detached")
    chen.open("ops")
    report = chen.messages().filter(has_text="修好了支付回调").last
    report.wait_for()
    assert "1/3" in report.inner_text()
    chen.shot("07-standup-report-zh")

    # Olga's 09:30 (London) comes next, on the same standup day: she answers too, and the same
    # report message updates (no second report for the day).
    olga.open("dm")
    olga.page.fill("[data-testid=jump]", "09:30")
    olga.page.click("[data-testid=jump-go]")
    olga.page.locator("[data-testid=notice]").get_by_text("Clock moved").wait_for()
    olga.messages().filter(has=olga.page.locator("[data-testid=el-standup_fill]")).last.locator(
        "[data-testid=el-standup_fill]").click()
    olga.modal().wait_for()
    for index, text in enumerate(("Booked the spring venue", "Campaign copy", "None")):
        olga.modal().locator("textarea").nth(index).fill(text)
    olga.page.click("[data-testid=modal-submit]")
    olga.modal().wait_for(state="detached")
    olga.open("ops")
    report = olga.messages().filter(has_text="Booked the spring venue").last
    report.wait_for()
    assert "修好了支付回调" in report.inner_text() and "2/3" in report.inner_text()
    olga.shot("08-standup-report-updated")

    # 5. The weekly digest for #leadership, with its chart (an image block of the uploaded PNG); Ada
    # answers in its thread.
    ada.open("leadership")
    ada.run("/digest send weekly now")
    digest = ada.messages().filter(has_text="DAU").last
    chart = digest.locator("img.block-img").first
    chart.wait_for()
    ada.page.wait_for_function("img => img.complete && img.naturalWidth > 200", arg=chart.element_handle())
    ada.shot("09-digest-with-chart")
    digest.hover()
    digest.locator("[data-testid=reply]").click()
    ada.page.fill("[data-testid=thread-compose]", "Great week, thanks all")
    ada.page.click("#thread-send")
    ada.page.locator("#replies").get_by_text("Great week, thanks all").wait_for()
    assert "1" in digest.locator("[data-testid=replies]").inner_text()

    # ... and Chen previews it in Chinese.
    chen.open("dm")
    chen.run("/digest preview weekly")
    preview = chen.page.locator("#messages .msg.ephemeral").last
    preview.wait_for()
    assert CJK.search(preview.inner_text()) and "DAU" in preview.inner_text()
    chen.shot("10-digest-preview-zh")

    # 6. Chen's App Home, drawn by Tandem when he opens it, in Chinese.
    chen.page.click("[data-testid=conv-home]")
    chen.page.locator("[data-testid=home]").get_by_text("欢迎使用 Tandem").wait_for()
    chen.shot("11-app-home-zh")

    for person in (olga, ada, priya, leo, chen):
        person.close()
