"""The air quality index, exactly per docs/vital-signs.md §3 (HJ 633-2012) and EPA-454/B-24-002.

The expected tables below are written out by hand from the standards, independently of
indicators/standards/*.toml, so a wrong number in a TOML file fails here.
"""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest

import indicators
from indicators.aqi import AQI_KEYS, AqiResult, aqi, aqi_frame, available_standards, load_standard
from indicators.levels import AMBER, GREEN, RED

HJ = "HJ633-2012"
EPA = "US-EPA-2024"

# --- HJ 633-2012 Table 1 (µg/m³; CO mg/m³), one list per column --------------------------------

HJ_IAQI = (0, 50, 100, 150, 200, 300, 400, 500)
HJ_COLUMNS: dict[str, tuple[float, ...]] = {
    "so2_24h": (0, 50, 150, 475, 800, 1600, 2100, 2620),
    "so2_1h": (0, 150, 500, 650, 800),
    "no2_24h": (0, 40, 80, 180, 280, 565, 750, 940),
    "no2_1h": (0, 100, 200, 700, 1200, 2340, 3090, 3840),
    "pm10_24h": (0, 50, 150, 250, 350, 420, 500, 600),
    "co_24h": (0, 2, 4, 14, 24, 36, 48, 60),
    "co_1h": (0, 5, 10, 35, 60, 90, 120, 150),
    "o3_1h": (0, 160, 200, 300, 400, 800, 1000, 1200),
    "o3_8h": (0, 100, 160, 215, 265, 800),
    "pm25_24h": (0, 35, 75, 115, 150, 250, 350, 500),
}
# (key, averaging) → the column it is read from: daily report 24 h columns, real-time report
# 1 h columns for SO2 / NO2 / CO, PM always 24 h, O3 always its own 1 h / 8 h columns.
HJ_USES: dict[tuple[str, str], str] = {
    ("pm25", "24h"): "pm25_24h",
    ("pm25", "1h"): "pm25_24h",
    ("pm10", "24h"): "pm10_24h",
    ("pm10", "1h"): "pm10_24h",
    ("so2", "24h"): "so2_24h",
    ("so2", "1h"): "so2_1h",
    ("no2", "24h"): "no2_24h",
    ("no2", "1h"): "no2_1h",
    ("co", "24h"): "co_24h",
    ("co", "1h"): "co_1h",
    ("o3_1h", "24h"): "o3_1h",
    ("o3_1h", "1h"): "o3_1h",
    ("o3_8h", "24h"): "o3_8h",
    ("o3_8h", "1h"): "o3_8h",
}

HJ_BREAKPOINTS = [
    pytest.param(key, averaging, concentration, index, id=f"{key}-{averaging}-{concentration}")
    for (key, averaging), column in HJ_USES.items()
    for concentration, index in zip(HJ_COLUMNS[column], HJ_IAQI, strict=False)
]
HJ_BANDS = [
    pytest.param(key, averaging, low, high, HJ_IAQI[n], HJ_IAQI[n + 1], id=f"{key}-{averaging}-{low}-{high}")
    for (key, averaging), column in HJ_USES.items()
    for n, (low, high) in enumerate(zip(HJ_COLUMNS[column], HJ_COLUMNS[column][1:], strict=False))
]

# --- EPA-454/B-24-002 Table 6, in its own units -----------------------------------------------

