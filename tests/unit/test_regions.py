"""The packaged GB/T 2260 table (provinces, prefectures, counties) and its lookups."""

from __future__ import annotations

import pytest

from batterytrace.events.regions import (
    Division,
    check_division_code,
    counties,
    division,
    prefecture_of,
    prefectures,
    province_of,
    provinces,
)

MUNICIPALITIES = {"110000", "120000", "310000", "500000"}


def test_31_mainland_provinces_sorted_with_english_names() -> None:
    rows = provinces()
    assert len(rows) == 31
    assert [d.code for d in rows] == sorted(d.code for d in rows)
    assert rows[0].code == "110000" and rows[-1].code == "650000"
    assert all(d.level == "province" and d.province_code == d.code for d in rows)
    assert all(d.name_en for d in rows)
    assert not {"710000", "810000", "820000"} & {d.code for d in rows}


def test_prefectures_belong_to_known_provinces_and_have_coordinates_in_china() -> None:
    rows = prefectures()
    known = {d.code for d in provinces()}
    assert len(rows) > 300
    assert len({d.code for d in rows}) == len(rows)
    for d in rows:
        assert d.level == "prefecture" and d.code[2:] != "0000"
        assert d.province_code in known and d.code[:2] == d.province_code[:2]
        assert d.name and d.name_en == ""
        # 16°N rather than 18°N: Sansha's seat is on Yongxing Island, 16.83°N.
        assert 16 <= d.latitude <= 54 and 73 <= d.longitude <= 135, d


def test_municipalities_are_one_prefecture_each() -> None:
    for code in MUNICIPALITIES:
        assert [d.code for d in prefectures(code)] == [code[:2] + "0100"]


def test_prefectures_of_one_province_accept_two_or_six_digits() -> None:
    assert prefectures("44") == prefectures("440000")
    assert "440300" in {d.code for d in prefectures("44")}
    with pytest.raises(ValueError, match="unknown province '99'"):
        prefectures("99")


def test_exact_lookup() -> None:
    suzhou = division("320500")
    assert isinstance(suzhou, Division)
    assert (suzhou.name, suzhou.level, suzhou.province_code) == ("苏州市", "prefecture", "320000")
    assert division("320000") == province_of("320505")
    assert division("abc") is None


def test_a_county_is_its_own_row_with_its_own_coordinates() -> None:
    nanshan = division("440305")
    assert nanshan is not None
    assert (nanshan.name, nanshan.level, nanshan.province_code) == ("南山区", "county", "440000")
    shenzhen = division("440300")
    assert shenzhen is not None
    # The source has Nanshan's own seat: west of Shenzhen's, not a copy of it.
    assert (nanshan.latitude, nanshan.longitude) != (shenzhen.latitude, shenzhen.longitude)
    assert 113.8 < nanshan.longitude < shenzhen.longitude


def test_counties_of_a_prefecture() -> None:
    shenzhen = [d.code for d in counties("440300")]
    assert "440305" in shenzhen and "440399" not in shenzhen
    assert shenzhen == sorted(shenzhen)
    assert all(d.level == "county" for d in counties("440300"))
    beijing = {d.code for d in counties("110100")}
    assert {"110101", "110105", "110108"} <= beijing
    chongqing = {d.code for d in counties("500100")}
    assert {"500101", "500229"} <= chongqing  # districts 5001xx and counties 5002xx alike
    assert counties("441900") == []  # Dongguan has towns, no county-level divisions
    assert counties("429004") == []  # Xiantao is itself county-level, under Hubei directly


@pytest.mark.parametrize("code", ["440399", "440000", "4403", "abcdef"])
def test_counties_of_an_unknown_prefecture_are_refused(code: str) -> None:
    with pytest.raises(ValueError, match=f"unknown prefecture '{code}'"):
        counties(code)


def test_every_county_rolls_up_to_a_prefecture_of_its_own_province() -> None:
    rows = counties_everywhere()
    assert len(rows) > 2800
    for county in rows:
        prefecture = prefecture_of(county.code)
        assert prefecture is not None, county
        assert prefecture.province_code == county.province_code
        assert 16 <= county.latitude <= 54 and 73 <= county.longitude <= 135, county


def counties_everywhere() -> list[Division]:
    return [county for prefecture in prefectures() for county in counties(prefecture.code)]


