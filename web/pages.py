"""The pages of the web app, as each declared itself in its layout module.

A page is a module in ``layouts/`` that calls ``dash.register_page`` with, besides Dash's own
arguments, the words this app reads back from ``dash.page_registry``:

- ``permission``: what a role needs to open the page (see :mod:`auth.roles`). A page that
  declares none, or a word that is no permission, opens to nobody (fail closed).
- ``id_prefix``: the prefix of every component id its callbacks write (``"feeds-"``). The
  guard runs a callback only for users who may open the page its output ids belong to.
- ``nav``: the message key of its link in the navigation (None: no link); links follow Dash's
  ``order``.

Adding a page is its layout module and its callbacks module: :mod:`web.guard` and the
navigation take everything else from here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import dash

from auth.roles import PERMISSIONS

# A page's permission when it declared none or an unknown word: no role has it.
NOBODY = "nobody"


class PageDeclarationError(ValueError):
    """Declared pages that cannot be judged safely (overlapping id prefixes, a path taken by another route)."""


@dataclass(frozen=True)
class Page:
    """One declared page: ``path`` as declared (``/dispatch`` or the template ``/district/<code>``)."""

    module: str
    path: str
    pattern: re.Pattern[str]  # the paths Dash renders this page for (whole path, no trailing slash)
    permission: str  # one of auth.roles.PERMISSIONS, or NOBODY
    id_prefix: str | None
    nav: str | None


def path_pattern(path: str, template: bool) -> re.Pattern[str]:
    """The paths Dash's router renders a page for: the path itself, or each ``<variable>`` of a template as
    any text (Dash matches templates with shell wildcards, which match "/" too)."""
    stripped = "/" + path.strip("/")
    if not template:
        return re.compile(re.escape(stripped))
    parts = re.split(r"<[^>]*>", stripped)
    return re.compile(".*".join(re.escape(part) for part in parts))


def _page(entry: dict) -> Page:
    template = entry.get("path_template")
    permission = entry.get("permission")
    return Page(
        module=str(entry["module"]),
        path=template or entry["path"],
        pattern=path_pattern(template or entry["path"], template=bool(template)),
        permission=permission if permission in PERMISSIONS else NOBODY,
        id_prefix=entry.get("id_prefix") or None,
        nav=entry.get("nav") or None,
    )


_WORDS = ("module", "path", "path_template", "permission", "id_prefix", "nav")
_read: tuple[tuple, list[Page]] = ((), [])  # the registry's words as last read, and its pages


def declared() -> list[Page]:
    """Every page in ``dash.page_registry``, in Dash's order (the order Dash's router tries them in).

    The guard asks for every request (each callback's outputs name their pages): the pages are
    read again only when the registry's words changed, not compiled anew each time."""
    global _read
    words = tuple(tuple(entry.get(word) for word in _WORDS) for entry in dash.page_registry.values())
    held_words, held_pages = _read
    if words != held_words:
        held_pages = [_page(entry) for entry in dash.page_registry.values()]
        _read = (words, held_pages)
    return list(held_pages)


def problems(pages: list[Page], reserved: tuple[str, ...]) -> list[str]:
    """What makes ``pages`` unsafe to judge: an id prefix that overlaps another (or a ``reserved`` one: the
    shell's, Dash's router's), a navigation link on a template. Empty when all is well."""
    found = []
    prefixes = [(page.id_prefix, page.module) for page in pages if page.id_prefix]
    named = [*prefixes, *((prefix, "(reserved)") for prefix in reserved)]
    for prefix, module in prefixes:
        for other, other_module in named:
            if other_module != module and (other.startswith(prefix) or prefix.startswith(other)):
                found.append(f"{module}: id prefix {prefix!r} overlaps {other!r} of {other_module}")
    found += [f"{page.module}: a navigation link needs a fixed path, not {page.path!r}"
              for page in pages if page.nav and "<" in page.path]
    return found
