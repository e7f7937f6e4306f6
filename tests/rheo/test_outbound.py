"""The outbound HTTP seam: redirects re-checked, sizes bounded, errors of our own."""

import pytest
from django.test import override_settings

from rheo import outbound
from tests.webhooks.conftest import Receiver, Reply


@pytest.fixture
def server():
    r = Receiver()
    yield r
    r.close()


def post(url, **options):
    options.setdefault("timeout", 5)
    options.setdefault("max_body_bytes", 1024)
    return outbound.request("POST", url, body=b"{}", **options)


def test_a_redirect_is_followed_only_when_asked_and_each_target_is_checked(server):
    server.reply(Reply(302, headers={"Location": "/next"}))
    assert post(server.url()).status == 302  # not followed by default
    server.reply(Reply(307, headers={"Location": "/next"}), Reply(200, b"there"))
    response = post(server.url(), max_redirects=3)
    assert (response.status, response.body, response.url) == (200, b"there", server.url("/next"))

    server.reply(Reply(302, headers={"Location": "http://169.254.169.254/latest/meta-data"}))
    with pytest.raises(outbound.UnsafeURL):
        post(server.url(), max_redirects=3)


def test_too_many_redirects_return_the_last_redirect(server):
    server.reply(*[Reply(307, headers={"Location": "/again"})] * 3)
    assert post(server.url(), max_redirects=2).status == 307
    assert len(server.received) == 3


def test_a_body_over_the_limit_is_refused_or_cut(server):
    server.reply(Reply(200, b"x" * 5000), Reply(200, b"x" * 5000))
    with pytest.raises(outbound.OutboundError) as refused:
        post(server.url())
    assert refused.value.kind == "too_large"
    assert post(server.url(), truncate_body=True).body == b"x" * 1024


@override_settings(RHEO_ALLOW_LOCAL_URLS=False)
def test_local_addresses_are_refused_before_connecting(server):
    with pytest.raises(outbound.UnsafeURL):
        post(server.url())
    with pytest.raises(outbound.UnsafeURL):
        post(server.url().replace("http://127.0.0.1", "https://2130706433"))
    assert server.received == []
