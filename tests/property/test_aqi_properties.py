"""Properties of the air quality index, for every standard, averaging and key; bad tables."""

from __future__ import annotations

import re
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from indicators.aqi import AQI_KEYS, AVERAGINGS, aqi, aqi_frame, available_standards, parse_standard
from indicators.levels import AMBER, GREEN, RED

FEW = settings(max_examples=200, deadline=None)

STANDARDS = available_standards()
# Well beyond the top of every table of both standards (µg/m³; CO mg/m³), so capping is exercised.
TOP = {"pm25": 700.0, "pm10": 800.0, "so2": 3500.0, "no2": 4500.0, "co": 200.0, "o3_1h": 1500.0, "o3_8h": 1500.0}


def concentration(key: str) -> st.SearchStrategy[float]:
    return st.floats(min_value=0, max_value=TOP[key], allow_nan=False, allow_infinity=False)


@st.composite
def measurements(draw: st.DrawFn) -> dict[str, float]:
    keys = draw(st.lists(st.sampled_from(AQI_KEYS), min_size=1, max_size=len(AQI_KEYS), unique=True))
    return {key: draw(concentration(key)) for key in keys}


def defined_iaqi(key: str, value: float, standard: str, averaging: str) -> int | None:
    """The key's sub-index, or None where it defines none (EPA 1 h ozone below 0.125 ppm)."""
    try:
        return aqi({key: value}, standard, averaging).iaqi[key]
    except ValueError:
        return None


@FEW
@given(
    standard=st.sampled_from(STANDARDS),
    averaging=st.sampled_from(AVERAGINGS),
    data=st.data(),
    key=st.sampled_from(AQI_KEYS),
)
def test_iaqi_never_falls_as_the_concentration_rises(standard: str, averaging: str, data, key: str) -> None:
    low, high = sorted((data.draw(concentration(key)), data.draw(concentration(key))))
    low_index = defined_iaqi(key, low, standard, averaging)
    high_index = defined_iaqi(key, high, standard, averaging)
    if low_index is not None:
        assert high_index is not None and low_index <= high_index, (low, low_index, high, high_index)


@pytest.mark.parametrize("averaging", AVERAGINGS)
@pytest.mark.parametrize("standard", STANDARDS)
@pytest.mark.parametrize("key", AQI_KEYS)
def test_iaqi_is_monotone_on_a_fine_grid(key: str, standard: str, averaging: str) -> None:
    # Dense sweep through every band, fall-back seam and the cap (vectorised: one call per key).
    grid = np.linspace(0, TOP[key], 20_001)
    indices = aqi_frame(pd.DataFrame({key: grid}), standard, averaging)[f"iaqi_{key}"]
    defined = indices.dropna().to_numpy(dtype=float)
    assert (np.diff(defined) >= 0).all()
    # Undefined only at the bottom (EPA 1 h ozone below its table), never above a defined value.
    missing = indices.isna().to_numpy()
    assert missing[: missing.sum()].all()


@FEW
@given(standard=st.sampled_from(STANDARDS), averaging=st.sampled_from(AVERAGINGS), given_values=measurements())
@example(standard="HJ633-2012", averaging="24h", given_values={"pm25": 100.0})
@example(standard="US-EPA-2024", averaging="1h", given_values={"so2": 1e9, "o3_8h": 0.0})
def test_aqi_is_the_highest_iaqi_within_0_and_500_with_consistent_level(
    standard: str, averaging: str, given_values: dict[str, float]
) -> None:
    try:
        result = aqi(given_values, standard, averaging)
    except ValueError:
        # Only when nothing defines a sub-index: EPA 1 h ozone alone, below its table.
        assert standard == "US-EPA-2024" and set(given_values) == {"o3_1h"}
        return
    assert result.aqi == max(result.iaqi.values())
    assert 0 <= result.aqi <= 500
    assert all(0 <= index <= 500 for index in result.iaqi.values())
    expected_level = RED if result.aqi >= 201 else AMBER if result.aqi >= 101 else GREEN
    assert result.level == expected_level
    if result.aqi <= 50:
        assert result.primary == []
    else:
        assert result.primary == [key for key, index in result.iaqi.items() if index == result.aqi]
    if result.capped:
        assert result.aqi == 500


@FEW
@given(
    standard=st.sampled_from(STANDARDS),
    averaging=st.sampled_from(AVERAGINGS),
    rows=st.lists(measurements(), min_size=1, max_size=8),
)
def test_frame_agrees_with_the_scalar_function(standard: str, averaging: str, rows: list[dict[str, float]]) -> None:
    frame = pd.DataFrame(rows, columns=list(AQI_KEYS)).astype(float)
    result = aqi_frame(frame, standard, averaging)
    for position, given_values in enumerate(rows):
        try:
            expected = aqi(given_values, standard, averaging)
        except ValueError:
            assert result["aqi"].iloc[position] is pd.NA
            continue
        assert result["aqi"].iloc[position] == expected.aqi
        assert result["primary"].iloc[position] == expected.primary
        assert result["level"].iloc[position] == expected.level
        assert bool(result["capped"].iloc[position]) == expected.capped


