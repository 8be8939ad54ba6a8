"""The report pages in a real browser (Debian's Chromium, headless) against the live server and real workers.

One report is built and reused across the steps, as an analyst would: sign
in, find players (accents ignored), add France's World Cup squad, watch the
grid fill and reach complete, open a picture, compare Griezmann and Mbappé,
export the PDF (read back with poppler), share the report, open the link signed out, revoke it (404), and check that
a report named like a script stays text. A second test reads a waiting
report's place in its owner's queue and cancels reports from their pages.
With UPDATE_SCREENSHOTS=1 the screenshots are written (small) into
docs/screenshots/ for docs/frontend.md.
"""

import itertools
import os
import re
import subprocess
import time
from pathlib import Path

import pytest
import requests
from django.conf import settings
from selenium.common.exceptions import NoAlertPresentException, TimeoutException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as EC
from selenium.webdriver.support.ui import WebDriverWait

from football.analytics.refresh import refresh_analytics
from reports.models import AnalystQuota, Report, ReportStatus, ReportTask, TaskState
from reports.sections import REGISTRY
from reports.services import report_create
from reports.tests.builders import small_league
from tests.browser import DOCS_SCREENSHOTS, browser, screenshot  # noqa: F401  (browser: a fixture)
from tests.pipeline import broker_purge

pytestmark = [
    pytest.mark.mysql,
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.timeout(420),
]

FRANCE = 4418
GRIEZMANN = 3682
MBAPPE = 353833
PASSWORD = "pw-analyst-123"
XSS_NAME = "<script>alert(1)</script>"
COMPLETE_TIMEOUT_S = 150
# A live merge of 210 partials on moto took about 12 s a read under load, and each read renders the cards again.
PICTURES_TIMEOUT_S = 180
# Screenshots for the docs are shrunk to this width and to a palette, to keep docs/ small.
DOCS_WIDTH = 1100


RECORD_FETCHES = """
window.__fetches = [];
const originalFetch = window.fetch;
window.fetch = async (input, init) => {
  const response = await originalFetch(input, init);
  const headers = (init && init.headers) || {};
  window.__fetches.push({url: String(input), ifNoneMatch: headers["If-None-Match"] || null,
                         status: response.status, etag: response.headers.get("ETag")});
  return response;
};
"""


def shot(driver, name: str) -> None:
    """A screenshot in the var folder; with UPDATE_SCREENSHOTS=1 a small copy in docs/screenshots/."""
    screenshot(driver, name)
    if os.environ.get("UPDATE_SCREENSHOTS") != "1":
        return
    from PIL import Image

    path = DOCS_SCREENSHOTS / f"{name}.png"
    with Image.open(path) as image:
        image = image.convert("RGB")
        if image.width > DOCS_WIDTH:
            image = image.resize((DOCS_WIDTH, round(image.height * DOCS_WIDTH / image.width)), Image.LANCZOS)
        image.quantize(colors=96, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)


class wait:
    """WebDriverWait that, on a timeout, fails with a screenshot, the page's requests and its console."""

    # 90 s by default: on a slow 2-core machine a page whose merged file is not written yet merges
    # its 210 partials from moto while the workers run, and one such data read took 28 s in CI.
    def __init__(self, driver, timeout: float = 90):
        self.driver = driver
        self.inner = WebDriverWait(driver, timeout, poll_frequency=0.2)

    def until(self, condition):
        try:
            return self.inner.until(condition)
        except TimeoutException:
            folder = Path(settings.VAR_DIR) / "screenshots"
            folder.mkdir(parents=True, exist_ok=True)
            self.driver.save_screenshot(str(folder / "failure.png"))  # never into docs/
            requests_seen = self.driver.execute_script(
                "return performance.getEntriesByType('resource')"
                ".map((e) => [e.name.slice(-50), Math.round(e.startTime), Math.round(e.duration), e.responseStatus]);"
            )
            pytest.fail(
                f"timed out on {self.driver.current_url}; last requests {requests_seen[-12:]} "
                f"of {len(requests_seen)}; console {self.driver.get_log('browser')}"
            )