# key → (unit, truncation decimals, bands (C_lo, C_hi, AQI_lo, AQI_hi)). SO2 rows from 305 ppb
# are the 24 h SO2 table (reached from a 1 h value by the fall-back rule).
EPA_TABLES: dict[str, tuple[str, int, tuple[tuple[str, str, int, int], ...]]] = {
    "pm25": (
        "ug/m3",
        1,
        (
            ("0.0", "9.0", 0, 50),
            ("9.1", "35.4", 51, 100),
            ("35.5", "55.4", 101, 150),
            ("55.5", "125.4", 151, 200),
            ("125.5", "225.4", 201, 300),
            ("225.5", "325.4", 301, 500),
        ),
    ),
    "pm10": (
        "ug/m3",
        0,
        (
            ("0", "54", 0, 50),
            ("55", "154", 51, 100),
            ("155", "254", 101, 150),
            ("255", "354", 151, 200),
            ("355", "424", 201, 300),
            ("425", "604", 301, 500),
        ),
    ),
    "o3_8h": (
        "ppm",
        3,
        (
            ("0.000", "0.054", 0, 50),
            ("0.055", "0.070", 51, 100),
            ("0.071", "0.085", 101, 150),
            ("0.086", "0.105", 151, 200),
            ("0.106", "0.200", 201, 300),
        ),
    ),
    "o3_1h": (
        "ppm",
        3,
        (
            ("0.125", "0.164", 101, 150),
            ("0.165", "0.204", 151, 200),
            ("0.205", "0.404", 201, 300),
            ("0.405", "0.604", 301, 500),
        ),
    ),
    "co": (
        "ppm",
        1,
        (
            ("0.0", "4.4", 0, 50),
            ("4.5", "9.4", 51, 100),
            ("9.5", "12.4", 101, 150),
            ("12.5", "15.4", 151, 200),
            ("15.5", "30.4", 201, 300),
            ("30.5", "50.4", 301, 500),
        ),
    ),
    "so2": (
        "ppb",
        0,
        (
            ("0", "35", 0, 50),
            ("36", "75", 51, 100),
            ("76", "185", 101, 150),
            ("186", "304", 151, 200),
            ("305", "604", 201, 300),
            ("605", "1004", 301, 500),
        ),
    ),
    "no2": (
        "ppb",
        0,
        (
            ("0", "53", 0, 50),
            ("54", "100", 51, 100),
            ("101", "360", 101, 150),
            ("361", "649", 151, 200),
            ("650", "1249", 201, 300),
            ("1250", "2049", 301, 500),
        ),
    ),
}
MOLAR_VOLUME = 24.45  # L/mol at 25 °C, 1 atm
MOLAR_MASS = {"o3_1h": 48.00, "o3_8h": 48.00, "no2": 46.01, "so2": 64.07, "co": 28.01}


def epa_input(key: str, native: float) -> float:
    """A concentration in the EPA table unit as the µg/m³ (CO mg/m³) the function takes."""
    unit = EPA_TABLES[key][0]
    if unit == "ug/m3":
        return native
    if key == "co":  # ppm → mg/m³
        return native * MOLAR_MASS[key] / MOLAR_VOLUME
    ppb = native * 1000 if unit == "ppm" else native
    return ppb * MOLAR_MASS[key] / MOLAR_VOLUME


EPA_BREAKPOINTS = [
    pytest.param(key, averaging, concentration, index, id=f"{key}-{averaging}-{concentration}")
    for key, (_, _, bands) in EPA_TABLES.items()
    for averaging in ("24h", "1h")
    for c_lo, c_hi, i_lo, i_hi in bands
    for concentration, index in ((c_lo, i_lo), (c_hi, i_hi))
]
EPA_BANDS = [
    pytest.param(key, c_lo, c_hi, i_lo, i_hi, decimals, id=f"{key}-{c_lo}-{c_hi}")
    for key, (_, decimals, bands) in EPA_TABLES.items()
    for c_lo, c_hi, i_lo, i_hi in bands
]


def exact_index(low: Fraction, high: Fraction, i_lo: int, i_hi: int, concentration: Fraction) -> Fraction:
    return Fraction(i_hi - i_lo) / (high - low) * (concentration - low) + i_lo


def round_half_up(value: Fraction) -> int:
    return math.floor(value + Fraction(1, 2))


# --- the packaged tables -----------------------------------------------------------------------


def test_both_standards_are_packaged_and_cite_their_documents() -> None:
    assert available_standards() == (HJ, EPA)
    assert "HJ 633-2012" in load_standard(HJ).source
    assert "EPA-454/B-24-002" in load_standard(EPA).source


def test_aqi_is_exported_from_the_package() -> None:
    assert indicators.aqi is aqi
    assert indicators.AqiResult is AqiResult
    assert indicators.aqi_frame is aqi_frame
    assert "domain_ids" in indicators.__all__


def test_result_is_frozen() -> None:
    result = aqi({"pm25": 10})
    with pytest.raises(AttributeError):
        result.aqi = 1  # type: ignore[misc]


# --- HJ 633-2012 -------------------------------------------------------------------------------


def test_worked_check_pm25_24h_100_gives_132() -> None:
    result = aqi({"pm25": 100}, standard=HJ, averaging="24h")
    assert result == AqiResult(
        aqi=132, iaqi={"pm25": 132}, primary=["pm25"], category="lightly polluted", level=AMBER, capped=False
    )


@pytest.mark.parametrize(("key", "averaging", "concentration", "index"), HJ_BREAKPOINTS)
def test_hj_every_breakpoint_gives_its_iaqi(key: str, averaging: str, concentration: float, index: int) -> None:
    assert aqi({key: concentration}, HJ, averaging).iaqi == {key: index}


