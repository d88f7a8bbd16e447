"""The /carte page in headless Chromium against a live CKAN (the test app
served by werkzeug on loopback, in this process and database): the filters
change the map, the URL restores the view, the exports download.

Screenshots are saved in ``test-artifacts/`` at the top of the checkout.
"""
from __future__ import annotations

import csv
import io
import json
import os
import shutil
import socket
import tempfile
import threading
import time
import urllib.parse

import pytest

from ckan.tests import factories

from .conftest import DILA_MAPPING, dila_records, ingest, marks


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


LIVE_PORT = _free_port()
LIVE_URL = f"http://127.0.0.1:{LIVE_PORT}"
ARTIFACTS = os.path.join(os.path.dirname(__file__), "..", "..", "test-artifacts")

pytestmark = [
    pytest.mark.skipif(not (os.path.exists("/usr/bin/chromium")
                            and os.path.exists("/usr/bin/chromedriver")),
                       reason="headless Chromium is not installed"),
    *marks(),
    pytest.mark.ckan_config("ckan.site_url", LIVE_URL),
]


@pytest.fixture
def live_server(app):
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
def downloads():
    path = tempfile.mkdtemp(prefix="servicespublics-downloads-")
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def browser(downloads):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="servicespublics-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync",
                 "--use-angle=swiftshader", "--enable-unsafe-swiftshader",
                 f"--user-data-dir={profile}", "--window-size=1400,1000"):
        options.add_argument(flag)
    options.add_experimental_option("prefs", {"download.default_directory": downloads,
                                              "download.prompt_for_download": False})
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    driver.execute_cdp_cmd("Browser.setDownloadBehavior",
                           {"behavior": "allow", "downloadPath": downloads})
    driver.set_page_load_timeout(90)
    driver.set_script_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def _shot(driver, name: str) -> None:
    os.makedirs(ARTIFACTS, exist_ok=True)
    driver.save_screenshot(os.path.join(ARTIFACTS, f"analytics-{name}.png"))


def _until(driver, condition, timeout: float = 60, message: str = ""):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.25).until(condition, message)


def _css(driver, css: str, timeout: float = 60):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec

    return _until(driver, ec.presence_of_element_located((By.CSS_SELECTOR, css)), timeout,
                  css)


def _text(driver, element_id: str) -> str:
    return driver.execute_script(f"return document.getElementById('{element_id}').textContent")


def _query(driver) -> dict[str, list[str]]:
    return urllib.parse.parse_qs(urllib.parse.urlparse(driver.current_url).query)


def _rendered(driver, layer: str) -> list[dict]:
    """Features drawn by the map in a layer (what the user sees)."""
    return driver.execute_script(
        "var m = window.spCarte.map; return m.queryRenderedFeatures({layers: [arguments[0]]})"
        ".map(function (f) { return Object.assign({id: f.id}, f.properties); });", layer)


def _idle(driver) -> None:
    """Wait until the map has drawn everything it loads."""
    driver.execute_script("document.getElementById('sp-carte').removeAttribute('data-ready');"
                          "window.spCarte.map.triggerRepaint();")
    _css(driver, "#sp-carte[data-ready]")
    _until(driver, lambda d: d.execute_script(
        "return window.spCarte.map.loaded() && window.spCarte.map.areTilesLoaded();"))


def _wait_download(folder: str, suffix: str, timeout: float = 60) -> str:
    deadline = time.time() + timeout
    while time.time() < deadline:
        done = [f for f in os.listdir(folder) if f.endswith(suffix)]
        if done:
            path = os.path.join(folder, done[0])
            if os.path.getsize(path) > 0:
                return path
        time.sleep(0.25)
    raise AssertionError(f"no {suffix} downloaded in {folder}: {os.listdir(folder)}")


@pytest.fixture
def world(france_services, producer, tmp_path):
    """France Services (public), the DILA directory of the Hautes-Alpes
    (public) and the gendarmeries of the Indre in a private dataset."""
    public = factories.Dataset(owner_org=producer["id"], name="annuaire-hautes-alpes")
    path = tmp_path / "annuaire-05.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in dila_records("annuaire-05.sjson")),
                    encoding="utf-8")
    ingest(str(path), public, column_mapping=DILA_MAPPING)
    hidden_org = factories.Organization(name="ministere")
    private = factories.Dataset(owner_org=hidden_org["id"], name="gendarmeries-indre",
                                private=True)
    rows = [r for r in dila_records("annuaire-36.sjson") if r.get("type") == "gendarmerie"]
    path = tmp_path / "annuaire-36.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows), encoding="utf-8")
    ingest(str(path), private, column_mapping=DILA_MAPPING)
    return {"private_gendarmeries": len(rows)}