def sign_in(driver, url: str) -> None:
    driver.get(f"{url}/accounts/login/")
    driver.find_element(By.NAME, "username").send_keys("analyst")
    driver.find_element(By.NAME, "password").send_keys(PASSWORD)
    driver.find_element(By.CSS_SELECTOR, "form button[type=submit]").click()
    wait(driver).until(EC.text_to_be_present_in_element((By.TAG_NAME, "h1"), "reports"))


def images_loaded(driver, css: str) -> bool:
    return driver.execute_script(
        "const imgs = [...document.querySelectorAll(arguments[0])];"
        "return imgs.length > 0 && imgs.every((i) => i.complete && i.naturalWidth > 0);",
        css,
    )


def card_pictures_loaded(driver, card: str, count: int = 5) -> bool:
    """The player card's pictures (shot map, heatmap, pizza, pass map, defensive actions) are there and loaded.

    They load lazily, when near the screen, and how near depends on Chromium's guess of the connection:
    the first picture not loaded yet is scrolled into view, as a reader scrolling down would.
    """
    css = f"{card} img.picture"
    driver.execute_script(
        "const c = document.querySelector(arguments[0]); if (c) c.scrollIntoView();"
        "const next = [...document.querySelectorAll(arguments[1])].find((i) => !(i.complete && i.naturalWidth > 0));"
        "if (next) next.scrollIntoView({block: 'center'});",
        card,
        css,
    )
    return images_loaded(driver, css) and len(driver.find_elements(By.CSS_SELECTOR, css)) == count


def no_alert(driver) -> bool:
    try:
        driver.switch_to.alert  # noqa: B018  (raises when there is none)
    except NoAlertPresentException:
        return True
    return False


def pdf_text(content: bytes) -> str:
    """The PDF's text by poppler's pdftotext (installed by .ci/run), white space folded."""
    result = subprocess.run(["pdftotext", "-", "-"], input=content, capture_output=True, check=True)
    return " ".join(result.stdout.decode().split())


def pdf_pages(content: bytes) -> int:
    result = subprocess.run(["pdfinfo", "-"], input=content, capture_output=True, check=True)
    return int(re.search(r"^Pages:\s+(\d+)", result.stdout.decode(), re.M).group(1))


