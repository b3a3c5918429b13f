"""The console in a real browser: Debian's chromium, headless, driven by Playwright (it downloads nothing).

Signs in with the dev sign-in, sees today's seeded appointment, and resolves a callback request; on the Talk page,
loads the LiveKit client the app ships, takes a (fake) microphone and tries the configured LiveKit server. Screenshots
go to pytest's temporary directory, and also to CONSOLE_SCREENSHOT_DIR when set (docs/console.md's images
come from `CONSOLE_SCREENSHOT_DIR=docs .venv/bin/python -m pytest tests/console/test_browser.py`).
"""

from __future__ import annotations

import http.server
import os
import secrets
import threading
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import jwt
import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict

from console import talk
from devtools.testing.postgres import PostgresServer, require_os_package
from tests.conftest import SEED_TIMEZONE
from tests.console.server import running_console

CHROMIUM = Path("/usr/bin/chromium")
# Headless Chromium offline: no background traffic, no sandbox (root in containers), fake media devices.
CHROMIUM_FLAGS = [
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-default-apps",
    "--disable-sync",
    "--no-first-run",
    "--no-sandbox",
    "--disable-dev-shm-usage",
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
]
WAIT_MS = 30_000


@pytest.fixture
def today_database(postgres_server: PostgresServer, migrated_template: str) -> Iterator[str]:
    """Seeded so that Maria Garcia's appointment (two days after the seed's day) is today, plus one callback."""
    from zoneinfo import ZoneInfo

    from agent.db import seed

    name = f"b_{uuid.uuid4().hex[:12]}"
    postgres_server.execute(f"CREATE DATABASE {name} TEMPLATE {migrated_template}")
    url = postgres_server.dsn(name)
    today = datetime.now(ZoneInfo(SEED_TIMEZONE)).date()
    seed.seed(conninfo_to_dict(url), environment="dev", today=today - timedelta(days=2), timezone=SEED_TIMEZONE)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO callback_requests (caller_name, callback_phone, message) "
            "VALUES ('Li Wei', '+15555550142', 'Wants to know about parking')"
        )
    yield url
    postgres_server.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


@pytest.fixture
def browser() -> Iterator[object]:
    require_os_package(CHROMIUM.exists(), "Debian package 'chromium' (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_FLAGS)
        yield chromium
        chromium.close()


def _screenshot(page, tmp_path: Path, name: str) -> None:
    page.screenshot(path=str(tmp_path / name))
    if target := os.environ.get("CONSOLE_SCREENSHOT_DIR"):
        page.screenshot(path=str(Path(target) / name))


def _idle(page) -> None:
    """Wait until no script run is in flight: a rerun's redraw closes an open dropdown."""
    from playwright.sync_api import expect

    expect(page.get_by_test_id("stStatusWidget")).to_have_count(0)
    page.wait_for_timeout(500)


def test_sign_in_see_todays_appointment_and_resolve_a_callback(browser, today_database: str, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    expect.set_options(timeout=WAIT_MS)

    with running_console(today_database) as url:
        page = browser.new_page(viewport={"width": 1280, "height": 1400})
        page.set_default_timeout(WAIT_MS)
        page.goto(url)
        page.get_by_label("User name").fill("alice")
        _screenshot(page, tmp_path, "console-sign-in.png")
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("heading", name="Today")).to_be_visible()
        expect(page.get_by_role("heading", name="Shifts")).to_be_visible()
        # The grid fills in over the WebSocket after the heading: wait for its first cell before the picture.
        page.locator("[data-testid=stDataFrame] [role=gridcell]").first.wait_for(state="attached")
        _screenshot(page, tmp_path, "console-today.png")

        _idle(page)
        page.get_by_label("Doctor", exact=True).focus()
        page.keyboard.type("Aisha Pat")
        page.get_by_role("option", name="Aisha Patel", exact=True).click()
        row = page.get_by_role("row").filter(has_text="10:00")
        expect(row).to_contain_text("booked by seed")

        page.get_by_role("link", name="Needs a person").click()
        expect(page.get_by_text("Li Wei · +15555550142")).to_be_visible()
        _screenshot(page, tmp_path, "console-queue.png")
        page.get_by_role("button", name="Resolve").click()
        expect(page.get_by_text("Nothing is waiting for a person.")).to_be_visible()

    with psycopg.connect(today_database) as conn:
        assert conn.execute("SELECT status FROM callback_requests").fetchone() == ("done",)
        assert conn.execute("SELECT resolved_by FROM follow_ups").fetchone() == ("staff:alice",)


class _LiveKitStandIn(http.server.BaseHTTPRequestHandler):
    """No LiveKit server here: record each request (the WebSocket upgrade and its token), answer 503."""

    requests: list[tuple[str, dict[str, str]]]

    def do_GET(self) -> None:
        self.requests.append((self.path, dict(self.headers)))
        self.send_response(503)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the test reads `requests`."""


@pytest.fixture
def livekit_stand_in() -> Iterator[tuple[str, list[tuple[str, dict[str, str]]]]]:
    handler = type("Recorder", (_LiveKitStandIn,), {"requests": []})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"ws://127.0.0.1:{server.server_port}", handler.requests
    server.shutdown()
    server.server_close()


def test_talk_page_loads_the_bundled_client_gets_a_microphone_and_tries_the_configured_server(
    browser, today_database: str, livekit_client: str, livekit_stand_in, tmp_path: Path
) -> None:
    """The client comes from the app (no other origin is asked for anything); the page takes the (fake)
    microphone first and only then connects (talk.js), so a connection attempt proves the microphone was granted;
    with no LiveKit server the page says it can't reach it."""
    from playwright.sync_api import expect

    expect.set_options(timeout=WAIT_MS)
    livekit_url, attempts = livekit_stand_in
    api_key, api_secret = f"API{secrets.token_hex(6)}", secrets.token_urlsafe(32)
    settings = {"LIVEKIT_URL": livekit_url, "LIVEKIT_API_KEY": api_key, "LIVEKIT_API_SECRET": api_secret}
    with running_console(today_database, **settings) as url:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.set_default_timeout(WAIT_MS)
        requested: list[tuple[str, str]] = []
        page.on("request", lambda request: requested.append((request.resource_type, request.url)))
        page.goto(url)
        page.get_by_label("User name").fill("alice")
        page.get_by_role("button", name="Sign in").click()
        page.get_by_role("link", name="Talk to the agent").click()
        expect(page.get_by_role("heading", name="Talk to the agent")).to_be_visible()
        page.get_by_role("button", name="Start a call").click()
        call = page.frame_locator("iframe").first
        expect(call.get_by_role("status")).to_contain_text(f"Can't reach the LiveKit server at {livekit_url}")
        _screenshot(page, tmp_path, "console-talk.png")

    assert ("script", f"{url}{talk.CLIENT_URL}") in requested
    scripts = {urlsplit(address).netloc for kind, address in requested if kind == "script"}
    assert scripts == {urlsplit(url).netloc}, scripts  # every script, the LiveKit client's included, from the app
    upgrades = [(path, headers) for path, headers in attempts if headers.get("Upgrade", "").lower() == "websocket"]
    assert upgrades, attempts
    token = parse_qs(urlsplit(upgrades[0][0]).query)["access_token"][0]
    claims = jwt.decode(token, api_secret, algorithms=["HS256"])
    assert claims["sub"] == "staff:alice"
    assert claims["video"]["room"].startswith(talk.ROOM_PREFIX)
    assert claims["roomConfig"]["agents"] == [{"agentName": "hospital-receptionist"}]
