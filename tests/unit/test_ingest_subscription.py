"""Which subscription and client id an ingest worker uses: one host, N workers, N hosts (issue 19)."""

from __future__ import annotations

from ingest.service import SHARE_GROUP, IngestOptions, stale_filters, topic_filter

OPTIONS = dict(city="nyc", database_url="postgresql://x", mqtt_url="mqtt://x")


def test_one_worker_subscribes_plainly_and_several_share() -> None:
    assert topic_filter("nyc", 1) == "cityops/nyc/#"
    assert topic_filter("nyc", 3) == f"$share/{SHARE_GROUP}/cityops/nyc/#"


def test_a_share_group_makes_even_one_worker_a_member() -> None:
    assert topic_filter("nyc", 1, "hosts") == "$share/hosts/cityops/nyc/#"
    assert topic_filter("nyc", 4, "hosts") == "$share/hosts/cityops/nyc/#"


def test_the_other_modes_subscriptions_are_dropped_but_never_the_current_one() -> None:
    for current in (topic_filter("nyc", 1), topic_filter("nyc", 2), topic_filter("nyc", 1, "hosts")):
        stale = stale_filters("nyc", current)
        assert current not in stale
        assert set(stale) | {current} >= {"cityops/nyc/#", f"$share/{SHARE_GROUP}/cityops/nyc/#"}


def test_worker_ids_carry_the_ingest_name_so_hosts_never_share_a_session() -> None:
    assert IngestOptions(**OPTIONS).worker_id("nyc", 0) == "nyc-0"  # as before issue 19: sessions kept
    alpha, bravo = IngestOptions(**OPTIONS, name="alpha"), IngestOptions(**OPTIONS, name="bravo")
    assert alpha.worker_id("nyc", 0) == "nyc-alpha-0"
    assert alpha.worker_id("nyc", 0) != bravo.worker_id("nyc", 0)