@pytest.mark.parametrize(("key", "averaging", "low", "high", "i_lo", "i_hi"), HJ_BANDS)
def test_hj_inside_each_band_interpolates_and_rounds_up(
    key: str, averaging: str, low: float, high: float, i_lo: int, i_hi: int
) -> None:
    low_f, high_f = Fraction(low), Fraction(high)
    just_above = low_f + Fraction(1, 100)
    midpoint = (low_f + high_f) / 2
    just_below = high_f - Fraction(1, 100)
    for concentration in (just_above, midpoint, just_below):
        expected = math.ceil(exact_index(low_f, high_f, i_lo, i_hi, concentration))
        assert aqi({key: float(concentration)}, HJ, averaging).iaqi[key] == expected, float(concentration)
    # Rounded up: a hair above a breakpoint is already the next integer.
    assert aqi({key: float(just_above)}, HJ, averaging).iaqi[key] == i_lo + 1


def test_hj_rounding_is_up_not_nearest() -> None:
    # PM10 24 h 51 → 50 + 50/100 × 1 = 50.5 → 51; 50.2 → 50.1 → 51 (nearest would say 50).
    assert aqi({"pm10": 50.2}).iaqi["pm10"] == 51
    # NO2 24 h 41 → 50 + 50/40 × 1 = 51.25 → 52.
    assert aqi({"no2": 41}).iaqi["no2"] == 52


def test_hj_exact_integer_index_is_not_pushed_up_by_float_noise() -> None:
    # SO2 24 h 312.5 → 100 + 50/325 × 162.5 = 125 exactly; CO 1 h 22.5 → 125 exactly.
    assert aqi({"so2": 312.5}).iaqi["so2"] == 125
    assert aqi({"co": 22.5}, averaging="1h").iaqi["co"] == 125


@pytest.mark.parametrize(
    ("aqi_value_source", "category", "level"),
    [
        ({"pm25": 35}, "excellent", GREEN),
        ({"pm25": 75}, "good", GREEN),
        ({"pm25": 75.01}, "lightly polluted", AMBER),
        ({"pm25": 115}, "lightly polluted", AMBER),
        ({"pm25": 115.01}, "moderately polluted", AMBER),
        ({"pm25": 150}, "moderately polluted", AMBER),
        ({"pm25": 150.01}, "heavily polluted", RED),
        ({"pm25": 250}, "heavily polluted", RED),
        ({"pm25": 250.01}, "severely polluted", RED),
        ({"pm25": 500}, "severely polluted", RED),
    ],
)
def test_hj_categories_and_levels(aqi_value_source: dict[str, float], category: str, level: int) -> None:
    result = aqi(aqi_value_source)
    assert (result.category, result.level) == (category, level)


# --- US EPA 2024 -------------------------------------------------------------------------------


@pytest.mark.parametrize(("key", "averaging", "concentration", "index"), EPA_BREAKPOINTS)
def test_epa_every_breakpoint_gives_its_index(key: str, averaging: str, concentration: str, index: int) -> None:
    result = aqi({key: epa_input(key, float(concentration))}, EPA, averaging)
    assert result.iaqi == {key: index}
    assert result.capped is False


@pytest.mark.parametrize(("key", "c_lo", "c_hi", "i_lo", "i_hi", "decimals"), EPA_BANDS)
def test_epa_inside_each_band_interpolates_and_rounds_to_nearest(
    key: str, c_lo: str, c_hi: str, i_lo: int, i_hi: int, decimals: int
) -> None:
    low, high = Fraction(c_lo), Fraction(c_hi)
    step = Fraction(1, 10**decimals)
    # Grid points (the only values left after truncation): one step in, the middle, one step short.
    middle = Fraction(math.floor((low + high) / 2 / step)) * step
    for native in (low + step, middle, high - step):
        expected = round_half_up(exact_index(low, high, i_lo, i_hi, native))
        assert aqi({key: epa_input(key, float(native))}, EPA).iaqi[key] == expected, float(native)


def test_epa_rounds_halves_up_and_below_halves_down() -> None:
    # CO 1.1 ppm → 50/4.4 × 1.1 = 12.5 → 13 (round() would give 12); 1.0 ppm → 11.36 → 11 (not 12).
    assert aqi({"co": epa_input("co", 1.1)}, EPA).iaqi["co"] == 13
    assert aqi({"co": epa_input("co", 1.0)}, EPA).iaqi["co"] == 11


