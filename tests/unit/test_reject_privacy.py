"""Rejected messages are stored for diagnosis with reporters' phone numbers masked: the attack is a
valid-looking event that the ingest refuses (unknown category, bad phone, not JSON, oversize…)
so that its full number lands in ``rejects`` and on ``/feeds``."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from incidents.privacy import mask_personal, mask_personal_text, mask_phones_in_text
from ingest.parse import IngestContext, Parsed, parse_message

NOW = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)
TS = "2024-06-01T11:59:00Z"
INSIDE = (10.005, 50.004)
EVENTS = "cityops/toy/events"
READINGS = "cityops/toy/readings/AQ-1"
PHONE = "13812345678"


def box_locate(lon: np.ndarray, lat: np.ndarray) -> list[dict[str, str] | None]:
    return [{"block": "A1"} if 10.0 <= x <= 10.028 and 50.0 <= y <= 50.018 else None
            for x, y in zip(lon.tolist(), lat.tolist(), strict=True)]


CTX = IngestContext(city_id="toy", sensors={"AQ-1": INSIDE}, categories=frozenset({"waterlogging"}),
                    locate=box_locate, retention=timedelta(days=30))


def event(**changes: object) -> dict[str, object]:
    return {"id": "hotline-20240601-000123", "ts": TS, "source": "hotline", "category": "waterlogging",
            "severity": "major", "lon": INSIDE[0], "lat": INSIDE[1], "title": "Flooded underpass",
            "reporter_phone": PHONE, **changes}


def parse(topic: str, payload: object, ctx: IngestContext = CTX) -> Parsed:
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return parse_message(topic, raw, NOW, ctx)


def only_reject(parsed: Parsed) -> tuple[str, str]:
    assert not parsed.events and not parsed.readings and len(parsed.rejects) == 1, parsed
    return parsed.rejects[0].reason, parsed.rejects[0].payload


def holds_number(text: str, phone: str = PHONE) -> bool:
    """Whether ``text`` shows the whole number, however it is split or spaced."""
    return re.sub(r"[ ()\-+]", "", text).find(re.sub(r"\D", "", phone)) >= 0


def test_an_event_rejected_for_its_category_is_stored_with_the_phone_masked() -> None:
    reason, payload = only_reject(parse(EVENTS, event(category="no_such_category")))
    assert reason == "unknown category: no_such_category"
    assert not holds_number(payload)
    stored = json.loads(payload)
    assert stored["reporter_phone"] == "138****5678"
    # What an operator needs to find the message stays as sent.
    assert stored["id"] == "hotline-20240601-000123" and stored["ts"] == TS and stored["category"] == "no_such_category"


@pytest.mark.parametrize("phone", ["+86 138 1234 5678", "(212) 555-0100", "+1-212-555-0100", "138-1234-5678"])
def test_phones_written_any_usual_way_are_masked(phone: str) -> None:
    _, payload = only_reject(parse(EVENTS, event(category="nope", reporter_phone=phone)))
    assert not holds_number(payload, phone)


def test_a_reject_without_personal_data_keeps_the_bytes_as_sent() -> None:
    raw = b'{"id":"e-1",  "ts":"2024-06-01T11:59:00Z","source":"hotline","category":"nope"}'
    _, payload = only_reject(parse(EVENTS, raw))
    assert payload == raw.decode()


def test_a_phone_in_a_nested_or_renamed_field_is_masked() -> None:
    body = event(category="nope", extra={"caller": {"mobile": 13812345678, "note": f"call back on {PHONE}"}},
                 contact=[{"phone_number": PHONE}])
    _, payload = only_reject(parse(EVENTS, body))
    assert not holds_number(payload)
    stored = json.loads(payload)
    assert stored["extra"]["caller"]["mobile"] == "138****5678"
    assert stored["contact"][0]["phone_number"] == "138****5678"


def test_a_phone_in_the_title_or_detail_is_masked_and_dates_are_kept() -> None:
    body = event(category="nope", title=f"Caller {PHONE} reports water", detail="since 2024-06-01 11:30")
    _, payload = only_reject(parse(EVENTS, body))
    stored = json.loads(payload)
    assert stored["title"] == "Caller 138****5678 reports water" and stored["detail"] == "since 2024-06-01 11:30"


def test_digits_hidden_as_json_escapes_are_masked() -> None:
    escaped = "".join(f"\\u{ord(digit):04x}" for digit in PHONE)
    raw = json.dumps(event(category="nope", reporter_phone="X")).replace('"X"', f'"{escaped}"').encode()
    _, payload = only_reject(parse(EVENTS, raw))
    assert not holds_number(payload) and "\\u0031" not in payload


def test_a_phone_in_a_payload_that_is_not_json_is_masked() -> None:
    cut = json.dumps(event()).encode()[:-1] + b', "detail": "Water over the ker'  # cut short: not JSON
    reason, payload = only_reject(parse(EVENTS, cut))
    assert reason.startswith("not json") and PHONE[:3] in payload and not holds_number(payload)
    reason, payload = only_reject(parse(EVENTS, b'{"reporter_phone": "13812345678'))  # cut inside the number
    assert not holds_number(payload)


def test_a_phone_in_a_payload_that_is_not_utf8_is_masked() -> None:
    raw = json.dumps(event(category="nope")).encode() + b"\xff\xfe"
    reason, payload = only_reject(parse(EVENTS, raw))
    assert reason == "not utf-8" and not holds_number(payload)


def test_a_phone_in_an_oversize_payload_is_masked() -> None:
    raw = json.dumps(event(detail="x" * (70 * 1024))).encode()
    reason, payload = only_reject(parse(EVENTS, raw))
    assert reason.startswith("oversize") and not holds_number(payload) and len(payload) <= 2048


def test_a_bad_phone_is_not_quoted_whole_in_the_reason() -> None:
    reason, payload = only_reject(parse(EVENTS, event(reporter_phone=f"{PHONE} ext. #12")))
    assert reason.startswith("bad phone") and not holds_number(reason) and not holds_number(payload)


def test_a_bad_record_of_a_batch_is_stored_with_its_phone_masked() -> None:
    batch = [{"ts": TS, "values": {"pm25": 1}}, {"ts": "yesterday", "values": {"pm25": 2}, "reporter_phone": PHONE}]
    parsed = parse(READINGS, batch)
    assert len(parsed.readings) == 1 and len(parsed.rejects) == 1
    assert not holds_number(parsed.rejects[0].payload)


def test_masking_json_says_whether_anything_was_masked() -> None:
    clean = {"ts": 1717243140, "values": {"pm25": 1234567.0}, "id": "20240601123456"}
    assert mask_personal(clean) == (clean, False)  # numbers and ids are not phones
    masked, changed = mask_personal({"reporter_phone": None, "reporterPhone": "abc"})
    assert changed and masked == {"reporter_phone": None, "reporterPhone": "****"}


def test_masking_raw_text_finds_personal_fields_and_phone_like_runs() -> None:
    assert mask_personal_text('{"reporter_phone": "138 1234 5678", "x') == '{"reporter_phone": "138****5678", "x'
    assert mask_personal_text('"phone":13812345678,') == '"phone":"138****5678",'
    assert mask_phones_in_text("room 12, 2024-06-01, tel 021-5555-0100") == "room 12, 2024-06-01, tel 021****0100"