# --- malformed tables --------------------------------------------------------------------------

HJ_TEXT = resources.files("indicators").joinpath("standards/hj633-2012.toml").read_text(encoding="utf-8")
EPA_TEXT = resources.files("indicators").joinpath("standards/us-epa-2024.toml").read_text(encoding="utf-8")


def test_packaged_tables_parse() -> None:
    assert parse_standard(HJ_TEXT, "hj").id == "HJ633-2012"
    assert parse_standard(EPA_TEXT, "epa").id == "US-EPA-2024"


@pytest.mark.parametrize(
    ("text", "old", "new", "field"),
    [
        # Breakpoints out of order.
        (HJ_TEXT, "[75, 115, 100, 150],", "[75, 70, 100, 150],", "tables.pm25_24h.bands[2]"),
        (HJ_TEXT, "[115, 150, 150, 200],", "[110, 150, 150, 200],", "tables.pm25_24h.bands[3]"),
        # IAQI column not matching its neighbour, out of range, or not whole.
        (HJ_TEXT, "[35, 75, 50, 100],", "[35, 75, 60, 100],", "tables.pm25_24h.bands[1]"),
        (HJ_TEXT, "[350, 500, 400, 500],", "[350, 500, 400, 600],", "tables.pm25_24h.bands[6]"),
        (HJ_TEXT, "[0, 35, 0, 50],", "[0, 35, 0, 50.5],", "tables.pm25_24h.bands[0]"),
        # Wrong shape or type.
        (HJ_TEXT, "[0, 35, 0, 50],", "[0, 35, 50],", "tables.pm25_24h.bands[0]"),
        (HJ_TEXT, "[0, 35, 0, 50],", '[0, "35", 0, 50],', "tables.pm25_24h.bands[0]"),
        (HJ_TEXT, 'unit = "mg/m3"', 'unit = "mg per m3"', "tables.co_24h.unit"),
        # Missing or dangling names.
        (HJ_TEXT, 'id = "HJ633-2012"', "", "id"),
        (HJ_TEXT, 'rounding = "up"', 'rounding = "down"', "rounding"),
        (HJ_TEXT, 'pm25 = "pm25_24h"\npm10', 'pm25 = "pm2.5_24h"\npm10', "averaging.24h.pm25"),
        (HJ_TEXT, 'beyond_top = "so2_24h"', 'beyond_top = "so2_8h"', "tables.so2_1h.beyond_top"),
        (HJ_TEXT, 'beyond_top = "so2_24h"\n', "", "tables.so2_1h.bands"),  # stops at 200 with no fall-back
        (HJ_TEXT, '{ up_to = 500, name = "severely polluted" }', '{ up_to = 400, name = "x" }', "categories[5].up_to"),
        # Units that cannot be reached from µg/m³.
        (EPA_TEXT, "no2 = 46.01, ", "", "averaging.24h.no2"),
        (
            EPA_TEXT,
            'unit = "ug/m3"\ntruncate_decimals = 1',
            'unit = "ppb"\ntruncate_decimals = 1',
            "averaging.24h.pm25",
        ),
        # Breakpoints finer than the truncation step.
        (EPA_TEXT, "[9.1, 35.4, 51, 100],", "[9.15, 35.4, 51, 100],", "tables.pm25_24h.bands[1]"),
        # Not TOML at all.
        (HJ_TEXT, "[tables.pm25_24h]", "[tables.pm25_24h", "file"),
    ],
)
def test_a_malformed_table_file_is_a_value_error_naming_file_and_field(
    tmp_path: Path, text: str, old: str, new: str, field: str
) -> None:
    assert old in text
    bad_file = tmp_path / "bad-standard.toml"
    bad_file.write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(ValueError, match=re.escape(f"bad-standard.toml: {field}: ")):
        parse_standard(bad_file.read_text(encoding="utf-8"), str(bad_file))


@settings(max_examples=100, deadline=None)
@given(breakpoints=st.lists(st.integers(min_value=0, max_value=1000), min_size=2, max_size=8))
def test_a_table_is_accepted_only_with_rising_breakpoints(breakpoints: list[int]) -> None:
    indices = np.linspace(0, 500, len(breakpoints)).round().astype(int).tolist()
    bands = ", ".join(
        f"[{low}, {high}, {i_lo}, {i_hi}]"
        for low, high, i_lo, i_hi in zip(breakpoints, breakpoints[1:], indices, indices[1:], strict=False)
    )
    start = HJ_TEXT.index("[tables.pm25_24h]")
    text = HJ_TEXT[:start] + f'[tables.pm25_24h]\nunit = "ug/m3"\nbands = [{bands}]\n'
    rising = all(low < high for low, high in zip(breakpoints, breakpoints[1:], strict=False))
    if rising and len(set(indices)) == len(indices):
        assert parse_standard(text, "generated.toml").tables["pm25_24h"].c_hi[-1] == breakpoints[-1]
    else:
        with pytest.raises(ValueError, match=r"generated\.toml: tables\.pm25_24h\.bands\[\d\]"):
            parse_standard(text, "generated.toml")