@pytest.mark.parametrize(
    ("key", "native", "index"),
    [
        ("pm25", 9.05, 50),  # truncated to 9.0, not into the 9.0 | 9.1 gap
        ("pm25", 35.49, 100),
        ("pm25", 35.5, 101),
        ("pm25", 325.49, 500),  # 325.4: the top breakpoint, not beyond it
        ("pm10", 54.9, 50),
        ("pm10", 154.99, 100),
        ("o3_8h", 0.0549, 50),
        ("o3_8h", 0.0709, 100),
        ("co", 4.49, 50),
        ("co", 9.45, 100),
        ("so2", 35.9, 50),
        ("no2", 53.99, 50),
        ("no2", 100.9, 100),
    ],
)
def test_epa_truncates_before_lookup(key: str, native: float, index: int) -> None:
    assert aqi({key: epa_input(key, native)}, EPA).iaqi[key] == index


@pytest.mark.parametrize(
    ("concentrations", "iaqi"),
    [
        # NO2 µg/m³ × 24.45 / 46.01 → ppb: 190.0 → 100.97 → 100; 190.4 → 101.18 → 101.
        ({"no2": 190.0}, {"no2": 100}),
        ({"no2": 190.4}, {"no2": 101}),
        # CO 10 mg/m³ → 8.729 ppm → 8.7 → 51 + 49/4.9 × 4.2 = 93.
        ({"co": 10.0}, {"co": 93}),
        # O3 100 µg/m³ → 0.0509 ppm → 0.050 → 50/0.054 × 0.050 = 46.3 → 46.
        ({"o3_8h": 100.0}, {"o3_8h": 46}),
        # SO2 200 µg/m³ → 76.3 ppb → 76 → 101.
        ({"so2": 200.0}, {"so2": 101}),
        # PM is not converted: PM2.5 35.5 µg/m³ → 101.
        ({"pm25": 35.5}, {"pm25": 101}),
    ],
)
def test_epa_converts_gases_at_25_celsius(concentrations: dict[str, float], iaqi: dict[str, int]) -> None:
    assert aqi(concentrations, EPA).iaqi == iaqi


@pytest.mark.parametrize(
    ("concentrations", "category", "level"),
    [
        ({"pm25": 9.0}, "good", GREEN),
        ({"pm25": 9.1}, "moderate", GREEN),
        ({"pm25": 35.5}, "unhealthy for sensitive groups", AMBER),
        ({"pm25": 55.5}, "unhealthy", AMBER),
        ({"pm25": 125.5}, "very unhealthy", RED),
        ({"pm25": 225.5}, "hazardous", RED),
    ],
)
def test_epa_categories_and_levels(concentrations: dict[str, float], category: str, level: int) -> None:
    result = aqi(concentrations, EPA)
    assert (result.category, result.level) == (category, level)


def test_epa_1h_ozone_defines_no_index_below_0_125_ppm() -> None:
    below = epa_input("o3_1h", 0.124)
    result = aqi({"pm25": 5.0, "o3_1h": below}, EPA)
    assert "o3_1h" not in result.iaqi
    assert result.iaqi == {"pm25": 28}
    assert aqi({"o3_1h": epa_input("o3_1h", 0.125)}, EPA).iaqi == {"o3_1h": 101}
    with pytest.raises(ValueError, match=r"o3_1h is below table o3_1h, which starts at 0\.125 ppm"):
        aqi({"o3_1h": below}, EPA)


# --- fall-back rules ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("so2", "index", "capped"),
    [
        (700, 167, False),  # 1 h table: 150 + 50/150 × 50 = 166.7
        (800, 200, False),  # top of the 1 h table
        (801, 201, False),  # 24 h table: 200 + 100/800 × 1 = 200.125
        (1600, 300, False),
        (2620, 500, False),
        (2621, 500, True),
    ],
)
def test_hj_so2_1h_above_800_uses_the_24h_table(so2: float, index: int, capped: bool) -> None:
    result = aqi({"so2": so2}, HJ, "1h")
    assert (result.iaqi["so2"], result.capped) == (index, capped)


def test_hj_daily_so2_uses_the_24h_table_directly() -> None:
    assert aqi({"so2": 700}, HJ, "24h").iaqi["so2"] == 185  # 150 + 50/325 × 225 = 184.6


