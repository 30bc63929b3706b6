"""Settings come from the environment over an optional .env file."""

from __future__ import annotations

from pathlib import Path

import pytest

from cityops.settings import Settings, read_dotenv


def test_default_city_is_nyc(tmp_path: Path) -> None:
    assert Settings.from_environment({}, tmp_path / "absent.env").city == "nyc"


def test_environment_wins_over_dotenv(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text("# comment\n\nexport CITYOPS_CITY='shanghai'\n", encoding="utf-8")
    assert Settings.from_environment({}, dotenv).city == "shanghai"
    assert Settings.from_environment({"CITYOPS_CITY": "nyc"}, dotenv).city == "nyc"


def test_dotenv_quotes_are_stripped_and_equals_signs_kept(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text('A="x=y"\nB=plain\n', encoding="utf-8")
    assert read_dotenv(dotenv) == {"A": "x=y", "B": "plain"}


@pytest.mark.parametrize("line", ["no equals sign", "1BAD=x", "=value"])
def test_malformed_dotenv_line_names_file_and_line(tmp_path: Path, line: str) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text(f"OK=1\n{line}\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"\.env:2: expected KEY=VALUE"):
        read_dotenv(dotenv)


def test_secret_key_and_admin_password_come_from_the_environment(tmp_path: Path) -> None:
    settings = Settings.from_environment(
        {"CITYOPS_SECRET_KEY": "k" * 32, "CITYOPS_ADMIN_PASSWORD": "correct horse battery"}, tmp_path / "absent.env"
    )
    assert settings.secret_key == "k" * 32
    assert settings.admin_password == "correct horse battery"


def test_secret_key_and_admin_password_default_to_none(tmp_path: Path) -> None:
    settings = Settings.from_environment({"CITYOPS_SECRET_KEY": ""}, tmp_path / "absent.env")
    assert settings.secret_key is None and settings.admin_password is None


def test_time_zone_override_and_trusted_proxies_come_from_the_environment(tmp_path: Path) -> None:
    settings = Settings.from_environment({"CITYOPS_TZ": "Asia/Shanghai", "CITYOPS_TRUSTED_PROXIES": "1"},
                                         tmp_path / "absent.env")
    assert settings.timezone == "Asia/Shanghai"
    assert settings.trusted_proxies == 1
    assert Settings.from_environment({}, tmp_path / "absent.env").trusted_proxies == 0


@pytest.mark.parametrize("value", ["-1", "one", "11", "1.5"])
def test_bad_trusted_proxies_count_is_a_clear_error(tmp_path: Path, value: str) -> None:
    with pytest.raises(ValueError, match="CITYOPS_TRUSTED_PROXIES must be a whole number"):
        Settings.from_environment({"CITYOPS_TRUSTED_PROXIES": value}, tmp_path / "absent.env")


def test_share_group_and_ingest_name_come_from_the_environment(tmp_path: Path) -> None:
    settings = Settings.from_environment({"CITYOPS_MQTT_SHARE_GROUP": "cityops-ingest", "CITYOPS_INGEST_NAME": "h1-2"},
                                         tmp_path / "absent.env")
    assert (settings.mqtt_share_group, settings.ingest_name) == ("cityops-ingest", "h1-2")
    unset = Settings.from_environment({"CITYOPS_MQTT_SHARE_GROUP": ""}, tmp_path / "absent.env")
    assert (unset.mqtt_share_group, unset.ingest_name) == (None, None)


# A share group goes into a topic filter and a name into a client id: nothing may widen the topic
# ("#", "+", "/"), break a log or ACL line, or grow without bound.
@pytest.mark.parametrize("value", ["a/b", "#", "+", "g#", "x+y", "two words", "line\nbreak", "nul\x00",
                                   "é", "g" * 65, "$share"])
@pytest.mark.parametrize("variable", ["CITYOPS_MQTT_SHARE_GROUP", "CITYOPS_INGEST_NAME"])
def test_a_share_group_or_ingest_name_that_could_widen_a_topic_is_refused(tmp_path: Path, variable: str,
                                                                          value: str) -> None:
    with pytest.raises(ValueError, match=f"{variable} must be 1 to 64 letters") as error:
        Settings.from_environment({variable: value}, tmp_path / "absent.env")
    assert "\n" not in str(error.value) and len(str(error.value)) < 200


def test_the_read_replica_url_comes_from_the_environment_and_no_password_shows_in_a_repr(tmp_path: Path) -> None:
    settings = Settings.from_environment(
        {"CITYOPS_DATABASE_URL": "postgresql://cityops:primary-pw@db1/cityops",
         "CITYOPS_DATABASE_READ_URL": "postgresql://cityops:replica-pw@db2/cityops",
         "CITYOPS_MQTT_URL": "mqtt://ingest:broker-pw@mq:1883", "CITYOPS_SECRET_KEY": "k" * 32,
         "CITYOPS_METRICS_TOKEN": "token-pw"}, tmp_path / "absent.env")
    assert settings.database_read_url == "postgresql://cityops:replica-pw@db2/cityops"
    assert Settings.from_environment({}, tmp_path / "absent.env").database_read_url is None
    shown = repr(settings)
    assert "city='nyc'" in shown
    assert not any(secret in shown for secret in ("primary-pw", "replica-pw", "broker-pw", "k" * 32, "token-pw"))
