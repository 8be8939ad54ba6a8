"""The exports panel in headless Debian Chromium: its button starts an export, its poll shows it done, then stops.

The report page itself belongs to the web app; a stand-in page that includes
the panel the same way is served here (panel_urls), by the live server, with
real workers making the file.
"""

import time

import pytest
import requests
from django.test import Client

from conftest import wait_for
from reports.models import Report
from reports.services import report_create
from reports.tests.builders import small_league
from tests.browser import browser, screenshot  # noqa: F401  (fixture)

pytestmark = [pytest.mark.mysql, pytest.mark.slow, pytest.mark.urls("exports.tests.panel_urls")]
POLL_S = 2  # the panel's POLL_MS


def export_fetches(driver) -> int:
    return driver.execute_script(
        "return performance.getEntriesByType('resource')"
        ".filter(function (e) { return e.name.indexOf('/exports/') >= 0; }).length;"
    )


def test_panel_button_starts_an_export_and_the_list_follows_it_to_done(workers, live_server, browser, user):  # noqa: F811
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    league = small_league(players_per_team=1, matches=1)
    report, _ = report_create(
        owner=user,
        player_ids=league.player_ids[:1],
        sections=["profile", "season_stats"],
        name="Panel <b>test</b>",
    )
    wait_for(
        lambda: Report.objects.filter(pk=report.pk, ready_at__isnull=False).exists(), message="the report"
    )
    client = Client()
    client.force_login(user)
    session = client.cookies["sessionid"].value

    browser.get(f"{live_server.url}/healthz")
    browser.add_cookie({"name": "sessionid", "value": session, "path": "/"})
    page = f"{live_server.url}/reports/{report.pk}/"
    browser.get(page)
    panel = browser.find_element(By.ID, "exports")
    assert panel.find_element(By.CLASS_NAME, "exports-none").text == "No exports yet."

    panel.find_element(By.XPATH, ".//button[contains(., 'CSV')]").click()
    link = WebDriverWait(browser, 60, poll_frequency=0.2).until(
        lambda driver: driver.find_elements(By.CSS_SELECTOR, "#exports li[data-state='done'] a")
    )[0]
    assert browser.current_url == page  # the script posted the form; the page stayed
    assert link.get_attribute("href") == f"{live_server.url}/reports/{report.pk}/export.csv"
    screenshot(browser, "exports-panel")

    # Nothing queued or running any more: the poll has stopped. Two poll intervals
    # and a half without a request show it (there is no event to wait for).
    fetched = export_fetches(browser)
    time.sleep(2.5 * POLL_S)
    assert export_fetches(browser) == fetched

    download = requests.get(link.get_attribute("href"), cookies={"sessionid": session}, timeout=10)
    assert download.status_code == 200
    assert download.content.decode("utf-8-sig").startswith("player_id,player,")
