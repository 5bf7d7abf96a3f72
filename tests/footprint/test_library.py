"""The shipped factor library: every value sourced and marked, every province covered, and a broken data file
refused with its file and line rather than loaded."""

from __future__ import annotations

import pytest

from backend.footprint import library
from backend.footprint.library import DataFileError
from backend.registry.adcode import divisions

NOT_MAINLAND = ("71", "81", "82", "99")  # Taiwan, Hong Kong, Macau, and the table's 99xxxx pseudo-divisions
MAINLAND_PROVINCES = [code for code in divisions() if code.endswith("0000") and code[:2] not in NOT_MAINLAND]


@pytest.fixture(scope="module")
def files():
    return library.packaged_files()


@pytest.fixture(scope="module")
def shipped(files):
    return library.parse(files)


def test_the_set_is_named_by_its_content(files, shipped):
    assert shipped.sha256 == library.files_sha256(files) == library.parse(dict(files)).sha256
    changed = {**files, "species.csv": files["species.csv"].replace("0.307", "0.308")}
    assert library.parse(changed).sha256 != shipped.sha256


def test_every_factor_says_where_it_comes_from_and_how_sure_we_are(shipped):
    for factor in shipped.factors:
        assert factor.source and factor.publisher and factor.status in library.STATUSES, factor
        assert factor.value >= 0 and 1990 <= factor.year <= 2100, factor
    emission = [f for f in shipped.factors if f.grams_per_unit is not None]
    assert {f.key for f in emission} >= {"electricity.grid", "natural_gas.combustion", "water.supply", "flight.pkm",
                                         "rail.hsr_pkm", "hotel.room_night", "garment.item"}


def test_the_mee_grid_factors_are_official_and_as_published(shipped):
    national = {f.year: str(f.value) for f in shipped.factors if f.key == "electricity.grid"
                and f.geography == "national"}
    assert national == {2021: "0.5568", 2022: "0.5366", 2023: "0.5306"}
    assert all(f.status == "official" for f in shipped.factors if f.key == "electricity.grid"
               and f.geography == "national")


@pytest.mark.parametrize("province", MAINLAND_PROVINCES)
def test_every_mainland_province_has_a_grid_factor_for_every_year(shipped, province):
    assert shipped.grid_regions[province][0].startswith("grid:")
    for year in (2021, 2022, 2023):
        factor = shipped.factor("electricity.grid", region=province, year=year)
        assert factor.geography in (province, shipped.grid_regions[province][0], "national")


def test_a_county_takes_its_provinces_factor(shipped):
    assert shipped.factor("electricity.grid", region="510104") == shipped.factor("electricity.grid", region="510000")


def test_the_airport_table_covers_the_busiest_chinese_airports_and_the_main_hubs(shipped):
    busiest = ["PEK", "PKX", "PVG", "SHA", "CAN", "SZX", "CTU", "TFU", "CKG", "KMG", "XIY", "HGH", "WUH", "CSX",
               "NKG", "XMN", "TAO", "URC", "HAK", "SYX", "LHW", "HRB", "SHE", "DLC", "TSN", "CGO", "KWE", "NNG",
               "LXA", "HKG", "MFM", "TPE"]
    hubs = ["NRT", "HND", "ICN", "SIN", "BKK", "DXB", "DOH", "IST", "LHR", "CDG", "FRA", "AMS", "JFK", "LAX",
            "SFO", "SYD", "SVO"]
    assert not [code for code in busiest + hubs if code not in shipped.airports]
    assert sum(1 for a in shipped.airports.values() if a.country == "CN") >= 230
    for airport in shipped.airports.values():
        assert airport.name_zh and airport.name_en and airport.city_zh, airport


def test_every_division_finds_coordinates(shipped):
    missing = [code for code in divisions() if code[:2] not in NOT_MAINLAND and shipped.place(code) is None]
    assert missing == []


@pytest.mark.parametrize("name, find, replace, message", [
    ("factors.csv", ",official,2024-04-01,", ",probably,2024-04-01,", "status 'probably'"),
    ("factors.csv", "electricity.grid,电网平均排放因子 (grid average),0.5568,kgCO2/kWh,national,2021,",
     "electricity.grid,电网平均排放因子 (grid average),0.5568,kgCO2/kWh,atlantis,2021,", "unknown geography"),
    ("factors.csv", ",0.5568,kgCO2/kWh,", ",-0.5568,kgCO2/kWh,", "finite number ≥ 0"),
    ("factors.csv", ",0.5568,kgCO2/kWh,", ",0.5568,kgCO2/kWh,extra,", "columns"),
    ("airports.csv", "\nPEK,", "\nP3K,", "IATA"),
    ("factors.csv", ",2024-04-01,", ",2024-13-01,", "not a date"),
    ("factors.csv", "key,name,value,", "key,name,amount,", "the header lacks the column 'value'"),
    ("grid_regions.csv", "division,division_name,", "division,", "the header lacks the column 'division_name'"),
    ("species.csv", "\nspecies,", "\nkind,", "the header lacks the column 'species'"),
])
def test_a_broken_data_file_is_refused_naming_the_file_and_line(files, name, find, replace, message):
    broken = {**files, name: files[name].replace(find, replace, 1)}
    assert broken[name] != files[name]
    with pytest.raises(DataFileError, match=rf"{name}:\d+: .*{message}"):
        library.parse(broken)


def test_a_repeated_factor_is_refused(files):
    first = next(line for line in files["factors.csv"].splitlines() if line.startswith("flight.pkm,"))
    repeated_at = len(files["factors.csv"].splitlines()) + 1
    with pytest.raises(DataFileError, match=rf"factors.csv:{repeated_at}: .* appears twice"):
        library.parse({**files, "factors.csv": files["factors.csv"] + first + "\n"})
