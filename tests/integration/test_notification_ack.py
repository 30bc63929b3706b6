"""The acknowledgement link ``/ack/<token>`` attacked: forged, reused, expired, another
notification's, hostile paths, GET versus POST. The web app is the real one (the guard, the
hardening, the route) on real PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

import store
import store.notifications as notify_store
from auth import accounts
from notifications import ack
from notifications.messages import Notice
from notifications.worker import notice_to_json
from tests.integration.webclient import SECRET


def notification(db, *, created: datetime, title: str = "Greenpoint: gas red", people=("wang.li",),
                 language: str = "en") -> list[str]:
    """A notification with a delivery per person (never sent: only its links matter); their tokens."""
    notice = Notice(cause="vitals:nta:gas", severity="critical", at=created,
                    title={"en": title, "zh-CN": "绿点：燃气红色"})
    expires = created + ack.VALID_FOR
    deliveries = tuple(notify_store.NewDelivery(0, person, "mail", language, created + timedelta(days=365))
                       for person in people)
    [number] = notify_store.raise_notifications(
        db, [notify_store.NewNotification("gas-red", notice.cause, notice.severity, notice_to_json(notice),
                                          (f"test:{created.isoformat()}:{title}",), deliveries)],
        created, expires, lambda delivery_id, until: ack.token_hash(ack.make_token(SECRET, delivery_id, until)))
    with db.cursor() as cur:
        cur.execute("SELECT id FROM notification_deliveries WHERE notification_id = %s ORDER BY id", (number,))
        ids = [row[0] for row in cur.fetchall()]
    db.commit()
    return [ack.make_token(SECRET, delivery_id, expires) for delivery_id in ids]


def acknowledged(db) -> list[tuple]:
    with db.cursor() as cur:
        cur.execute("SELECT id, acknowledged_by FROM notifications WHERE acknowledged_at IS NOT NULL ORDER BY id")
        rows = cur.fetchall()
    db.commit()
    return rows


@pytest.fixture
def client(web, db):
    return web.server.test_client()  # nobody signed in


def test_a_get_only_asks_and_the_post_acknowledges_once(db, client) -> None:
    [token] = notification(db, created=datetime.now(UTC))
    page = client.get(f"/ack/{token}")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert 'method="post"' in body and "Greenpoint: gas red" in body
    assert page.headers["Cache-Control"] == "no-store" and page.headers["Referrer-Policy"] == "no-referrer"
    assert client.head(f"/ack/{token}").status_code == 200  # a scanner's HEAD changes nothing either
    assert acknowledged(db) == []
    assert client.post(f"/ack/{token}").status_code == 200
    assert [who for _, who in acknowledged(db)] == ["wang.li"]
    again = client.post(f"/ack/{token}")
    assert again.status_code == 409 and "used already" in again.get_data(as_text=True)
    assert client.get(f"/ack/{token}").status_code == 409
    assert len(store.read_audit(db, action="notify.ack")) == 1


def test_a_hostile_title_is_shown_as_text(db, client) -> None:
    [token] = notification(db, created=datetime.now(UTC), title='<script>alert(1)</script><img src=x onerror="x()">')
    body = client.get(f"/ack/{token}").get_data(as_text=True)
    assert "<script>alert" not in body and "<img" not in body and "&lt;script&gt;alert(1)" in body


def test_a_second_recipient_sees_who_acknowledged_first(db, client) -> None:
    first, second = notification(db, created=datetime.now(UTC), people=("wang.li", "ann.lee"))
    assert client.post(f"/ack/{first}").status_code == 200
    page = client.get(f"/ack/{second}")
    assert page.status_code == 200 and "Already acknowledged by wang.li" in page.get_data(as_text=True)
    assert 'method="post"' not in page.get_data(as_text=True)
    assert client.post(f"/ack/{second}").status_code == 200
    assert [who for _, who in acknowledged(db)] == ["wang.li"]  # the first stays the one


def test_a_forged_or_altered_token_does_nothing(db, client) -> None:
    [token] = notification(db, created=datetime.now(UTC))
    delivery_id, expires, signature = token.split(".")
    forged = [
        ack.make_token("another-key-entirely-0123456789abcdef", int(delivery_id), datetime.now(UTC) + ack.VALID_FOR),
        f"{delivery_id}.{int(expires) + 3600}.{signature}",  # a longer life
        f"{delivery_id}.{expires}.{signature[:-1]}{'A' if signature[-1] != 'A' else 'B'}",
        f"{delivery_id}.{expires}",
    ]
    for number, candidate in enumerate(forged):  # each from its own address: no throttle reached here
        address = {"REMOTE_ADDR": f"192.0.2.{number + 1}"}
        assert client.get(f"/ack/{candidate}", environ_base=address).status_code == 404
        assert client.post(f"/ack/{candidate}", environ_base=address).status_code == 404
    assert acknowledged(db) == []


def test_a_token_of_another_notification_acknowledges_only_its_own(db, client) -> None:
    [mine] = notification(db, created=datetime.now(UTC), title="one")
    [theirs] = notification(db, created=datetime.now(UTC), title="two")
    other_id = theirs.split(".")[0]
    _, expires, signature = mine.split(".")
    assert client.post(f"/ack/{other_id}.{expires}.{signature}").status_code == 404  # my signature, their number
    assert client.post(f"/ack/{mine}").status_code == 200
    [(number, _)] = acknowledged(db)
    with db.cursor() as cur:
        cur.execute("SELECT notice->'title'->>'en' FROM notifications WHERE id = %s", (number,))
        assert cur.fetchone()[0] == "one"
    db.commit()


def test_an_expired_link_says_so_and_does_nothing(db, client) -> None:
    [token] = notification(db, created=datetime.now(UTC) - ack.VALID_FOR - timedelta(minutes=1), language="zh-CN")
    for response in (client.get(f"/ack/{token}"), client.post(f"/ack/{token}")):
        assert response.status_code == 410 and "已过期" in response.get_data(as_text=True)
    assert acknowledged(db) == []


@pytest.mark.parametrize("path", [
    "/ack/%3Cscript%3Ealert(1)%3C%2Fscript%3E", "/ack/..%2F..%2Fetc%2Fpasswd", "/ack/" + "9" * 5000,
    "/ack/1.9999999999.%00%00", "/ack/%F0%9F%92%A3", "/ack/1.2.3'%20OR%201=1--", "/ack/0.0000000000." + "A" * 43,
])
def test_hostile_paths_are_refused_without_echo(db, client, path) -> None:
    for response in (client.get(path), client.post(path)):
        # 404; or, where an encoded slash makes it a path below /ack/, the guard's sign-in redirect
        assert response.status_code == (302 if "%2F" in path else 404)
        body = response.get_data(as_text=True)
        assert "<script>" not in body and "OR 1=1" not in body  # nothing of the path comes back as markup
    assert acknowledged(db) == []


def test_other_methods_are_not_allowed(db, client) -> None:
    [token] = notification(db, created=datetime.now(UTC))
    for method in ("put", "delete", "patch"):
        assert getattr(client, method)(f"/ack/{token}").status_code == 405
    assert acknowledged(db) == []


def test_the_guard_lets_only_the_ack_route_through_unsigned(client) -> None:
    from web.guard import rule_for

    assert rule_for("/ack/anything", "POST").permission is None
    assert rule_for("/ack/a/b").permission is not None  # nothing below it opens
    assert client.get("/ack").status_code == 302  # not the route: a page, sign in first


def test_many_forged_links_from_one_address_are_throttled_and_logged(db, client, caplog) -> None:
    [token] = notification(db, created=datetime.now(UTC))
    delivery_id, expires, signature = token.split(".")
    guesser = {"REMOTE_ADDR": "198.51.100.7"}
    answers = []
    for number in range(accounts.FREE_FAILURES_PER_NAME + 3):
        guess = f"{delivery_id}.{expires}.{signature[:-2]}{number:02d}"
        answers.append(client.post(f"/ack/{guess}", environ_base=guesser))
    codes = [answer.status_code for answer in answers]
    assert codes[:accounts.FREE_FAILURES_PER_NAME] == [404] * accounts.FREE_FAILURES_PER_NAME
    assert set(codes[accounts.FREE_FAILURES_PER_NAME:]) == {429}
    refused = answers[-1]
    assert int(refused.headers["Retry-After"]) > 0 and "Too many links" in refused.get_data(as_text=True)
    # While delayed, even the genuine link waits from that address (its token is not even read)...
    assert client.get(f"/ack/{token}", environ_base=guesser).status_code == 429
    # ... and works from any other: the delay is the guesser's alone.
    assert client.post(f"/ack/{token}", environ_base={"REMOTE_ADDR": "203.0.113.5"}).status_code == 200
    assert [who for _, who in acknowledged(db)] == ["wang.li"]
    with db.cursor() as cur:  # every try is recorded where sign-in tries are (an admin sees and may unlock it)
        cur.execute("SELECT outcome, count(*) FROM login_attempts WHERE name = %s AND address = %s GROUP BY 1",
                    (accounts.ACK_LINKS, "198.51.100.7"))
        assert dict(cur.fetchall()) == {"failure": accounts.FREE_FAILURES_PER_NAME, "throttled": 4}
    db.commit()
    assert "acknowledgement link refused from 198.51.100.7" in caplog.text
    assert accounts.throttles(db, now=datetime.now(UTC), name=accounts.ACK_LINKS, address="198.51.100.7")


def test_genuine_links_never_count_toward_the_throttle(db, client) -> None:
    tokens = notification(db, created=datetime.now(UTC), people=tuple(f"p{n}" for n in range(8)))
    for token in tokens:  # eight people of one office behind one address, each opening and using a link
        assert client.get(f"/ack/{token}").status_code == 200
        assert client.post(f"/ack/{token}").status_code == 200
    assert accounts.throttles(db, now=datetime.now(UTC), address="127.0.0.1") == []
