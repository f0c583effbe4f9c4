"""The interactive API docs render in a real browser from the portal's own assets."""

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_swagger_ui_renders_without_leaving_the_portal(page, live_server):
    outside = []
    page.on("request", lambda request: None if request.url.startswith(live_server.url) else outside.append(request.url))
    page.goto(f"{live_server.url}/api/docs/")
    page.wait_for_selector(".opblock-summary-path", timeout=20_000)
    paths = page.locator(".opblock-summary-path").all_inner_texts()
    assert any("/api/models/" in path for path in paths)
    assert any("/api/tokens/" in path for path in paths)
    assert outside == []  # no CDN, no external fonts
