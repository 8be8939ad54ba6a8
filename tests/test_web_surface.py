"""The web surface as a person sees it (issue 22): Swagger UI, ReDoc, the admin and the browsable API.

A gunicorn runs the production settings (DEBUG off, WhiteNoise serving what
`collectstatic` collected: hashed names, gzip copies, no finders) over the
test database, and headless Chromium opens the pages. The checks are what a
blank or unstyled page would fail: Swagger UI drew one block per operation of
the schema, the admin's and DRF's stylesheets loaded with their rules and
style the page, and no request left the host (this machine and CI have no
route to a CDN, so a page that needed one would show nothing).

The screenshots go to the test's var folder; `UPDATE_SCREENSHOTS=1` also
writes them to docs/screenshots/ (docs/api.md and docs/operations.md show them).
"""

import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client

from conftest import REPO
from tests.browser import browser, screenshot  # noqa: F401  (browser: the fixture)
from tests.servers import WebServer, process_env

# On both passes: on the production-like one the server has MariaDB, Redis (cache, throttles) and RabbitMQ.
pytestmark = [pytest.mark.mysql]

# Long enough for Swagger UI to fetch the schema and draw it on a busy 2-core machine.
RENDER_TIMEOUT_S = 30
ADMIN_USERNAME = "web-surface-admin"


def _database_url() -> str:
    database = settings.DATABASES["default"]
    if database["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{database['NAME']}"
    return (
        f"mysql://{database['USER']}:{database['PASSWORD']}@{database['HOST'] or '127.0.0.1'}:"
        f"{database['PORT'] or 3306}/{database['NAME']}"
    )


@pytest.fixture(scope="module")
def production_web(django_db_setup, django_db_blocker):
    """gunicorn with config.settings.production after `collectstatic`, and a staff user's session cookie.

    The secret key is this process's, so the session made here is valid there.
    HTTPS redirection is off: the browser talks plain HTTP to the loopback.
    """
    var_dir = Path(settings.VAR_DIR) / "production-web"
    env = process_env(
        DJANGO_SETTINGS_MODULE="config.settings.production",
        DJANGO_SECRET_KEY=settings.SECRET_KEY,
        DJANGO_SECURE_SSL_REDIRECT="false",
        DJANGO_VAR_DIR=str(var_dir),
        DATABASE_URL=_database_url(),
    )
    env.pop("DJANGO_STATIC_ROOT", None)
    env.pop("DJANGO_DEBUG", None)
    started = time.monotonic()
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"],
        cwd=REPO,
        env=env,
        check=True,
    )
    collect_seconds = time.monotonic() - started
    with django_db_blocker.unblock():
        admin = get_user_model().objects.create_superuser(ADMIN_USERNAME, password="pw-web-surface-22")
        client = Client()
        client.force_login(admin)
        session = client.cookies[settings.SESSION_COOKIE_NAME].value
    try:
        with WebServer(env=env, name="production-web") as server:
            yield {"url": server.url, "session": session, "collect_seconds": collect_seconds}
    finally:
        with django_db_blocker.unblock():
            admin.delete()
        shutil.rmtree(var_dir, ignore_errors=True)


def _log_in(driver, web) -> None:
    """The staff user's session cookie in the browser (a cookie is set on a page of its site)."""
    driver.get(f"{web['url']}/healthz")
    driver.add_cookie({"name": settings.SESSION_COOKIE_NAME, "value": web["session"], "path": "/"})


def _wait(driver, script: str, *, what: str):
    deadline = time.monotonic() + RENDER_TIMEOUT_S
    while True:
        value = driver.execute_script(script)
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {RENDER_TIMEOUT_S}s waiting for {what}")
        time.sleep(0.2)


# Installed in every page before its own scripts run: the URLs the browser refused
# to fetch under the page's Content-Security-Policy (never sent).
RECORD_REFUSED = (
    "window.__refused = [];"
    "document.addEventListener('securitypolicyviolation', e => window.__refused.push(e.blockedURI));"
)


def _record_refused(driver) -> None:
    driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": RECORD_REFUSED})


def _resources_off_host(driver, url: str) -> list[str]:
    """Every resource the page asked for from anywhere but the server under test, less those
    its Content-Security-Policy refused (Chrome lists those too, but never sends them)."""
    host = urlsplit(url).netloc
    asked = driver.execute_script("return performance.getEntriesByType('resource').map(e => e.name)")
    refused = set(driver.execute_script("return window.__refused || []"))
    return [name for name in asked if urlsplit(name).netloc not in (host, "") and name not in refused]