def test_an_analyst_builds_watches_compares_and_shares_a_squad_report(
    live_server,
    workers,
    world_cup,
    browser,  # noqa: F811  (the fixture imported above)
    django_user_model,
):
    refresh_analytics()  # xG, xT and the aggregates the slow sections read
    user = django_user_model.objects.create_user(username="analyst", password=PASSWORD)
    driver, url = browser, live_server.url
    driver.set_window_size(1280, 900)

    # Signed out, every page sends to the sign-in page.
    driver.get(f"{url}/")
    assert "/accounts/login/?next=/" in driver.current_url
    driver.find_element(By.NAME, "username").send_keys("analyst")
    shot(driver, "login")
    sign_in(driver, url)

    # The create page: a search that ignores accents, then France's whole World Cup squad.
    driver.get(f"{url}/reports/new/")
    driver.find_element(By.ID, "player-search").send_keys("mbappe")
    add = wait(driver).until(
        EC.element_to_be_clickable((By.CSS_SELECTOR, f".add-player[data-id='{MBAPPE}']"))
    )
    assert "Mbappé" in driver.find_element(By.ID, "player-results").text
    add.click()
    driver.find_element(By.ID, "team-search").send_keys("France")
    wait(driver).until(
        EC.element_to_be_clickable((By.CSS_SELECTOR, f".pick-team[data-id='{FRANCE}']"))
    ).click()
    wait(driver).until(EC.text_to_be_present_in_element((By.ID, "squad-summary"), "players appeared"))
    driver.find_element(By.ID, "add-squad").click()
    wait(driver).until(EC.text_to_be_present_in_element((By.ID, "squad-summary"), "players added"))
    squad = int(
        re.search(r"\((\d+) in the squad\)", driver.find_element(By.ID, "squad-summary").text).group(1)
    )
    chosen = driver.find_elements(By.CSS_SELECTOR, "#chosen li")
    assert len(chosen) == squad >= 20  # Mbappé was added first and is not added twice
    name = driver.find_element(By.ID, "report-name")
    name.clear()
    name.send_keys("France at the 2018 World Cup")
    shot(driver, "create")
    # Record what the report page's script fetches, with its conditional header (a wrapper of fetch,
    # installed before any script of the next page runs).
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": RECORD_FETCHES})
    driver.find_element(By.ID, "create-report").click()

    # The report page: the grid fills while real workers compute, and polling stops at complete.
    wait(driver).until(EC.url_matches(r"/reports/[0-9a-f-]{36}/$"))
    report = Report.objects.get(name="France at the 2018 World Cup")
    assert report.owner == user and len(report.player_ids) == squad and MBAPPE in report.player_ids
    cells = len(report.player_ids) * len(REGISTRY)
    # A third of the grid filled: the picture of a report being built.
    wait(driver, COMPLETE_TIMEOUT_S).until(
        lambda d: (
            len(d.find_elements(By.CSS_SELECTOR, "#grid td.cell.done, #grid td.cell.reused")) >= cells // 3
        )
    )
    assert driver.find_element(By.ID, "progress-text").text  # "n of m sections ..."
    shot(driver, "report-building")
    # textContent, not .text: the pill is upper-cased by the stylesheet.
    wait(driver, COMPLETE_TIMEOUT_S).until(
        lambda d: d.find_element(By.ID, "status-pill").get_attribute("textContent") == "complete"
    )
    assert len(driver.find_elements(By.CSS_SELECTOR, "#grid td.cell.done, #grid td.cell.reused")) == cells
    assert ReportTask.objects.filter(report=report, state=TaskState.DONE).count() == cells
    griezmann = f"#player-{GRIEZMANN}"
    wait(driver, PICTURES_TIMEOUT_S).until(lambda d: card_pictures_loaded(d, griezmann))
    card = driver.find_element(By.CSS_SELECTOR, griezmann)
    assert "Antoine Griezmann" in card.text
    assert "Peer pool (percentiles):" in card.text and "FW players with at least 270 minutes" in card.text
    # Polling: conditional requests, stopped at the end; the data read once per change at most. The
    # last change is read once more (the read after a change waits out DATA_MIN_INTERVAL_MS).
    data_url = f"/api/reports/{report.pk}/data/"
    # The page settles: its last fetch is a data read and nothing follows it for two poll intervals
    # (a data read asked for by the last change before the terminal status may come just before the
    # terminal poll and its own data read; polling on after the end never settles and times out).
    deadline = time.monotonic() + 60
    while True:
        count = driver.execute_script("return window.__fetches.length;")
        time.sleep(3)
        last = driver.execute_script("return window.__fetches.at(-1).url;")
        if driver.execute_script("return window.__fetches.length;") == count and last == data_url:
            break
        assert time.monotonic() < deadline, "the page kept fetching after the report was complete"
    fetched = driver.execute_script("return window.__fetches;")
    polls = [f for f in fetched if "detail=tasks" in f["url"]]
    data_reads = [f for f in fetched if f["url"] == data_url]
    assert polls[0]["ifNoneMatch"] is None and all(f["status"] in (200, 304) for f in polls)
    for before, after in itertools.pairwise(polls):
        # Each poll sends the ETag of the last answer that had one.
        assert after["ifNoneMatch"] == (before["etag"] or before["ifNoneMatch"]), (before, after)
    changes = sum(1 for f in polls if f["status"] == 200)
    assert 1 <= len(data_reads) <= changes, (len(data_reads), changes)
    driver.execute_script("arguments[0].scrollIntoView()", card)
    driver.set_window_size(1280, 1500)
    shot(driver, "report")
    driver.set_window_size(1280, 900)

    # A picture opens on its own, through the file view (or a signed S3 URL on S3).
    picture = card.find_element(By.CSS_SELECTOR, "[data-panel=shots] img").get_attribute("src")
    report_url = driver.current_url
    driver.get(picture)
    assert driver.execute_script("return document.contentType") == "image/png"
    driver.get(report_url)

    # Compare Griezmann and Mbappé.
    for player_id in (GRIEZMANN, MBAPPE):
        box = wait(driver).until(
            EC.presence_of_element_located((By.CSS_SELECTOR, f"#player-{player_id} .compare-box"))
        )
        driver.execute_script("arguments[0].click()", box)
    driver.find_element(By.ID, "compare-button").click()
    wait(driver).until(EC.url_contains("/compare/?players="))
    header = driver.find_element(By.CSS_SELECTOR, "#compare-table thead").text
    assert "Antoine Griezmann" in header and "Kylian Mbappé" in header
    wait(driver, 60).until(lambda d: images_loaded(d, ".pizzas img"))
    assert len(driver.find_elements(By.CSS_SELECTOR, ".pizzas img")) == 2
    assert "Minutes" in driver.find_element(By.ID, "compare-table").text
    driver.set_window_size(1280, 1300)
    shot(driver, "compare")
    driver.set_window_size(1280, 900)

    # Export the report as a PDF from its page, and read the file back.
    driver.get(report_url)
    pdf_button = wait(driver).until(
        EC.presence_of_element_located((By.CSS_SELECTOR, "#exports input[value=pdf] + input + button"))
    )
    driver.execute_script("arguments[0].click()", pdf_button)
    link = wait(driver, 150).until(
        EC.presence_of_element_located((By.CSS_SELECTOR, "#exports li[data-state=done] a"))
    )
    session = requests.Session()
    for cookie in driver.get_cookies():
        session.cookies.set(cookie["name"], cookie["value"])
    pdf = session.get(link.get_attribute("href"), timeout=60)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    text = pdf_text(pdf.content)
    assert "Antoine Griezmann" in text and "Kylian Mbappé" in text and "CC BY 4.0" in text
    assert pdf_pages(pdf.content) > 1

    # Share the report, then open the link signed out.
    driver.get(report_url)
    share_button = wait(driver).until(EC.presence_of_element_located((By.ID, "share-create")))
    driver.execute_script("arguments[0].click()", share_button)
    message = (
        wait(driver).until(EC.presence_of_element_located((By.CSS_SELECTOR, ".message.share-link"))).text
    )
    share_url = re.search(r"(http://\S+/share/[A-Za-z0-9_-]+/)", message).group(1)
    # Once the players are drawn (the note above them empties at complete), the box is at the bottom.
    wait(driver).until(lambda d: d.find_element(By.ID, "data-note").get_attribute("textContent") == "")
    driver.execute_script("document.getElementById('share').scrollIntoView({block: 'start'})")
    shot(driver, "share")
    driver.execute_script("arguments[0].click()", driver.find_element(By.CSS_SELECTOR, ".signout button"))
    wait(driver).until(EC.url_contains("/accounts/login/"))
    driver.get(share_url)
    wait(driver, PICTURES_TIMEOUT_S).until(lambda d: card_pictures_loaded(d, griezmann))
    assert driver.find_element(By.ID, "report-name").text == "France at the 2018 World Cup"
    assert not driver.find_elements(By.ID, "retry-form") and not driver.find_elements(By.ID, "share")
    assert not driver.find_elements(By.CSS_SELECTOR, ".compare-box, .signout")
    sources = driver.execute_script(
        "return [...document.querySelectorAll(arguments[0])].map((i) => i.getAttribute('src'));",
        f"{griezmann} img.picture",
    )
    token = share_url.rstrip("/").rsplit("/", 1)[1]
    assert f"/share/{token}/players/{GRIEZMANN}/pizza.png" in sources
    driver.execute_script("arguments[0].scrollIntoView()", driver.find_element(By.CSS_SELECTOR, griezmann))
    shot(driver, "shared")

    # Revoked: the link answers 404.
    sign_in(driver, url)
    driver.get(report_url)
    revoke = wait(driver).until(EC.presence_of_element_located((By.CSS_SELECTOR, "#share .revoke")))
    driver.execute_script("arguments[0].click()", revoke)
    wait(driver).until(EC.text_to_be_present_in_element((By.CSS_SELECTOR, ".messages"), "revoked"))
    driver.get(share_url)
    assert "Not found" in driver.find_element(By.TAG_NAME, "h1").text
    assert requests.get(share_url, timeout=10).status_code == 404
    assert requests.get(f"{share_url}data/", timeout=10).status_code == 404

    # A report named like a script is text, on its page and in the list; no alert ever opens.
    named, _ = report_create(owner=user, player_ids=[GRIEZMANN], name=XSS_NAME, sections=["profile"])
    assert named.status == ReportStatus.COMPLETE  # the profile partial is reused
    driver.get(f"{url}/reports/{named.pk}/")
    wait(driver).until(lambda d: d.find_elements(By.CSS_SELECTOR, f"#player-{GRIEZMANN}"))
    assert driver.find_element(By.ID, "report-name").text == XSS_NAME and no_alert(driver)
    driver.get(f"{url}/")
    assert XSS_NAME in driver.find_element(By.CSS_SELECTOR, "table.list").text and no_alert(driver)
    shot(driver, "reports")


