"""The browser page in a real headless Chromium (Debian's package, driven by selenium through the
system chromedriver — nothing downloaded at run time): choosing the demo photo draws its face."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from featherface.serve.app import create_app
from featherface.serve.settings import ServeSettings

from .conftest import running

webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (pip install selenium)")

REPO = Path(__file__).resolve().parents[2]


def chromium_paths() -> tuple[str, str] | None:
    browser = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    driver = shutil.which("chromedriver")
    return (browser, driver) if browser and driver else None


def open_page(url: str, width: int = 900, height: int = 760):  # -> selenium WebDriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    paths = chromium_paths()
    assert paths is not None
    opts = Options()
    opts.binary_location = paths[0]
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                f"--window-size={width},{height}"):
        opts.add_argument(arg)
    drv = webdriver.Chrome(service=Service(executable_path=paths[1]), options=opts)
    drv.get(url)
    return drv


def choose_photo_and_wait(drv, photo: Path, timeout: float = 60) -> str:
    """Pick ``photo`` in the page's file input; the canvas's data-faces once drawn."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    drv.find_element(By.ID, "file").send_keys(str(photo))
    WebDriverWait(drv, timeout).until(lambda d: d.find_element(By.ID, "view").get_attribute("data-faces"))
    return drv.find_element(By.ID, "view").get_attribute("data-faces")


@pytest.mark.skipif(chromium_paths() is None,
                    reason="no chromium + chromedriver on PATH (Debian: apt-get install chromium chromium-driver)")
def test_page_finds_the_demo_face_in_headless_chromium(tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    with running(create_app(ServeSettings(workers=1, threads=1))) as url:
        drv = open_page(url + "/")
        try:
            assert "FeatherFace" in drv.title
            faces = choose_photo_and_wait(drv, REPO / "examples" / "astronaut.jpg")
            assert faces != "error", drv.find_element(By.ID, "status").text
            assert int(faces) >= 1
            status = drv.find_element(By.ID, "status").text
            assert "face(s)" in status and "512×512" in status
            shot = tmp_path / "page.png"
            drv.save_screenshot(str(shot))
            assert shot.stat().st_size > 20_000
            # the boxes are drawn: the canvas holds the box colour (#00d26a) somewhere
            green = drv.execute_script(
                "const c=document.getElementById('view');const d=c.getContext('2d').getImageData(0,0,c.width,c.height).data;"
                "let n=0;for(let i=0;i<d.length;i+=4){if(d[i]<30&&d[i+1]>190&&d[i+2]>80&&d[i+2]<130)n++;}return n;")
            assert green > 200
            out = os.environ.get("FEATHERFACE_PAGE_SCREENSHOT")
            if out:  # docs/images/serve_page.jpg is made this way (see README)
                import cv2
                import numpy as np

                img = cv2.imdecode(np.frombuffer(drv.get_screenshot_as_png(), np.uint8), cv2.IMREAD_COLOR)
                cv2.imwrite(out, img, [cv2.IMWRITE_JPEG_QUALITY, 85])
        finally:
            drv.quit()
