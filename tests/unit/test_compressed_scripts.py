"""web/compressed.py: the scripts' compressed bytes are kept; nothing computed for a request is."""

from __future__ import annotations

import flask
import pytest

from web.compressed import CompressedScripts, accepted_only, cache_key

_APP = flask.Flask(__name__)


def _key(url: str, method: str = "GET") -> str:
    with _APP.test_request_context(url, method=method):
        return cache_key(flask.request)


@pytest.mark.parametrize("url", [
    "/_dash-component-suites/plotly/package_data/plotly.v7_1_0m1796576881.min.js",
    "/_dash-component-suites/dash/dcc/dash_core_components.v4_1_0m1796576893.js",
    "/assets/command_view.js?m=1796576800.462215",
])
def test_a_script_is_kept_under_its_url_with_its_version(url: str) -> None:
    assert _key(url) == url


def test_a_made_up_query_does_not_make_another_copy_of_a_package_script() -> None:
    url = "/_dash-component-suites/plotly/package_data/plotly.min.js"
    assert _key(url + "?x=1") == _key(url + "?x=2") == url
    assert _key("/assets/a.js?m=1&x=2") == "/assets/a.js?m=1"


@pytest.mark.parametrize(("url", "method"), [
    ("/_dash-update-component", "POST"),  # a callback's answer: computed for this user, now
    ("/api/v1/vitals", "GET"),
    ("/dispatch", "GET"),
    ("/assets/command_view.js", "GET"),  # no version in its URL: the file may change under it
    ("/_dash-component-suites/dash/dcc/dash_core_components.js", "POST"),
])
def test_nothing_else_is_kept(url: str, method: str) -> None:
    assert _key(url, method) == ""


def test_the_cache_keeps_scripts_only_and_within_its_bound() -> None:
    cache = CompressedScripts(kept_bytes=10)
    cache.set("br;", b"an answer for one user")
    assert cache.get("br;") is None
    cache.set("br;/a.js?m=1", b"12345678")
    cache.set("gzip;/a.js?m=1", b"12345678")  # over the bound: compressed again next time, never wrong
    assert cache.get("br;/a.js?m=1") == b"12345678" and cache.get("gzip;/a.js?m=1") is None


@pytest.mark.parametrize(("header", "accepted"), [
    ("gzip, deflate, br, zstd", "gzip;q=1, deflate;q=1, br;q=1, zstd;q=1"),  # Chromium's: all of it
    ("br;q=1, gzip;q=0.5", "br;q=1, gzip;q=0.5"),
    ("gzip;q=0", ""),  # refused: Flask-Compress would gzip anyway
    ("identity;q=0, gzip", "gzip;q=1"),
    ("gzip;q=banana", ""), ("gzip;q=-1", ""), ("gzip;q=1.5", ""),  # no quality: not accepted
    ("", ""), (",,,;;;", ""),
])
def test_an_encoding_refused_or_stated_wrongly_is_not_used(header: str, accepted: str) -> None:
    assert accepted_only(header) == accepted


def test_a_huge_accept_encoding_is_read_without_trouble() -> None:
    assert accepted_only("x;q=0.5, " * 20_000).startswith("x;q=0.5")