def cancel_from_the_page(driver, *, confirm: bool) -> None:
    """Press the page's cancel button and answer its confirmation."""
    driver.execute_script("arguments[0].click()", driver.find_element(By.ID, "cancel-button"))
    alert = wait(driver, 10).until(EC.alert_is_present())
    assert "Cancel this report?" in alert.text
    if confirm:
        alert.accept()
    else:
        alert.dismiss()


def test_an_analyst_sees_where_a_waiting_report_stands_and_cancels_reports_from_their_pages(
    live_server,
    worker_pool,
    browser,  # noqa: F811  (the fixture imported above)
    django_user_model,
):
    players = small_league().player_ids
    user = django_user_model.objects.create_user(username="analyst", password=PASSWORD)
    # Staff gave this analyst a limit of 4 outstanding sections (the admin's AnalystQuota).
    AnalystQuota.objects.create(user=user, max_outstanding_sections=4)
    worker_pool.ensure()  # nothing served: the first report stays outstanding while the page is read
    first, _ = report_create(owner=user, player_ids=players[:4], name="Four forwards", sections=["profile"])
    second, _ = report_create(owner=user, player_ids=players[4:6], name="Two more", sections=["profile"])
    assert first.status == ReportStatus.PENDING and second.status == ReportStatus.WAITING
    driver, url = browser, live_server.url
    driver.set_window_size(1280, 900)
    sign_in(driver, url)

    # The waiting report says why it waits, its place, and the work ahead of it.
    driver.get(f"{url}/reports/{second.pk}/")
    wait(driver).until(lambda d: d.find_element(By.ID, "queue-text").get_attribute("textContent"))
    assert driver.find_element(By.ID, "status-pill").get_attribute("textContent") == "waiting"
    assert driver.find_element(By.ID, "queue-text").get_attribute("textContent") == (
        "Waiting for room under your limit of outstanding sections: next of your reports to start"
        " · 4 sections of other reports ahead"
    )
    shot(driver, "waiting")
    # Cancel asks first; answered no, nothing changes.
    cancel_from_the_page(driver, confirm=False)
    assert Report.objects.get(pk=second.pk).status == ReportStatus.WAITING
    cancel_from_the_page(driver, confirm=True)
    wait(driver).until(
        EC.text_to_be_present_in_element((By.CSS_SELECTOR, ".messages"), "The report is cancelled")
    )
    wait(driver).until(
        lambda d: (
            d.find_element(By.ID, "data-note").get_attribute("textContent")
            == "The report was cancelled: 2 sections never ran. What had finished is shown."
        )
    )
    assert driver.find_element(By.ID, "status-pill").get_attribute("textContent") == "cancelled"
    assert not driver.find_element(By.ID, "cancel-form").is_displayed()
    assert not driver.find_element(By.ID, "queue-text").get_attribute("textContent")
    assert set(ReportTask.objects.filter(report=second).values_list("state", flat=True)) == {
        TaskState.CANCELLED
    }

    # The first report, queued in the broker with no worker to run it, is cancelled from its page too.
    driver.get(f"{url}/reports/{first.pk}/")
    wait(driver).until(lambda d: d.find_element(By.ID, "cancel-form").is_displayed())
    cancel_from_the_page(driver, confirm=True)
    wait(driver).until(
        lambda d: d.find_element(By.ID, "status-pill").get_attribute("textContent") == "cancelled"
    )
    first.refresh_from_db()
    assert first.status == ReportStatus.CANCELLED and first.completed_at is not None
    assert set(ReportTask.objects.filter(report=first).values_list("state", "attempts")) == {
        (TaskState.CANCELLED, 0)
    }
    # Its messages, revoked while no worker listened, are not left for the next test's workers.
    broker_purge()