class TestCartePage:
    def test_filters_url_and_exports(self, world, live_server, browser, downloads):
        from selenium.webdriver.common.by import By
        from selenium.webdriver.support.ui import Select

        browser.get(f"{live_server}/carte")
        _css(browser, "#sp-density-table tbody tr")
        _idle(browser)
        # the density of every service per département, ranked
        rows = browser.find_elements(By.CSS_SELECTOR, "#sp-density-table tbody tr")
        assert len(rows) >= 100
        # France Services clusters are drawn at the national zoom
        clusters = _rendered(browser, "sp-clusters")
        assert clusters and sum(c["count"] for c in clusters) > 2000
        _shot(browser, "1-national")

        # a filter changes the map: gendarmeries only (the private ones of the
        # Indre are not shown to a visitor)
        Select(browser.find_element(By.ID, "sp-domain")).select_by_value("securite")
        Select(browser.find_element(By.ID, "sp-service-type")).select_by_value("gendarmerie")
        _until(browser, lambda d: _query(d).get("service_type") == ["gendarmerie"])
        _until(browser, lambda d: "service_type=gendarmerie" in
               d.find_element(By.ID, "sp-carte").get_attribute("data-tiles"))
        _idle(browser)
        _until(browser, lambda d: "gendarmerie" not in _text(d, "sp-density-summary")
               and d.find_element(By.CSS_SELECTOR, "#sp-density-table tr[data-code='05']"))
        gendarmeries = sum(c["count"] for c in _rendered(browser, "sp-clusters"))
        assert 0 < gendarmeries < 100, gendarmeries
        row = browser.find_element(By.CSS_SELECTOR, "#sp-density-table tr[data-code='05']")
        assert row.find_elements(By.TAG_NAME, "td")[3].text != "0"
        row36 = browser.find_element(By.CSS_SELECTOR, "#sp-density-table tr[data-code='36']")
        assert row36.find_elements(By.TAG_NAME, "td")[3].text == "0"

        # the territory box finds the Hautes-Alpes by name and zooms to it
        box = browser.find_element(By.ID, "sp-territory")
        box.send_keys("Hautes-Alpes")
        _until(browser, lambda d: d.find_elements(By.CSS_SELECTOR,
                                                  "#sp-territory-list option"))
        option = browser.find_element(By.CSS_SELECTOR, "#sp-territory-list option")
        box.clear()
        box.send_keys(option.get_attribute("value"))
        box.send_keys("\n")
        _until(browser, lambda d: _query(d).get("territory") == ["05"])
        assert _text(browser, "sp-territory-current") == "Hautes-Alpes (05)"
        _idle(browser)
        zoom = browser.execute_script("return window.spCarte.map.getZoom()")
        assert zoom > 7
        points = _rendered(browser, "sp-points")
        assert points and {p["type"] for p in points} == {"gendarmerie"}
        _shot(browser, "2-gendarmeries-05")

        # the URL restores the view in a new page
        url = browser.current_url
        center = browser.execute_script("return window.spCarte.map.getCenter().toArray()")
        browser.get("about:blank")
        browser.get(url)
        _css(browser, "#sp-density-table tbody tr")
        _idle(browser)
        assert Select(browser.find_element(By.ID, "sp-service-type")) \
            .first_selected_option.get_attribute("value") == "gendarmerie"
        assert _text(browser, "sp-territory-current") == "Hautes-Alpes (05)"
        assert browser.execute_script("return window.spCarte.map.getZoom()") == \
            pytest.approx(zoom, abs=0.01)
        restored = browser.execute_script("return window.spCarte.map.getCenter().toArray()")
        assert restored == pytest.approx(center, abs=1e-3)
        assert {p["type"] for p in _rendered(browser, "sp-points")} == {"gendarmerie"}

        # exports: the points as CSV and GeoJSON, the map as PNG
        browser.find_element(By.CSS_SELECTOR, "a[data-panel=share]").click()
        browser.find_element(By.ID, "sp-export-csv").click()
        path = _wait_download(downloads, ".csv")
        with open(path, encoding="utf-8-sig") as stream:
            exported = list(csv.DictReader(io.StringIO(stream.read())))
        assert exported and {r["service_type"] for r in exported} == {"gendarmerie"}
        assert {r["departement_code"] for r in exported} == {"05"}
        assert {p["id"] for p in points} <= {int(r["id"]) for r in exported}
        browser.find_element(By.ID, "sp-export-geojson").click()
        path = _wait_download(downloads, ".geojson")
        with open(path, encoding="utf-8") as stream:
            collection = json.load(stream)
        assert len(collection["features"]) == len(exported)
        browser.find_element(By.ID, "sp-export-png").click()
        path = _wait_download(downloads, ".png")
        with open(path, "rb") as stream:
            png = stream.read()
        assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10000
        _shot(browser, "3-share")
        # in French (the site's default language)
        assert browser.find_element(By.CSS_SELECTOR, "h1.sp-carte-title").text == \
            "Carte nationale des services publics"
        assert browser.find_element(By.CSS_SELECTOR, "a[data-panel=density]").text == "Densité"

    def test_panels_from_links(self, world, live_server, browser):
        from selenium.webdriver.common.action_chains import ActionChains
        from selenium.webdriver.common.by import By

        from ckan.tests import helpers

        # openings and closures since 2019: the chart and the changes on the map
        browser.get(f"{live_server}/carte?panel=evolution&service_type=france-services"
                    "&from=2019-01-01")
        _css(browser, "#sp-evolution-chart svg rect.sp-bar-openings")
        expected = helpers.call_action("servicespublics_evolution",
                                       service_type="france-services", date_from="2019-01-01")
        summary = _text(browser, "sp-evolution-summary")
        assert f"{expected['totals']['openings']:,}".replace(",", "\u202f") in summary
        assert "compare=2019-01-01" in browser.find_element(By.ID, "sp-carte") \
            .get_attribute("data-tiles")
        _idle(browser)
        # every France Services opened since 2019 (the programme started then)
        assert expected["totals"]["openings"] == expected["totals"]["count_to"]
        clusters = _rendered(browser, "sp-clusters")
        assert clusters and all(c["opened"] == c["count"] > 0 and c["closed"] == 0
                                for c in clusters)
        _shot(browser, "4-evolution")

        # the nearest services from a commune named in the link
        browser.get(f"{live_server}/carte?panel=nearest&service_type=france-services"
                    "&commune=05061")
        _until(browser, lambda d: len(d.find_elements(By.CSS_SELECTOR,
                                                      "#sp-nearest-result li")) == 5)
        first = browser.find_element(By.CSS_SELECTOR, "#sp-nearest-result li")
        assert "km" in first.text
        _shot(browser, "5-nearest")

        # the impact of a closure: select a service on the map, simulate
        embrun = next(f for f in helpers.call_action(
            "servicespublics_points_export", service_type="france-services",
            territory="05", territory_level="departement")["features"]
            if f["properties"]["name"] == "France services Embrun")
        browser.get(f"{live_server}/carte?panel=impact&service_type=france-services"
                    "&territory=05&territory_level=departement&threshold_km=10")
        _css(browser, "#sp-impact-selection p")
        _idle(browser)
        lon, lat = embrun["geometry"]["coordinates"]
        canvas = browser.find_element(By.CSS_SELECTOR, "#sp-carte-map canvas")
        x, y = browser.execute_script(
            "var p = window.spCarte.map.project([arguments[0], arguments[1]]);"
            "return [p.x, p.y];", lon, lat)
        size = canvas.size
        ActionChains(browser).move_to_element_with_offset(
            canvas, int(x - size["width"] / 2), int(y - size["height"] / 2)).click().perform()
        _until(browser, lambda d: _query(d).get("close") == [str(embrun["id"])])
        browser.find_element(By.ID, "sp-impact-run").click()
        _css(browser, ".sp-impact-totals")
        expected = helpers.call_action("servicespublics_closure_impact", close=[embrun["id"]],
                                       territory="05", territory_level="departement",
                                       service_type="france-services", threshold_km=10)
        newly = browser.find_element(By.CSS_SELECTOR, ".sp-newly-population").text
        assert newly.replace("\u202f", "") == str(expected["newly_beyond"]["population"])
        assert expected["newly_beyond"]["population"] > 0
        _shot(browser, "6-impact")
