"""The map in a real browser: headless Chromium (WebGL by SwiftShader) against the
CKAN app served on 127.0.0.1 from this process.

No basemap is configured (tests run offline): the points are drawn on the
plain background. Screenshots go to test-artifacts/.
"""
from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
from typing import Any, Optional

import pytest

from ckan.tests import factories, helpers

from .conftest import ARTIFACTS, PLUGINS, fs_rows, point_rows

def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


#: the page's scripts ask the site's URL (ckan.site_url) for their translations
PORT = _free_port()
SITE_URL = f"http://127.0.0.1:{PORT}"
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
PASSWORD = "Correct-Horse-42"

pytestmark = pytest.mark.skipif(
    not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)),
    reason="Chromium and chromedriver are installed by ./dev.sh test")


class LiveServer:
    """The app's whole WSGI stack, served by werkzeug in a thread."""

    def __init__(self, wsgi: Any, port: int = 0):
        from werkzeug.serving import make_server

        self.server = make_server("127.0.0.1", port, wsgi, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join(10)


@pytest.fixture
def live_server(app):
    server = LiveServer(app.app, PORT)
    yield server
    server.stop()


@pytest.fixture
def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="sp-map-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--enable-unsafe-swiftshader",
                 "--window-size=1280,1000", f"--user-data-dir={profile}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()
    shutil.rmtree(profile, ignore_errors=True)


def _screenshot(driver: Any, name: str) -> None:
    os.makedirs(ARTIFACTS, exist_ok=True)
    driver.save_screenshot(os.path.join(ARTIFACTS, name))


def _wait(driver: Any, script: str, timeout: float = 60) -> Any:
    deadline = time.time() + timeout
    value = None
    while time.time() < deadline:
        value = driver.execute_script(script)
        if value:
            return value
        time.sleep(0.1)
    logs = driver.get_log("browser")
    raise AssertionError(f"timed out waiting for {script!r}; console: {logs[-20:]}")


def _ready(driver: Any) -> str:
    return _wait(driver, "var e = document.querySelector('.sp-map');"
                         "return e && e.getAttribute('data-map-ready');")


def _rendered(driver: Any, layers: Optional[list[str]] = None) -> list[dict[str, Any]]:
    layers = layers or ["sp-clusters", "sp-points"]
    return driver.execute_script(
        "return window.servicespublicsMaps[0].queryRenderedFeatures({layers: arguments[0]})"
        ".map(function (f) { return {id: f.id, layer: f.layer.id, n: f.properties.n,"
        " t: f.properties.t || null, name: f.properties.name || null,"
        " c: f.geometry.coordinates}; });", layers)


def _canvas_pixels(driver: Any) -> int:
    """How many pixels of the map differ from its plain background."""
    return driver.execute_script("""
var map = window.servicespublicsMaps[0];
map.triggerRepaint();
var gl = map.painter.context.gl;
var w = gl.drawingBufferWidth, h = gl.drawingBufferHeight;
var px = new Uint8Array(w * h * 4);
gl.readPixels(0, 0, w, h, gl.RGBA, gl.UNSIGNED_BYTE, px);
var bg = [px[0], px[1], px[2]], differ = 0;
for (var i = 0; i < px.length; i += 4) {
  if (Math.abs(px[i] - 0xee) + Math.abs(px[i + 1] - 0xf0) + Math.abs(px[i + 2] - 0xf3) > 30) {
    differ += 1;
  }
}
return differ;""")


def _map_view(resource: dict[str, Any], package: dict[str, Any]) -> str:
    views = helpers.call_action("resource_view_list", id=resource["id"])
    view = next(v for v in views if v["view_type"] == "servicespublics_map")
    return f"/dataset/{package['name']}/resource/{resource['id']}/view/{view['id']}"


def _login(driver: Any, base: str, user: dict[str, Any]) -> None:
    from selenium.webdriver.common.by import By

    driver.get(base + "/user/login")
    driver.find_element(By.ID, "field-login").send_keys(user["name"])
    password = driver.find_element(By.ID, "field-password")
    password.send_keys(PASSWORD)
    password.submit()
    _wait(driver, "return !/\\/user\\/login/.test(window.location.pathname)", 30)


@pytest.mark.ckan_config("ckan.plugins", PLUGINS)
@pytest.mark.ckan_config("ckan.site_url", SITE_URL)
@pytest.mark.ckan_config("ckanext.servicespublics.map.style_url", "")
@pytest.mark.ckan_config("ckanext.servicespublics.map.tile_url", "")
@pytest.mark.usefixtures("with_plugins", "clean_db", "clean_queues")
class TestMapInBrowser:
    def test_points_groups_popup_and_search(self, live_server, browser, point_resource):
        from selenium.webdriver.common.by import By

        made = point_resource()
        package, resource = made["package"], made["resource"]
        browser.get(live_server.url + _map_view(resource, package))
        ready = _ready(browser)
        assert float(ready) > 0
        # zoomed out on metropolitan France: groups of France Services, counted
        features = _rendered(browser)
        assert features
        groups = [f for f in features if f["layer"] == "sp-clusters"]
        assert groups and all(f["n"] > 1 and f["t"] == "france-services" for f in groups)
        assert _canvas_pixels(browser) > 500
        labels = browser.find_elements(By.CSS_SELECTOR, ".sp-map-count-label")
        assert labels and all(label.text for label in labels[:5])
        # French page, legend and list of what is in view
        assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang").startswith("fr")
        legend = browser.find_element(By.CSS_SELECTOR, ".sp-map-legend").text
        assert "France services" in legend or "France Services" in legend
        assert "2" in legend
        status = browser.find_element(By.CSS_SELECTOR, ".sp-map-visible-status").text
        assert "zone visible" in status or "visible" in status
        canvas = browser.find_element(By.CSS_SELECTOR, ".sp-map-canvas canvas")
        assert canvas.get_attribute("tabindex") == "0"
        assert canvas.get_attribute("aria-label")
        _screenshot(browser, "map-view-groups.png")

        # zoomed in on a France Services: single points, with names
        here = next(p for p in point_rows(resource["id"]) if "Valserh" in (p["name"] or ""))
        browser.execute_script(
            "window.servicespublicsMaps[0].jumpTo({center: arguments[0], zoom: 15});",
            [here["lon"], here["lat"]])
        _wait(browser, "var m = window.servicespublicsMaps[0];"
                       "return m.loaded() && m.queryRenderedFeatures({layers: ['sp-points']})"
                       ".length > 0;")
        points = _rendered(browser, ["sp-points"])
        assert points and all(p["n"] == 1 and p["name"] and p["id"] for p in points)
        # a click on a point opens its popup, in French
        target = points[0]
        x, y = browser.execute_script(
            "var p = window.servicespublicsMaps[0].project(arguments[0]); return [p.x, p.y];",
            target["c"])
        from selenium.webdriver.common.action_chains import ActionChains

        ActionChains(browser).move_to_element_with_offset(
            canvas, int(x - canvas.size["width"] / 2), int(y - canvas.size["height"] / 2)
        ).click().perform()
        popup = _wait(browser, "var e = document.querySelector('.sp-map-popup');"
                               "return e && e.innerText;")
        assert target["name"] in popup
        assert "Type" in popup and "Adresse" in popup and "Horaires" in popup
        _screenshot(browser, "map-view-popup.png")

        # search by name, then the keyboard: a result opens the point's popup
        field = browser.find_element(By.CSS_SELECTOR, ".sp-map-search input[type=search]")
        field.send_keys("valserhone")
        field.submit()
        result = _wait(browser, "var b = document.querySelector('.sp-map-search-results button');"
                                "return b && b.innerText;")
        assert "Valserhône" in result
        button = browser.find_element(By.CSS_SELECTOR, ".sp-map-search-results button")
        button.send_keys("\n")
        popup = _wait(browser, "var e = document.querySelector('.sp-map-popup h3');"
                               "return e && e.innerText.indexOf('Valserh') >= 0 && e.innerText;")
        assert "Valserhône" in popup
        focused = browser.execute_script("return document.activeElement.className")
        assert "maplibregl-popup-close-button" in focused
        browser.switch_to.active_element.send_keys("\ue00c")  # Escape
        _wait(browser, "return !document.querySelector('.sp-map-popup');")
        focused = browser.execute_script("return document.activeElement.innerText")
        assert "Valserhône" in focused
        _screenshot(browser, "map-view-search.png")

    def test_phone_and_english(self, live_server, browser, point_resource):
        from selenium.webdriver.common.by import By

        made = point_resource(rows=fs_rows(400)[1])
        browser.set_window_size(390, 844)
        browser.get(live_server.url + "/en" + _map_view(made["resource"], made["package"]))
        _ready(browser)
        assert _rendered(browser)
        canvas = browser.find_element(By.CSS_SELECTOR, ".sp-map-canvas")
        assert canvas.size["width"] <= 390
        side = browser.find_element(By.CSS_SELECTOR, ".sp-map-side")
        assert side.location["y"] >= canvas.location["y"] + canvas.size["height"] - 1
        assert "Find a point by name" in browser.find_element(By.TAG_NAME, "body").text
        # the list of visible items: buttons the keyboard reaches
        items = browser.find_elements(By.CSS_SELECTOR, ".sp-map-visible-list button")
        assert items
        _screenshot(browser, "map-view-phone-en.png")

    def test_nothing_for_who_may_not_see(self, live_server, browser, point_resource,
                                         map_world):
        from selenium.webdriver.common.by import By

        made = point_resource(private=True, rows=fs_rows(200)[1])
        url = _map_view(made["resource"], made["package"])
        tile = f"/servicespublics/tiles/{made['resource']['id']}/0/0/0.pbf"
        # anonymous: no page, no tiles (fetched from the browser itself)
        browser.get(live_server.url + url)
        assert not browser.find_elements(By.CSS_SELECTOR, ".sp-map-canvas")
        assert "Valserh" not in browser.page_source
        status = browser.execute_script(
            "var r = new XMLHttpRequest(); r.open('GET', arguments[0], false); r.send();"
            "return [r.status, r.responseText.length];", tile)
        assert status[0] == 403
        _screenshot(browser, "map-view-refused.png")
        # an outsider, signed in: refused too
        outsider = factories.User(password=PASSWORD)
        _login(browser, live_server.url, outsider)
        browser.get(live_server.url + url)
        assert not browser.find_elements(By.CSS_SELECTOR, ".sp-map-canvas")
        status = browser.execute_script(
            "var r = new XMLHttpRequest(); r.open('GET', arguments[0], false); r.send();"
            "return r.status;", tile)
        assert status == 403

    def test_member_sees_private_points(self, live_server, browser, point_resource,
                                        map_world):
        made = point_resource(private=True, rows=fs_rows(200)[1])
        member = factories.User(password=PASSWORD)
        helpers.call_action("organization_member_create", id=map_world["org"]["id"],
                            username=member["name"], role="member")
        _login(browser, live_server.url, member)
        browser.get(live_server.url + _map_view(made["resource"], made["package"]))
        _ready(browser)
        features = _rendered(browser)
        assert sum(f["n"] for f in features if f["layer"] == "sp-clusters") > 100

    def test_dataset_extent_map(self, live_server, browser, map_world):
        package = factories.Dataset(
            owner_org=map_world["org"]["id"],
            extras=[{"key": "spatial", "value": (
                '{"type": "Polygon", "coordinates": [[[-1.2, 47.6], [-1.2, 48.5], '
                '[-0.6, 48.5], [-0.6, 47.6], [-1.2, 47.6]]]}')}])
        browser.get(live_server.url + f"/dataset/{package['name']}")
        _wait(browser, "var e = document.querySelector('.sp-extent-map');"
                       "return e && e.getAttribute('data-map-ready');")
        drawn = browser.execute_script(
            "return window.servicespublicsExtentMaps[0].queryRenderedFeatures().length")
        assert drawn > 0
        _screenshot(browser, "dataset-extent.png")


@pytest.mark.ckan_config("ckan.plugins", PLUGINS)
@pytest.mark.ckan_config("ckan.site_url", SITE_URL)
# nothing listens on port 9 of the loopback: the basemap cannot be reached
@pytest.mark.ckan_config("ckanext.servicespublics.map.style_url",
                         "http://127.0.0.1:9/styles/plan.json")
@pytest.mark.ckan_config("ckanext.servicespublics.map.tile_url",
                         "http://127.0.0.1:9/tiles/{z}/{x}/{y}.png")
@pytest.mark.ckan_config("ckanext.servicespublics.map.attribution", "Fond injoignable")
@pytest.mark.usefixtures("with_plugins", "clean_db", "clean_queues")
class TestUnreachableBasemap:
    def test_points_on_a_plain_background(self, live_server, browser, point_resource):
        from selenium.webdriver.common.by import By

        made = point_resource(rows=fs_rows(300)[1])
        browser.get(live_server.url + _map_view(made["resource"], made["package"]))
        _ready(browser)
        assert _rendered(browser)
        assert _canvas_pixels(browser) > 200
        notice = browser.find_element(By.CSS_SELECTOR, ".sp-map-notice")
        assert notice.is_displayed()
        assert "fond de carte" in notice.text.lower() or "background map" in notice.text
        _screenshot(browser, "map-view-no-basemap.png")