@pytest.mark.parametrize("averaging", ["24h", "1h"])
@pytest.mark.parametrize(
    ("o3_8h", "index", "capped"),
    [
        (800, 300, False),  # top of the 8 h table
        (800.5, 301, False),  # 1 h table: 300 + 100/200 × 0.5 = 300.25
        (900, 350, False),
        (1200, 500, False),
        (1201, 500, True),
    ],
)
def test_hj_o3_8h_above_800_uses_the_1h_table(averaging: str, o3_8h: float, index: int, capped: bool) -> None:
    result = aqi({"o3_8h": o3_8h}, HJ, averaging)
    assert (result.iaqi["o3_8h"], result.capped) == (index, capped)


@pytest.mark.parametrize(
    ("ppb", "index", "capped"),
    [
        (304, 200, False),
        (304.9, 200, False),
        (305, 201, False),
        (604, 300, False),
        (1004, 500, False),
        (1005, 500, True),
    ],
)
def test_epa_so2_from_305_ppb_uses_the_24h_table(ppb: float, index: int, capped: bool) -> None:
    result = aqi({"so2": epa_input("so2", ppb)}, EPA, "1h")
    assert (result.iaqi["so2"], result.capped) == (index, capped)


@pytest.mark.parametrize(
    ("ppm", "index", "capped"),
    [
        (0.200, 300, False),
        # The 1 h table puts 0.201 at 196; an 8 h mean beyond the 8 h table's top never scores below it.
        (0.201, 300, False),
        (0.404, 300, False),
        (0.405, 301, False),
        (0.604, 500, False),
        (0.605, 500, True),
    ],
)
def test_epa_o3_8h_above_0_200_ppm_uses_the_1h_table(ppm: float, index: int, capped: bool) -> None:
    result = aqi({"o3_8h": epa_input("o3_8h", ppm)}, EPA)
    assert (result.iaqi["o3_8h"], result.capped) == (index, capped)


# --- capping, primary pollutants ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("standard", "concentrations", "capped"),
    [
        (HJ, {"pm25": 500}, False),
        (HJ, {"pm25": 500.01}, True),
        (HJ, {"co": 60.5}, True),
        (HJ, {"pm10": 1e300}, True),
        (EPA, {"pm25": 325.5}, True),
        (EPA, {"co": epa_input("co", 50.5)}, True),
        (EPA, {"no2": 1e300}, True),
    ],
)
def test_beyond_the_top_breakpoint_is_500_and_capped(
    standard: str, concentrations: dict[str, float], capped: bool
) -> None:
    result = aqi(concentrations, standard)
    assert (result.aqi, result.capped) == (500, capped)


def test_primary_lists_every_key_tied_at_the_aqi_in_key_order() -> None:
    result = aqi({"pm10": 150, "no2": 40, "pm25": 75})  # 100, 50, 100
    assert result.aqi == 100
    assert result.iaqi == {"pm25": 100, "pm10": 100, "no2": 50}
    assert result.primary == ["pm25", "pm10"]


def test_no_primary_pollutant_at_aqi_50_or_below() -> None:
    assert aqi({"pm25": 35, "pm10": 50}).primary == []  # both 50
    assert aqi({"pm25": 35.01, "pm10": 50}).primary == ["pm25"]  # 51


def test_zero_concentration_is_index_zero() -> None:
    result = aqi({"pm25": 0, "co": 0})
    assert (result.aqi, result.iaqi, result.primary, result.level) == (0, {"pm25": 0, "co": 0}, [], GREEN)


