"""Signing in with Hugging Face in a Space (issue "Trust"): the launched app, with the variables a
Space with ``hf_oauth: true`` sets, binds the page's profile to the signed-in account.

The hub's OAuth dance itself cannot run here (no network); what follows it is real: the session
cookie Gradio's callback leaves, read by Gradio's SessionMiddleware and passed to the page's load
event as a ``gr.OAuthProfile``."""

from __future__ import annotations

import base64
import hashlib
import json
import time
import uuid

import gradio.http_server
import gradio.oauth
import httpx
import itsdangerous
import pytest

from remote_clients import launched_app

pytestmark = pytest.mark.slow
SECRET = "test-oauth-secret"


@pytest.fixture(scope="module")
def space_app(tmp_path_factory, model_cache, encoder, catalog_writer):
    catalog = catalog_writer(tmp_path_factory.mktemp("space-catalog"))
    with pytest.MonkeyPatch.context() as patch:
        # what the Space runtime sets, and what `hf_oauth: true` adds (gradio.oauth reads those at import)
        for name, value in {
            "SYSTEM": "spaces",
            "SPACE_ID": "someone/shop",
            "SPACE_HOST": "someone-shop.hf.space",
        }.items():
            patch.setenv(name, value)
        patch.setenv("OAUTH_CLIENT_ID", "test-client")
        for name, value in {
            "OAUTH_CLIENT_ID": "test-client",
            "OAUTH_CLIENT_SECRET": SECRET,
            "OAUTH_SCOPES": "openid profile",
            "OPENID_PROVIDER_URL": "https://huggingface.co",
        }.items():
            patch.setattr(gradio.oauth, name, value)
        # Spaces' hot reloader needs the `spaces` package, which a real Space has and this machine does not
        patch.setattr(gradio.http_server, "watchfn_spaces", lambda reloader: None)
        home = tmp_path_factory.mktemp("space-home")
        with launched_app(catalog, home, model_cache, 10) as (url, demo, app):
            assert app.settings.hf_login_in_effect and app.settings.tokens_required
            yield url, demo, app


def signed_in_cookie(username: str) -> str:
    """The session cookie Gradio's OAuth callback leaves (Starlette's SessionMiddleware: base64
    JSON signed with itsdangerous, with the key gradio/oauth.py derives from the client secret)."""
    info = {
        "access_token": "hf_test",
        "expires_at": int(time.time()) + 3600,
        "userinfo": {"name": username.title(), "preferred_username": username, "profile": "", "picture": ""},
    }
    key = hashlib.sha256((SECRET + "-v4").encode()).hexdigest()
    data = base64.b64encode(json.dumps({"oauth_info": info}).encode())
    return "session=" + itsdangerous.TimestampSigner(key).sign(data).decode()


def load_page(url: str, demo, cookie: str | None) -> list:
    """The page's load event over Gradio's queue protocol, as a browser tab sends it."""
    fn = next(f for f in demo.fns.values() if any(target == demo._id for target, _ in f.targets))
    session_hash = uuid.uuid4().hex[:11]
    headers = {"Cookie": cookie} if cookie else {}
    with httpx.Client(base_url=url, timeout=60, headers=headers) as http:
        body = {"data": [""], "fn_index": fn._id, "trigger_id": None, "session_hash": session_hash}
        http.post("/gradio_api/queue/join", json=body).raise_for_status()
        with http.stream("GET", "/gradio_api/queue/data", params={"session_hash": session_hash}) as stream:
            for line in stream.iter_lines():
                message = json.loads(line[5:]) if line.startswith("data:") else {}
                if message.get("msg") == "process_completed":
                    assert message["success"], message
                    return message["output"]["data"]
    raise AssertionError("the load event did not complete")


def test_signing_in_with_hugging_face_binds_the_page_profile_to_the_account(space_app):
    url, demo, app = space_app
    config = httpx.get(f"{url}/config", timeout=30).json()
    login = [c for c in config["components"] if c.get("props", {}).get("elem_id") == "hf-login"]
    assert login and "Sign in with Hugging Face" in login[0]["props"]["value"], login
    app.engine.like("hf:abidlabs", "oak-chair")
    signed_in = load_page(url, demo, signed_in_cookie("abidlabs"))
    title = app.engine.get_item("oak-chair").title
    assert "`hf:abidlabs` · 1 liked" in signed_in[3] and [i["caption"] for i in signed_in[4]] == [title]
    anonymous = load_page(url, demo, None)
    assert "`guest-" in anonymous[3] and "hf:abidlabs" not in json.dumps(anonymous)
    assert app.start("hf:abidlabs").user_id.startswith("guest-")  # a remembered account id: not without signing in


def test_a_space_answers_to_its_own_host_and_requires_tokens(space_app):
    url, _, app = space_app
    assert httpx.get(url, headers={"Host": "someone-shop.hf.space"}, timeout=30).status_code == 200
    assert httpx.get(url, headers={"Host": "attacker.example"}, timeout=30).status_code == 400
    assert app.access.required
