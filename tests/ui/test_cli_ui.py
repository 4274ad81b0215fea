"""``datamill ui`` as a real process: localhost needs no token; any other address gets one, printed once."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.ui.conftest import ARTIFACTS, started_ui

pytest.importorskip("fastapi")


def _project(folder: Path) -> Path:
    (folder / "datamill.yaml").write_text("name: tiny\nstorage: lakehouse:./warehouse\n", encoding="utf-8")
    return folder


def test_beyond_localhost_a_token_is_generated_and_required(tmp_path: Path) -> None:
    with started_ui(_project(tmp_path), "--host", "0.0.0.0", log=ARTIFACTS / "ui-token.log") as ui:
        assert ui.token and len(ui.token) >= 20
        url = ui.url.replace("0.0.0.0", "127.0.0.1")
        assert httpx.get(url + "/").status_code == 401
        assert httpx.get(url + "/", headers={"authorization": "Bearer nope"}).status_code == 401
        assert httpx.get(url + "/?token=nope").status_code == 401
        ok = httpx.get(url + "/", headers={"authorization": f"Bearer {ui.token}"})
        assert ok.status_code == 200 and "tiny" in ok.text
        once = httpx.get(url + f"/datasets?token={ui.token}")
        assert once.status_code == 303 and "HttpOnly" in once.headers["set-cookie"]
        with httpx.Client(base_url=url) as browser:  # follows the redirect with the cookie, as a browser does
            assert browser.get(f"/runs?token={ui.token}", follow_redirects=True).status_code == 200
            assert browser.get("/models").status_code == 200
    log = ui.output.read_text(encoding="utf-8")
    assert log.count(ui.token) == 1  # printed once, to open the UI; never in a request log


def test_a_given_token_is_required_even_on_localhost_and_never_printed(tmp_path: Path) -> None:
    with started_ui(_project(tmp_path), "--token", "my-own-token-123", log=ARTIFACTS / "ui-given.log") as ui:
        assert httpx.get(ui.url + "/").status_code == 401
        assert httpx.get(ui.url + "/", headers={"authorization": "Bearer my-own-token-123"}).status_code == 200
    assert "my-own-token-123" not in ui.output.read_text(encoding="utf-8")


def test_localhost_needs_no_token(tmp_path: Path) -> None:
    with started_ui(_project(tmp_path), log=ARTIFACTS / "ui-local.log") as ui:
        assert ui.token is None
        page = httpx.get(ui.url + "/")
        assert page.status_code == 200 and "no run yet" in page.text