def _stylesheet_rules(driver, pattern: str) -> dict[str, int]:
    """The page's stylesheets whose URL matches `pattern`, with their rule counts (0: not loaded)."""
    sheets = driver.execute_script(
        """return Array.from(document.styleSheets).filter(s => s.href).map(s => {
             let rules = 0; try { rules = s.cssRules.length; } catch (e) { rules = -1; }
             return [s.href, rules]; });"""
    )
    return {href: rules for href, rules in sheets if re.search(pattern, href)}


@pytest.mark.django_db  # the test database must exist; the server reads the fixture's committed rows
def test_swagger_ui_draws_every_operation_with_no_request_off_the_host(browser, production_web):  # noqa: F811
    url = production_web["url"]
    operations = sum(
        method in ("get", "post", "put", "patch", "delete")
        for path in requests.get(f"{url}/api/schema/?format=json", timeout=30).json()["paths"].values()
        for method in path
    )
    _record_refused(browser)
    browser.get(f"{url}/api/docs/")
    drawn = _wait(
        browser,
        f"const n = document.querySelectorAll('.opblock').length; return n >= {operations} ? n : 0;",
        what=f"Swagger UI to draw {operations} operations",
    )
    assert drawn == operations
    # The description, with the authentication methods and the error shapes, is on the page.
    text = browser.find_element("css selector", ".swagger-ui .info").text
    assert "Authorization: Token KEY" in text and "Errors" in text and "Retry-After" in text
    sheets = _stylesheet_rules(
        browser, r"/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui\.[0-9a-f]{12}\.css$"
    )
    assert len(sheets) == 1 and min(sheets.values()) > 50, sheets
    assert _resources_off_host(browser, url) == []
    # The picture shows the operations, below the description.
    browser.execute_script("document.querySelector('.opblock-tag-section').scrollIntoView()")
    screenshot(browser, "api-docs")

    browser.get(f"{url}/api/redoc/")
    drawn = _wait(
        browser,
        "return document.querySelectorAll('[data-section-id^=\"operation/\"]').length",
        what="ReDoc to draw the operations",
    )
    assert drawn == operations
    # ReDoc's bundle asks for Redocly's logo on their CDN; the page's policy refuses it.
    assert _resources_off_host(browser, url) == []
    screenshot(browser, "api-redoc")


@pytest.mark.django_db  # the test database must exist; the server reads the fixture's committed rows
def test_the_admin_and_the_browsable_api_are_styled_by_hashed_compressed_files(browser, production_web):  # noqa: F811
    url = production_web["url"]
    _record_refused(browser)
    _log_in(browser, production_web)
    browser.get(f"{url}/admin/")
    assert "Site administration" in browser.title
    # collectstatic's hashed name (base.<hash>.css), loaded with its rules.
    sheets = _stylesheet_rules(browser, r"/static/admin/css/base\.[0-9a-f]{12}\.css$")
    assert len(sheets) == 1 and min(sheets.values()) > 50, sheets
    # And applied: the header has the admin's colours, not the browser's defaults.
    header = browser.execute_script(
        "const s = getComputedStyle(document.getElementById('header'));"
        "return [s.backgroundColor, s.display, s.color];"
    )
    assert header[0] not in ("rgba(0, 0, 0, 0)", "transparent") and header[1] == "flex", header
    assert _resources_off_host(browser, url) == []
    screenshot(browser, "admin")

    # WhiteNoise serves it as production would: compressed, cached for good.
    [css] = sheets
    served = requests.get(css, headers={"Accept-Encoding": "gzip"}, timeout=30)
    assert served.status_code == 200
    assert served.headers["Content-Encoding"] == "gzip"
    assert served.headers["Cache-Control"] == "max-age=315360000, public, immutable"

    browser.get(f"{url}/api/competitions/")
    sheets = _stylesheet_rules(browser, r"/static/rest_framework/css/bootstrap\.min\.[0-9a-f]{12}\.css$")
    assert len(sheets) == 1 and min(sheets.values()) > 50, sheets
    # Bootstrap 3's navbar: 50 px high at least; unstyled, a div is as high as its text.
    navbar = browser.execute_script("return getComputedStyle(document.querySelector('.navbar')).minHeight")
    assert navbar == "50px", navbar
    assert ADMIN_USERNAME in browser.find_element("css selector", ".navbar").text
    assert _resources_off_host(browser, url) == []
    screenshot(browser, "browsable-api")
