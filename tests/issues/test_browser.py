"""A citizen's report, from the form to its resolution, in headless Chromium
against a live CKAN (the test app served by werkzeug on loopback, in this
process and database), with the emails of a real SMTP server.

Screenshots are saved in ``test-artifacts/`` at the top of the checkout.
"""
from __future__ import annotations

import os
import re
import shutil
import tempfile
import threading

import pytest

from .conftest import PLUGINS
from .smtp import SMTP_SERVER, free_port

LIVE_PORT = free_port()
LIVE_URL = f"http://127.0.0.1:{LIVE_PORT}"
ARTIFACTS = os.path.join(os.path.dirname(__file__), "..", "..", "test-artifacts")

pytestmark = [
    pytest.mark.skipif(not (os.path.exists("/usr/bin/chromium")
                            and os.path.exists("/usr/bin/chromedriver")),
                       reason="headless Chromium is not installed"),
    pytest.mark.ckan_config("ckan.plugins", PLUGINS),
    pytest.mark.ckan_config("ckan.site_url", LIVE_URL),
    pytest.mark.ckan_config("smtp.server", SMTP_SERVER),
    pytest.mark.usefixtures("with_plugins", "clean_db", "clean_redis"),
]


@pytest.fixture
def site_url_cache():
    """CKAN's ``app_globals.reset()`` keeps, for the whole process, the
    ``ckan.site_url`` it saw first and puts it back into the config at every
    new app: forget it before and after this test's app, so that the live
    server's address holds here and does not leak into later tests."""
    from ckan.lib import app_globals

    app_globals._CONFIG_CACHE.pop("ckan.site_url", None)
    yield
    app_globals._CONFIG_CACHE.pop("ckan.site_url", None)


@pytest.fixture
def live_server(site_url_cache, app):
    """The test app (with its middlewares) on 127.0.0.1:LIVE_PORT."""
    import ckan.plugins.toolkit as tk

    assert tk.config["ckan.site_url"] == LIVE_URL
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", LIVE_PORT, app.app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield LIVE_URL
    finally:
        server.shutdown()
        thread.join(10)


@pytest.fixture
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="servicespublics-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync",
                 f"--user-data-dir={profile}", "--window-size=1280,1400"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def _shot(driver, name: str) -> None:
    os.makedirs(ARTIFACTS, exist_ok=True)
    driver.save_screenshot(os.path.join(ARTIFACTS, f"issues-{name}.png"))


def _wait(driver, css: str, timeout: float = 30):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout).until(
        ec.presence_of_element_located((By.CSS_SELECTOR, css)))


def _click(driver, element) -> None:
    # Bootstrap scrolls smoothly: jump instead, then click
    driver.execute_script(
        "arguments[0].scrollIntoView({block: 'center', behavior: 'instant'});", element)
    element.click()


def _links(body: str) -> list[str]:
    return re.findall(r"http://127\.0\.0\.1:\d+/\S+", body)


