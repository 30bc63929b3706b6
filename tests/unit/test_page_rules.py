"""The rules the guard makes of declared pages (web.pages, web.guard.check_pages): pure, no app."""

from __future__ import annotations

from fnmatch import fnmatch
from types import SimpleNamespace

import pytest

from auth.roles import ROLES
from web import guard
from web.pages import NOBODY, Page, PageDeclarationError, path_pattern


def page(path: str, prefix: str | None = None, *, nav: str | None = None, module: str = "layouts.x",
         permission: str = "view") -> Page:
    return Page(module, path, path_pattern(path, template="<" in path), permission, prefix, nav)


@pytest.mark.parametrize("path", ["/district/BK", "/district/a/b", "/district/", "/district", "/districts/BK",
                                  "/x/district/BK", "/district/<code>"])
def test_a_template_matches_what_dashs_router_renders_it_for(path: str) -> None:
    # Dash strips slashes and matches a template with fnmatch, "<code>" becoming "*".
    dash_renders = fnmatch(path.strip("/"), "district/*")
    assert bool(path_pattern("/district/<code>", template=True).fullmatch(guard.normalise(path))) == dash_renders


def test_a_fixed_path_matches_itself_only() -> None:
    pattern = path_pattern("/a.b", template=False)
    assert pattern.fullmatch("/a.b") and not pattern.fullmatch("/axb") and not pattern.fullmatch("/a.b/c")


@pytest.mark.parametrize("declared", [
    [page("/a", "thing-", module="layouts.a"), page("/b", "thing-x-", module="layouts.b")],
    [page("/a", "thing-", module="layouts.a"), page("/b", "thing-", module="layouts.b")],
    [page("/a", "shell-x-")],
    [page("/a", "_pages")],
    [page("/metrics", "m-")],
    [page("/login", "l-")],
    [page("/api/v1/things", "t-")],
    [page("/reports/print", "r-")],
    [page("/_dash-layout", "d-")],
    [page("/thing/<code>", "t-", nav="nav.audit")],
], ids=["prefix inside another", "same prefix", "shell prefix", "router prefix", "metrics", "login", "api",
        "print route", "dash route", "link to a template"])
def test_pages_the_guard_could_not_judge_safely_stop_the_app(declared: list[Page]) -> None:
    with pytest.raises(PageDeclarationError):
        guard.check_pages(declared)


def test_distinct_pages_pass_and_a_page_without_permission_is_logged(caplog) -> None:
    guard.check_pages([page("/", "command-"), page("/district/<code>", "district-"),
                       page("/secret", "secret-", permission=NOBODY)])
    assert "opens to nobody" in caplog.text


def test_a_rule_needing_nobody_passes_no_role() -> None:
    rule = guard.page_rule(page("/secret", permission=NOBODY))
    assert not guard.permits(None, rule)
    for role in ROLES:
        assert not guard.permits(SimpleNamespace(role=role), rule), role  # type: ignore[arg-type]
    assert guard.permits(SimpleNamespace(role="viewer"), guard.page_rule(page("/open")))  # type: ignore[arg-type]