# --- errors ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: aqi({"pm2.5": 10}), r"unknown pollutant key 'pm2\.5'"),
        (lambda: aqi({"o3": 10}), r"unknown pollutant key 'o3'"),
        (lambda: aqi({"pm25": 10}, standard="WHO-2021"), r"unknown AQI standard 'WHO-2021'"),
        (lambda: aqi({"pm25": 10}, averaging="8h"), r"unknown averaging '8h'"),
        (lambda: aqi({"pm25": -0.1}), r"pm25 must not be negative"),
        (lambda: aqi({"no2": float("nan")}), r"no2 must be finite"),
        (lambda: aqi({"co": float("inf")}), r"co must be finite"),
        (lambda: aqi({}), r"no concentrations given"),
    ],
)
def test_bad_input_is_a_value_error_naming_it(call, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()


@pytest.mark.parametrize("value", ["12", None, True])
def test_non_numbers_are_a_type_error(value: object) -> None:
    with pytest.raises(TypeError, match="pm25 must be a real number"):
        aqi({"pm25": value})  # type: ignore[dict-item]


def test_numpy_scalars_are_accepted() -> None:
    assert aqi({"pm25": np.float32(100), "pm10": np.int64(150)}).iaqi == {"pm25": 132, "pm10": 100}


# --- the vectorised helper ---------------------------------------------------------------------


def test_frame_gives_one_row_per_input_row() -> None:
    frame = pd.DataFrame(
        {"pm25": [100, np.nan, 5, 1e6], "o3_8h": [np.nan, np.nan, 10, 3]}, index=["s1", "s2", "s3", "s4"]
    )
    result = aqi_frame(frame)
    assert list(result.index) == ["s1", "s2", "s3", "s4"]
    assert list(result.columns) == ["aqi", "primary", "category", "level", "capped", "iaqi_pm25", "iaqi_o3_8h"]
    assert result["aqi"].tolist() == [132, pd.NA, 8, 500]
    assert result["primary"].tolist() == [["pm25"], [], [], ["pm25"]]
    assert result["category"].tolist() == ["lightly polluted", pd.NA, "excellent", "severely polluted"]
    assert result["level"].tolist() == [AMBER, pd.NA, GREEN, RED]
    assert result["capped"].tolist() == [False, False, False, True]
    assert result["iaqi_o3_8h"].tolist() == [pd.NA, pd.NA, 5, 2]


def test_frame_of_no_rows_is_empty() -> None:
    result = aqi_frame(pd.DataFrame({"pm25": pd.Series([], dtype=float)}), EPA)
    assert len(result) == 0
    assert "aqi" in result.columns


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        (pd.DataFrame({"pm25": [1.0], "sensor": [3.0]}), r"unknown pollutant column 'sensor'"),
        (pd.DataFrame({"pm25": [1.0, -2.0]}, index=["a", "b"]), r"pm25 at row 'b' is negative"),
        (pd.DataFrame({"co": [np.inf]}), r"co at row 0 is infinite"),
        (pd.DataFrame({"no2": ["high"]}), r"column 'no2' is not numeric"),
        (pd.DataFrame(index=[0, 1]), r"no concentration columns"),
    ],
)
def test_frame_bad_input_is_a_value_error_naming_it(frame: pd.DataFrame, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        aqi_frame(frame)


def test_frame_unknown_standard_and_averaging() -> None:
    frame = pd.DataFrame({"pm25": [1.0]})
    with pytest.raises(ValueError, match="unknown AQI standard 'EU'"):
        aqi_frame(frame, "EU")
    with pytest.raises(ValueError, match="unknown averaging 'daily'"):
        aqi_frame(frame, HJ, "daily")


def _sample_frame(rng: np.random.Generator, rows: int) -> pd.DataFrame:
    """Concentrations across (and beyond) every table, with gaps, some on breakpoints."""
    top = {"pm25": 600, "pm10": 700, "so2": 3000, "no2": 4200, "co": 170, "o3_1h": 1400, "o3_8h": 1400}
    data = {}
    for key in AQI_KEYS:
        values = rng.uniform(0, top[key], rows)
        on_breakpoint = rng.random(rows) < 0.2
        breakpoints = np.array([b for column in HJ_COLUMNS.values() for b in column], dtype=float)
        values[on_breakpoint] = rng.choice(breakpoints, on_breakpoint.sum())
        values[rng.random(rows) < 0.3] = np.nan
        data[key] = values
    return pd.DataFrame(data)


@pytest.mark.parametrize("averaging", ["24h", "1h"])
@pytest.mark.parametrize("standard", [HJ, EPA])
def test_frame_agrees_with_the_scalar_function(standard: str, averaging: str) -> None:
    frame = _sample_frame(np.random.default_rng(633), 400)
    result = aqi_frame(frame, standard, averaging)
    for label, row in frame.iterrows():
        given = {key: value for key, value in row.items() if not np.isnan(value)}
        got = result.loc[label]
        try:
            expected = aqi(given, standard, averaging)
        except ValueError:  # nothing measured, or nothing that defines an index
            assert got["aqi"] is pd.NA and got["level"] is pd.NA and got["primary"] == []
            continue
        assert got["aqi"] == expected.aqi
        assert got["primary"] == expected.primary
        assert got["category"] == expected.category
        assert got["level"] == expected.level
        assert got["capped"] == expected.capped
        iaqi = {key: int(got[f"iaqi_{key}"]) for key in AQI_KEYS if got[f"iaqi_{key}"] is not pd.NA}
        assert iaqi == expected.iaqi
