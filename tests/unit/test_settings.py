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
