"""The HTML pages served outside Dash (sign-in, 403) are Jinja2 templates: hostile input stays text."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator

import pytest

from layouts.theme import BACKGROUND
from tests.integration.webclient import PASSWORDS, sign_in
from vocabulary.messages import LANGUAGES, text
from web import locale

HOSTILE = """/"'><script>alert(1)</script>{{7*7}}{% raw %}&amp;"""


def the_next_field(page: str) -> str:
    return html.unescape(re.search(r'name="next" value="([^"]*)"', page).group(1))


def test_a_hostile_next_stays_one_attribute_value(client_for) -> None:
    response = client_for("anonymous").get("/login", query_string={"next": HOSTILE})
    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "<script>alert(1)" not in page
    assert the_next_field(page) == HOSTILE  # quotes and markup kept as text, in the one attribute
    assert page.count("<input") == 4  # next, token, name, password: nothing injected


def test_a_hostile_next_posted_with_a_wrong_password_comes_back_escaped(client_for) -> None:
    client = client_for("anonymous")
    response = sign_in(client, "<script>alert('name')</script>", "not the password 1", HOSTILE)
    page = response.get_data(as_text=True)
    assert response.status_code == 200 and text("login.refused") in page
    assert "<script>" not in page and "alert('name')" not in page  # the name is never shown back
    assert the_next_field(page) == HOSTILE


def test_the_language_links_carry_next_encoded(client_for) -> None:
    page = client_for("anonymous").get("/login", query_string={"next": HOSTILE}).get_data(as_text=True)
    links = re.findall(r'<a href="(/lang/[^"]+)" lang="([^"]+)"', page)
    assert [code for _, code in links] == list(LANGUAGES)
    assert all("<" not in href and "'" not in href for href, _ in links)


@pytest.fixture
def hostile_city(web) -> Iterator[str]:
    """The city's name as a hostile city.toml would give it, for one test."""
    names = web.server.config[locale.CITY_NAMES]
    name = """<script>alert("city")</script> & 'quotes'"""
    web.server.config[locale.CITY_NAMES] = {language: name for language in LANGUAGES}
    yield name
    web.server.config[locale.CITY_NAMES] = names


def test_a_hostile_city_name_is_shown_as_text(client_for, hostile_city: str) -> None:
    page = client_for("anonymous").get("/login").get_data(as_text=True)
    assert "<script>" not in page
    assert html.unescape(re.search(r'<p class="city">([^<]*)</p>', page).group(1)) == hostile_city


@pytest.mark.parametrize("cookie", ["zh-CN", "en", """"><script>alert(1)</script>"""])
def test_the_403_page_is_in_the_visitors_language_and_takes_no_markup_from_the_cookie(client_for,
                                                                                      cookie: str) -> None:
    client = client_for("viewer")
    client.set_cookie(locale.LANGUAGE_COOKIE, cookie)
    response = client.get("/feeds")
    page = response.get_data(as_text=True)
    language = cookie if cookie in LANGUAGES else "en"
    assert response.status_code == 403 and response.content_type == "text/html; charset=utf-8"
    assert f'<html lang="{language}">' in page and "<script>" not in page
    assert f"<h1>{text('forbidden.title', language)}</h1>" in page
    assert text("forbidden.body", language) in page and text("forbidden.back", language) in page


def test_the_sign_in_page_keeps_its_token_no_store_and_security_headers(client_for) -> None:
    response = client_for("anonymous").get("/login")
    assert response.headers["Cache-Control"] == "no-store"
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert re.search(r'name="csrf_token" value="[A-Za-z0-9_-]{40,}"', response.get_data(as_text=True))
    assert sign_in(client_for("anonymous"), "viewer", PASSWORDS["viewer"]).status_code == 303


def test_the_pages_outside_dash_have_the_walls_background(client_for) -> None:
    assert f"background: {BACKGROUND};" in client_for("anonymous").get("/login").get_data(as_text=True)
    assert f"background:{BACKGROUND};" in client_for("viewer").get("/feeds").get_data(as_text=True)
