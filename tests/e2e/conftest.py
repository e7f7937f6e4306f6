"""End-to-end tests: headless Chromium (Debian's chromium and chromium-driver, installed by
.ci/run when missing) driven through Selenium against the live test server. Screenshots
of the pages go to var/screenshots/ (git-ignored) for a person to look at: one folder per
test, and var/screenshots/<width>/ for test_look's pass over every page at 1280 and 390 px."""

import base64
import os
import shutil
from pathlib import Path

import pytest
from django.conf import settings

from tests.items.imagehost import ImageHost
from tests.webhooks.conftest import receiver  # noqa: F401 - a fixture the flows share

CHROMIUM = os.environ.get("RHEO_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("RHEO_CHROMEDRIVER", "/usr/bin/chromedriver")
SCREENSHOTS = Path(settings.BASE_DIR) / "var" / "screenshots"

have_chromium = shutil.which(CHROMIUM) and shutil.which(CHROMEDRIVER)
if not have_chromium and os.environ.get("RHEO_REQUIRE_SERVICES") == "1":
    raise RuntimeError(f"End-to-end tests need {CHROMIUM} and {CHROMEDRIVER} (see .ci/run).")


@pytest.fixture(scope="session")
def chromium():
    if not have_chromium:
        pytest.skip(f"needs Chromium ({CHROMIUM}) and ChromeDriver ({CHROMEDRIVER})")
    os.environ.setdefault("SE_OFFLINE", "true")  # never let Selenium fetch a driver
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in (
        "--headless=new",
        "--no-sandbox",  # CI runs as root
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1280,1000",
        "--lang=sv-SE",
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.implicitly_wait(0)
    yield driver
    driver.quit()


@pytest.fixture
def _window_restored(chromium):
    """Gives the window its own size back after a test that resized it."""
    yield
    chromium.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})


class Page:
    """A test's hands on the browser: go, fill, click, read, and a screenshot per page."""

    def __init__(self, driver, base_url: str, test_name: str):
        self.driver = driver
        self.base_url = base_url
        self.shots = SCREENSHOTS / test_name
        self.shots.mkdir(parents=True, exist_ok=True)
        driver.delete_all_cookies()

    def go(self, path: str):
        self.driver.get(self.base_url + path)
        return self

    @property
    def path(self) -> str:
        return self.driver.current_url.removeprefix(self.base_url)

    def find(self, css: str):
        from selenium.webdriver.common.by import By

        return self.driver.find_element(By.CSS_SELECTOR, css)

    def find_all(self, css: str):
        from selenium.webdriver.common.by import By

        return self.driver.find_elements(By.CSS_SELECTOR, css)

    def fill(self, css: str, value: str):
        field = self.find(css)
        field.clear()
        field.send_keys(value)
        return self

    def click(self, css: str, *, loads_page: bool = True):
        return self._click(lambda: self.find(css).click(), loads_page)

    def click_text(self, text: str, tag: str = "*", *, loads_page: bool = True):
        from selenium.webdriver.common.by import By

        xpath = f"//{tag}[normalize-space()={text!r}]"
        return self._click(lambda: self.driver.find_element(By.XPATH, xpath).click(), loads_page)

    def _click(self, click, loads_page: bool):
        """A click that loads a page returns once the new page is there (Selenium's own
        click does not wait for the navigation it starts)."""
        from selenium.webdriver.support.wait import WebDriverWait

        before = self.find("html") if loads_page else None
        click()
        if before is not None:
            wait = WebDriverWait(self.driver, 10)
            wait.until(lambda _driver: _gone(before))
            wait.until(lambda d: d.execute_script("return document.readyState") == "complete")
        return self

    def text(self, css: str = "body") -> str:
        return self.find(css).text

    def screenshot(self, name: str) -> Path:
        """The whole page, not only the window's part of it (Chromium's own command)."""
        path = self.shots / f"{name}.png"
        size = self.driver.execute_script(
            "return [window.innerWidth, document.documentElement.scrollHeight]"
        )
        shot = self.driver.execute_cdp_cmd(
            "Page.captureScreenshot",
            {
                "format": "png",
                "captureBeyondViewport": True,
                "clip": {"x": 0, "y": 0, "width": size[0], "height": size[1], "scale": 1},
            },
        )
        path.write_bytes(base64.b64decode(shot["data"]))
        return path

    def resize(self, width: int, height: int = 900):
        """The viewport `width` px wide (not emulating a phone: its browser would zoom out of a
        page too wide, where this one lets the page overflow, which test_look sees)."""
        self.driver.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
        )
        return self

    def overflow(self) -> int:
        """How many pixels the page is wider than the window (0: it fits)."""
        return self.driver.execute_script(
            "return document.documentElement.scrollWidth - window.innerWidth"
        )


@pytest.fixture
def page(chromium, live_server, request) -> Page:
    return Page(chromium, live_server.url, request.node.name)


def _gone(element) -> bool:
    """Whether `element`'s page has been replaced. Selenium's staleness_of expects a
    StaleElementReferenceException; Chromium sometimes answers, mid-navigation, that the
    node "does not belong to the document" instead, which means the same."""
    from selenium.common.exceptions import StaleElementReferenceException, WebDriverException

    try:
        element.is_enabled()
    except StaleElementReferenceException:
        return True
    except WebDriverException as exc:
        if "does not belong to the document" in str(exc):
            return True
        raise
    return False


@pytest.fixture
def photos():
    """A local image host for the items a test pushes."""
    host = ImageHost()
    yield host
    host.close()