def test_citizen_report_goes_from_form_to_resolution(live_server, browser, roles,
                                                     smtp_server):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    citizen = "citoyenne@example.net"
    editor = roles["users"]["editor"]

    # 1. a visitor, not signed in, reports a problem from the dataset page
    browser.get(f"{live_server}/dataset/gendarmeries")
    _click(browser, _wait(browser, "a.servicespublics-issue-report"))
    form = _wait(browser, "form.servicespublics-issue-form")
    _click(browser, form.find_element(By.ID, "category-wrong_location"))
    form.find_element(By.NAME, "description").send_keys(
        "La brigade de gendarmerie a déménagé au 12 avenue de la Gare en janvier ; "
        "l'ancienne adresse est fermée.")
    _click(browser, form.find_element(By.CSS_SELECTOR,
                                      "details.servicespublics-issue-correction summary"))
    form.find_element(By.NAME, "correction-address").send_keys("12 avenue de la Gare")
    form.find_element(By.NAME, "email").send_keys(citizen)
    # the honeypot is out of sight
    assert not form.find_element(By.NAME, "website").is_displayed()
    _shot(browser, "1-form")
    _click(browser, form.find_element(By.CSS_SELECTOR, "button[type=submit]"))

    article = _wait(browser, "article.servicespublics-issue")
    assert article.get_attribute("data-moderation-state") == "pending"
    assert "token=" in browser.current_url
    number = article.get_attribute("data-report")
    assert "12 avenue de la Gare" in browser.page_source
    _shot(browser, "2-sent")

    # 2. the organisation's editor and admin are told
    messages = smtp_server.wait(2)
    assert sorted(m["rcpt"][0] for m in messages) == ["admin@example.org",
                                                      "editor@example.org"]
    for message in messages:
        assert citizen not in message["raw"]
    to_editor = smtp_server.to("editor@example.org")[0]
    report_link = next(link for link in _links(to_editor["body"])
                       if f"/issues/{number}" in link)

    # 3. the editor signs in and publishes it from the moderation queue
    browser.delete_all_cookies()
    browser.get(f"{live_server}/user/login")
    login = _wait(browser, "#field-login")
    login.send_keys(editor["name"])
    password = browser.find_element(By.ID, "field-password")
    password.send_keys("correct123")
    _click(browser, password.find_element(By.XPATH, "./ancestor::form//button[@type='submit']"))
    _wait(browser, "body")
    assert "/user/login" not in browser.current_url
    browser.get(f"{live_server}/issues/moderation")
    item = _wait(browser, f"li.servicespublics-issue-item[data-report='{number}']")
    _click(browser, item.find_element(By.CSS_SELECTOR, "input[name=report]"))
    Select(browser.find_element(By.NAME, "bulk_action")).select_by_value("publish")
    _shot(browser, "3-queue")
    _click(browser, browser.find_element(By.CSS_SELECTOR, "form.servicespublics-issue-bulk "
                                                          "button[type=submit]"))
    _wait(browser, ".alert-success, .flash-messages .alert")
    assert f"data-report=\"{number}\"" not in browser.page_source

    # 4. the producer resolves it, with a word for the reporter
    browser.get(report_link)
    panel = _wait(browser, ".servicespublics-issue-moderation-panel")
    Select(panel.find_element(By.NAME, "status")).select_by_value("resolved")
    panel.find_element(By.NAME, "comment").send_keys(
        "Merci ! L'adresse est corrigée dans le fichier de janvier.")
    _click(browser, panel.find_element(By.CSS_SELECTOR,
                                       "form[action$='/update'] button[type=submit]"))
    article = _wait(browser, "article.servicespublics-issue[data-status='resolved']")
    _shot(browser, "4-resolved")

    # 5. the citizen was told twice (published, resolved), and follows the link
    messages = smtp_server.wait(4)
    to_citizen = smtp_server.to(citizen)
    assert len(to_citizen) == 2
    for message in to_citizen:
        assert message["rcpt"] == [citizen]
        assert "example.org" not in message["raw"]
    assert "L'adresse est corrigée" in to_citizen[1]["body"]
    follow = next(link for link in _links(to_citizen[1]["body"]) if "token=" in link)
    browser.delete_all_cookies()
    browser.get(follow)
    article = _wait(browser, "article.servicespublics-issue")
    assert article.get_attribute("data-status") == "resolved"
    assert article.get_attribute("data-moderation-state") == "published"
    assert "L'adresse est corrigée dans le fichier de janvier." in browser.page_source
    assert editor["email"] not in browser.page_source
    _shot(browser, "5-citizen")

    # the report is public now, on the dataset's reports tab
    browser.get(f"{live_server}/dataset/gendarmeries/issues")
    _wait(browser, f"li.servicespublics-issue-item[data-report='{number}']")
    _shot(browser, "6-tab")