@pytest.mark.parametrize(
    ("code", "prefecture"),
    [
        ("110105", "110100"),  # a Beijing district: the municipality's single prefecture
        ("440305", "440300"),  # Nanshan, Shenzhen
        ("320500", "320500"),  # Suzhou itself
        ("500229", "500100"),  # a Chongqing county (5002xx) falls back to the municipality
        ("429004", "429004"),  # Xiantao, administered by Hubei directly
        ("469027", "469027"),  # Ledong, administered by Hainan directly
    ],
)
def test_prefecture_of(code: str, prefecture: str) -> None:
    found = prefecture_of(code)
    assert found is not None and found.code == prefecture


def test_prefecture_of_unknown_or_province() -> None:
    assert prefecture_of("445501") is None
    assert prefecture_of("440000") is None
    assert prefecture_of("99") is None


def test_province_of() -> None:
    guangdong = province_of("440305")
    assert guangdong is not None and (guangdong.name, guangdong.name_en) == ("广东省", "Guangdong")
    assert province_of("990101") is None


@pytest.mark.parametrize(
    "code",
    [
        "110000",  # Beijing, the province-level row
        "110100",  # Beijing, its single prefecture
        "110105",  # Chaoyang, a Beijing district
        "440305",  # Nanshan, Shenzhen
        "500229",  # Chengkou, a Chongqing county (5002xx)
        "500200",  # Chongqing's former county group row, mapped to 500100
        "429004",  # Xiantao, administered by Hubei directly
        "540602",  # Seni, Nagqu: a district newer than the source's coordinates
        " 320505 ",
    ],
)
def test_valid_codes_are_accepted_and_normalised(code: str) -> None:
    assert check_division_code(code) == code.strip()


@pytest.mark.parametrize("code", ["11010", "1101050", "11o105", "", "１１０１０５", 110105])
def test_malformed_codes_are_refused(code: str) -> None:
    with pytest.raises(ValueError) as refused:
        check_division_code(code)
    assert str(refused.value).startswith(
        f"administrative division code must be 6 digits (GB/T 2260), e.g. 110105; got {code!r}"
    )


@pytest.mark.parametrize("code", ["990101", "710100", "810000", "000000"])
def test_unknown_provinces_are_refused(code: str) -> None:
    with pytest.raises(ValueError) as refused:
        check_division_code(code)
    assert str(refused.value) == (
        f"unknown province '{code[:2]}' in division code '{code}': the first two digits must be "
        "one of the 31 mainland provincial codes (11 Beijing … 65 Xinjiang)"
    )


@pytest.mark.parametrize(
    ("code", "prefecture"),
    [("440399", "深圳市 (440300)"), ("110199", "北京市 (110100)"), ("500299", "重庆市 (500100)")],
)
def test_a_county_code_that_does_not_exist_is_refused(code: str, prefecture: str) -> None:
    with pytest.raises(ValueError) as refused:
        check_division_code(code)
    message = str(refused.value)
    assert message.startswith(
        f"unknown county-level division '{code}': no county or district of {prefecture} has this code"
    )
    # How to fix it: a real county of the same prefecture, or the prefecture's own code.
    example = counties(prefecture[-7:-1])[0]
    assert f"e.g. {example.code} {example.name}" in message
    assert f"or its prefecture's own code {prefecture[-7:-1]} if the county is not known" in message


def test_a_county_code_under_a_prefecture_without_counties_is_refused() -> None:
    with pytest.raises(ValueError) as refused:
        check_division_code("441901")
    assert str(refused.value) == (
        "unknown county-level division '441901': 东莞市 (441900) has no counties or districts; use 441900"
    )


def test_an_unlisted_county_still_rolls_up_to_its_prefecture() -> None:
    # Points registered before counties were checked keep their place in regional reports.
    shenzhen = prefecture_of("440399")
    assert shenzhen is not None and shenzhen.code == "440300"
    assert division("440399") is None


def test_unknown_prefectures_are_refused() -> None:
    with pytest.raises(ValueError, match=r"unknown prefecture '4455' in division code '445501'"):
        check_division_code("445501")
    with pytest.raises(ValueError, match=r"prefecture of Guangdong \(440000\), e\.g\. 440100"):
        check_division_code("445500")
