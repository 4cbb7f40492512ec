"""The demo's national cast: enterprises, whitelist grants and collection points.

Registered once, before any battery is generated, so that every battery command later runs
against participants and outlets that the store really holds. They are recorded as if the platform
had opened a few weeks before the first battery was made (``PLATFORM_OPENS``), one registration a
minute, and each whitelist grant on its effective day (or now, for one announced in advance). The
cast is a small table rather than random names: a demo is easier to explore when the same
recognisable enterprises appear in every run. Only the organisation-code part of each credit code
comes from the seed.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from batterytrace.demo.reports import PLATFORM_OPENS, ReportClock
from batterytrace.events.base import CHINA_STANDARD_TIME
from batterytrace.events.collection_point import CollectionPoint, CollectionPointKind
from batterytrace.events.credit_code import ALPHABET, credit_code_check_character
from batterytrace.events.participant import Activity, Participant
from batterytrace.events.regions import Division, division, prefectures, provinces
from batterytrace.trace.application import BatteryTrace

COLLECTION_CAPACITY_KG = 5_000  # collection-type outlet: about 5 t at most (domain.md)
CENTRAL_STORAGE_CAPACITY_KG = 30_000  # central storage: at least 30 t
BATTERIES_PER_POINT = 200  # one more outlet per this many batteries, above one per prefecture
MAX_COLLECTION_POINTS = 4_000  # the national plan aims at >10,000; a demo stays smaller
POINT_BATCH = 500  # outlets registered per transaction

# Whitelist batches of the comprehensive-utilisation conditions (demo dates, one per batch).
WHITELIST_BATCHES = {
    1: date(2018, 9, 1),
    2: date(2020, 12, 1),
    3: date(2021, 12, 1),
    4: date(2022, 11, 1),
    5: date(2024, 6, 1),
}

# 2020 census population, millions: where vehicles (and so outlets) are.
POPULATION = {
    "11": 21.9, "12": 13.9, "13": 74.6, "14": 34.9, "15": 24.0, "21": 42.6, "22": 24.1,
    "23": 31.9, "31": 24.9, "32": 84.7, "33": 64.6, "34": 61.0, "35": 41.5, "36": 45.2,
    "37": 101.5, "41": 99.4, "42": 57.8, "43": 66.4, "44": 126.0, "45": 50.1, "46": 10.1,
    "50": 32.1, "51": 83.7, "52": 38.6, "53": 47.2, "54": 3.6, "61": 39.5, "62": 25.0,
    "63": 5.9, "64": 7.2, "65": 25.9,
}  # fmt: skip


@dataclass(frozen=True)
class Enterprise:
    """One row of the cast table. ``name`` is the registered (Chinese) name, the one the
    platform records; its English name is in ``ENGLISH_NAMES``."""

    key: str  # stable handle used by the generator, e.g. "manufacturer-1"
    name: str
    roles: tuple[str, ...]
    division_code: str
    manufacturer_codes: tuple[str, ...] = ()
    whitelist: tuple[tuple[Activity, int], ...] = ()  # (activity, batch number)
    wmi: str | None = None  # vehicle makers: world manufacturer identifier of their VINs


MFR, VM = ("manufacturer",), ("vehicle_maker", "outlet_operator")
OUTLET, ELV, CU, REC = ("outlet_operator",), ("dismantler",), ("cascade_user",), ("recycler",)
SWAP = ("swap_operator",)
RECYCLING, CASCADE = Activity.RECYCLING, Activity.CASCADE_USE
CAST: tuple[Enterprise, ...] = (
    Enterprise("manufacturer-1", "宁德纪元电芯有限公司", MFR, "350900", ("0CE", "0CF")),
    Enterprise("manufacturer-2", "福迪动力电池有限公司", MFR, "440300", ("0FD",)),
    Enterprise("manufacturer-3", "中创航空锂电有限公司", MFR, "320400",
               ("0CL", "0CM")),
    Enterprise("manufacturer-4", "国轩高科动力有限公司", MFR, "340100",
               ("0GX",)),
    Enterprise("manufacturer-5", "亿维锂能有限公司", MFR, "441300",
               ("0EV", "0EW")),
    Enterprise("manufacturer-6", "蜂巢能源科技有限公司", MFR, "320400",
               ("0SV",)),
    Enterprise("vehicle-maker-1", "深圳福迪汽车有限公司", VM, "440300", wmi="LGX"),
    Enterprise("vehicle-maker-2", "上海蔚来汽车有限公司", VM, "310100", wmi="LJ1"),
    Enterprise("vehicle-maker-3", "杭州吉利新能源汽车有限公司", VM, "330100", wmi="L6T"),
    Enterprise("vehicle-maker-4", "广州埃安汽车有限公司", VM, "440100", wmi="LMG"),
    Enterprise("vehicle-maker-5", "重庆长安新能源汽车有限公司", VM, "500100", wmi="LS5"),
    Enterprise("outlet-1", "绿网电池回收服务有限公司", OUTLET, "110100"),
    Enterprise("outlet-2", "华新回收服务有限公司", OUTLET, "420100"),
    Enterprise("outlet-3", "四川电池回收网络有限公司", OUTLET, "510100"),
    Enterprise("dismantler-1", "苏州报废汽车拆解有限公司", ELV, "320500"),
    Enterprise("dismantler-2", "天津环球报废汽车回收有限公司", ELV, "120100"),
    Enterprise("dismantler-3", "武汉汽车拆解有限公司", ELV, "420100"),
    Enterprise("dismantler-4", "广州报废汽车回收有限公司", ELV, "440100"),
    Enterprise("cascade-1", "长沙梯次储能有限公司", CU, "430100",
               ("9CU",), ((CASCADE, 1),)),
    Enterprise("cascade-2", "北京铁塔备用能源有限公司", CU, "110100",
               ("9TW",), ((CASCADE, 2),)),
    Enterprise("cascade-3", "厦门储能再利用有限公司", CU, "350200",
               ("9XR",), ((CASCADE, 4),)),
    Enterprise("recycler-1", "衢州华友钴业回收有限公司", REC, "330800",
               whitelist=((RECYCLING, 1),)),
    Enterprise("recycler-2", "赣州豪鹏回收有限公司", REC, "360700",
               whitelist=((RECYCLING, 1),)),
    Enterprise("recycler-3", "荆门格林材料有限公司", REC, "420800",
               whitelist=((RECYCLING, 2),)),
    Enterprise("recycler-4", "湖南邦普循环科技有限公司", REC, "430100",
               whitelist=((RECYCLING, 3),)),
    Enterprise("recycler-5", "广东光华资源有限公司", REC, "440500",
               whitelist=((RECYCLING, 5),)),
    Enterprise("informal-1", "临沂后街金属作坊", REC, "371300"),
    Enterprise("informal-2", "保定冶炼厂有限公司", REC, "130600"),
    Enterprise("swap-1", "易换能源科技有限公司", SWAP, "440300"),
)  # fmt: skip
# The cast's English names, shown on English pages (``name_en``); by registered name.
ENGLISH_NAMES = {
    "宁德纪元电芯有限公司": "Ningde Era Cells Co.",
    "福迪动力电池有限公司": "Fudi Power Battery Co.",
    "中创航空锂电有限公司": "Zhongchuang Aviation Lithium Co.",
    "国轩高科动力有限公司": "Guoxuan High-Tech Power Co.",
    "亿维锂能有限公司": "Yiwei Lithium Energy Co.",
    "蜂巢能源科技有限公司": "Fengchao Energy Technology Co.",
    "深圳福迪汽车有限公司": "Shenzhen Fudi Auto Co.",
    "上海蔚来汽车有限公司": "Shanghai Weilai Motors Co.",
    "杭州吉利新能源汽车有限公司": "Hangzhou Jili New Energy Vehicle Co.",
    "广州埃安汽车有限公司": "Guangzhou Aian Motors Co.",
    "重庆长安新能源汽车有限公司": "Chongqing Changan New Energy Co.",
    "绿网电池回收服务有限公司": "Green Network Battery Outlets Co.",
    "华新回收服务有限公司": "Huaxin Recycling Services Co.",
    "四川电池回收网络有限公司": "Sichuan Battery Return Network Co.",
    "苏州报废汽车拆解有限公司": "Suzhou ELV Dismantling Co.",
    "天津环球报废汽车回收有限公司": "Tianjin Huanqiu ELV Recycling Co.",
    "武汉汽车拆解有限公司": "Wuhan Auto Disassembly Co.",
    "广州报废汽车回收有限公司": "Guangzhou ELV Recovery Co.",
    "长沙梯次储能有限公司": "Changsha Second Life Storage Co.",
    "北京铁塔备用能源有限公司": "Beijing Tower Backup Energy Co.",
    "厦门储能再利用有限公司": "Xiamen Storage Reuse Co.",
    "衢州华友钴业回收有限公司": "Quzhou Huayou Cobalt Recycling Co.",
    "赣州豪鹏回收有限公司": "Ganzhou Haopeng Recycling Co.",
    "荆门格林材料有限公司": "Jingmen Green Materials Co.",
    "湖南邦普循环科技有限公司": "Hunan Bangpu Recycling Technology Co.",
    "广东光华资源有限公司": "Guangdong Guanghua Resources Co.",
    "临沂后街金属作坊": "Linyi Backstreet Metals Workshop",
    "保定冶炼厂有限公司": "Baoding Smelting Works Co.",
    "易换能源科技有限公司": "Yihuan Energy Technology Co.",
    "工业和信息化部动力电池溯源管理办公室": "MIIT Power Battery Traceability Office",
}
# What an operator's outlets are called after: (Chinese, English) brand, by cast key.
OUTLET_BRANDS = {
    "vehicle-maker-1": ("福迪汽车", "Fudi Auto"),
    "vehicle-maker-2": ("蔚来", "Weilai"),
    "vehicle-maker-3": ("吉利", "Jili"),
    "vehicle-maker-4": ("埃安", "Aian"),
    "vehicle-maker-5": ("长安新能源", "Changan New Energy"),
    "outlet-1": ("绿网", "Green Network"),
    "outlet-2": ("华新", "Huaxin"),
    "outlet-3": ("川回收", "Sichuan Return"),
}
_BRAND_BY_NAME = {row.name: OUTLET_BRANDS[row.key] for row in CAST if row.key in OUTLET_BRANDS}
GRANTS_RECORDED_AT = time(10, 0, tzinfo=CHINA_STANDARD_TIME)  # on the grant's effective day
REGULATOR_NAME = "工业和信息化部动力电池溯源管理办公室"
REGULATOR_DIVISION = "110000"


@dataclass
class DemoCast:
    """The registered participants, loaded once and kept in memory for the whole run."""

    regulator: Participant
    by_key: dict[str, Participant]
    wmi: dict[str, str]  # vehicle maker id -> WMI
    events: int = 0
    by_id: dict[str, Participant] = field(init=False)

    def __post_init__(self) -> None:
        self.by_id = {p.id: p for p in [self.regulator, *self.by_key.values()]}

    def role(self, prefix: str) -> list[Participant]:
        """The participants whose cast key starts with ``prefix``, in table order."""
        return [p for key, p in self.by_key.items() if key.startswith(prefix)]

    @property
    def outlet_operators(self) -> list[Participant]:
        return self.role("vehicle-maker") + self.role("outlet")


@dataclass
class DemoPoints:
    """The registered collection points and what the demo leaves stored at each.

    ``held_kg`` lets the generator keep outlets within capacity (except the one planted over
    capacity): memory is one number per outlet, not per battery.
    """

    by_id: dict[str, CollectionPoint] = field(default_factory=dict)
    by_prefecture: dict[str, list[str]] = field(default_factory=dict)  # collection kind only
    central: dict[str, str] = field(default_factory=dict)  # province prefix -> central storage
    held_kg: dict[str, float] = field(default_factory=dict)
    sequence: dict[str, int] = field(default_factory=dict)  # prefecture -> last outlet number
    reserved: set[str] = field(default_factory=set)  # outlets ordinary lives leave alone
    events: int = 0

    def with_room(self, rng: random.Random, prefecture: str, mass_kg: float) -> str | None:
        """An outlet of the prefecture that can still take ``mass_kg``, else the province's
        central storage, else None."""
        candidates = self.local(prefecture)
        rng.shuffle(candidates)
        central = self.central.get(prefecture[:2])
        for point_id in [*candidates, *([central] if central else [])]:
            if self.has_room(point_id, mass_kg):
                return point_id
        return None

    def any(self, rng: random.Random, prefecture: str) -> str:
        """An outlet of the prefecture for a battery that passes through."""
        candidates = self.local(prefecture)
        return rng.choice(candidates) if candidates else self.central[prefecture[:2]]

    def local(self, prefecture: str) -> list[str]:
        return [p for p in self.by_prefecture.get(prefecture, []) if p not in self.reserved]

    def has_room(self, point_id: str, mass_kg: float) -> bool:
        point = self.by_id[point_id]
        return self.held_kg.get(point_id, 0.0) + mass_kg <= 0.9 * point.capacity_kg

    def hold(self, point_id: str, mass_kg: float) -> None:
        self.held_kg[point_id] = self.held_kg.get(point_id, 0.0) + mass_kg


def make_credit_code(rng: random.Random, division_code: str, prefix: str = "91") -> str:
    """A valid Unified Social Credit Code: authority+type, division, organisation code, check."""
    organisation = "MA" + "".join(rng.choices(ALPHABET, k=7))
    first17 = f"{prefix}{division_code}{organisation}"
    return first17 + credit_code_check_character(first17)


def register_cast(app: BatteryTrace, rng: random.Random, reports: ReportClock) -> DemoCast:
    """Register the regulator (bootstrap), every enterprise, and the whitelist grants."""
    regulator_id = make_credit_code(rng, REGULATOR_DIVISION, prefix="11")
    reports.at(PLATFORM_OPENS)
    events = len(
        app.register_participant(
            actor_id=None,
            credit_code=regulator_id,
            name=REGULATOR_NAME,
            name_en=ENGLISH_NAMES[REGULATOR_NAME],
            roles=["regulator"],
        ).events
    )
    ids: dict[str, str] = {}
    for number, row in enumerate(CAST, start=1):
        ids[row.key] = make_credit_code(rng, row.division_code)
        reports.at(PLATFORM_OPENS + timedelta(minutes=number))
        result = app.register_participant(
            actor_id=regulator_id,
            credit_code=ids[row.key],
            name=row.name,
            name_en=ENGLISH_NAMES.get(row.name),
            roles=list(row.roles),
            manufacturer_codes=list(row.manufacturer_codes),
            division_code=row.division_code,
        )
        events += len(result.events)
        for activity, batch in row.whitelist:
            reports.at(datetime.combine(WHITELIST_BATCHES[batch], GRANTS_RECORDED_AT))
            granted = app.grant_whitelist(
                actor_id=regulator_id,
                participant_id=ids[row.key],
                activity=activity.value,
                effective_on=WHITELIST_BATCHES[batch],
            )
            events += len(granted.events)
    return DemoCast(
        regulator=app.participant(regulator_id),
        by_key={key: app.participant(pid) for key, pid in ids.items()},
        wmi={ids[row.key]: row.wmi for row in CAST if row.wmi},
        events=events,
    )


def point_count(batteries: int) -> int:
    """Collection-type outlets: one per prefecture at least, more as the fleet grows."""
    return min(MAX_COLLECTION_POINTS, max(len(prefectures()), batteries // BATTERIES_PER_POINT))


def register_points(
    app: BatteryTrace, cast: DemoCast, rng: random.Random, batteries: int, reports: ReportClock
) -> DemoPoints:
    """Register one collection outlet per prefecture, extra ones in populous provinces, and one
    central storage per province (in its capital, the province's first prefecture).

    Each operator registers its own outlets with the domain command that
    ``BatteryTrace.register_collection_point`` runs, and the regulator approves each (an
    operator's outlet is pending review, left out of public pages, until then); saved
    ``POINT_BATCH`` per transaction: thousands of one-outlet transactions would dominate a small
    demo's run time. They are recorded after the cast, one a minute.
    """
    points = DemoPoints()
    layout = _layout(rng, point_count(batteries))
    operators = cast.outlet_operators
    weights = [3 if "vehicle_maker" in p.roles else 2 for p in operators]
    batch: list[CollectionPoint] = []
    opened = PLATFORM_OPENS + timedelta(minutes=len(CAST) + 1)
    for number, (prefecture, kind) in enumerate(layout):
        reports.at(opened + timedelta(minutes=number))
        operator = rng.choices(operators, weights)[0]
        point = _point(rng, points, prefecture, kind, operator)
        point.approve(by=cast.regulator, note="outlet conditions checked")
        points.by_id[point.id] = point
        if kind == CollectionPointKind.CENTRAL_STORAGE:
            points.central[prefecture.code[:2]] = point.id
        else:
            points.by_prefecture.setdefault(prefecture.code, []).append(point.id)
        batch.append(point)
        if len(batch) == POINT_BATCH:
            points.events += len(app.save(*batch))
            batch = []
    if batch:
        points.events += len(app.save(*batch))
    return points


def _layout(rng: random.Random, collection_points: int) -> list[tuple[Division, str]]:
    """Which prefecture gets which outlet: each prefecture one, the rest by population."""
    all_prefectures = prefectures()
    layout = [(p, CollectionPointKind.COLLECTION.value) for p in all_prefectures]
    by_province: dict[str, list[Division]] = {}
    for prefecture in all_prefectures:
        by_province.setdefault(prefecture.code[:2], []).append(prefecture)
    province_codes = list(by_province)
    weights = [POPULATION[code] for code in province_codes]
    for _ in range(collection_points - len(all_prefectures)):
        province = rng.choices(province_codes, weights)[0]
        layout.append((rng.choice(by_province[province]), CollectionPointKind.COLLECTION.value))
    for province in provinces():
        capital = by_province[province.code[:2]][0]
        layout.append((capital, CollectionPointKind.CENTRAL_STORAGE.value))
    return layout


def _point(
    rng: random.Random,
    points: DemoPoints,
    prefecture: Division,
    kind: str,
    operator: Participant,
) -> CollectionPoint:
    """Build one outlet with the domain's own registration command (the same checks)."""
    sequence = points.sequence[prefecture.code] = points.sequence.get(prefecture.code, 0) + 1
    point_id = f"CP-{prefecture.code}-{sequence:04d}"
    central = kind == CollectionPointKind.CENTRAL_STORAGE
    return CollectionPoint.register(
        point_id=point_id,
        operator=operator,
        name=_point_name(operator, prefecture, sequence, central=central),
        name_en=_point_name_en(operator, prefecture, sequence, central=central),
        kind=kind,
        capacity_kg=CENTRAL_STORAGE_CAPACITY_KG if central else COLLECTION_CAPACITY_KG,
        address=f"{prefecture.name}环保产业园 {rng.randint(1, 399)}号",
        division_code=prefecture.code,
        latitude=round(prefecture.latitude + rng.uniform(-0.08, 0.08), 5),
        longitude=round(prefecture.longitude + rng.uniform(-0.08, 0.08), 5),
        by=operator,
    )


def _point_name(operator: Participant, prefecture: Division, sequence: int, *, central: bool) -> str:
    """An outlet's registered name: brand, prefecture, kind, number (绿网深圳市回收服务网点2号)."""
    brand = _BRAND_BY_NAME.get(operator.name, (operator.name.removesuffix("有限公司"), ""))[0]
    label = "集中贮存点" if central else "回收服务网点"
    return f"{brand}{prefecture.name}{label}{sequence}号"


def _point_name_en(operator: Participant, prefecture: Division, sequence: int, *, central: bool) -> str:
    """The same outlet in English. No source gives prefectures English names, so the outlet
    is placed by its province and division code (Green Network Collection Outlet 440300-2,
    Guangdong)."""
    fallback = (operator.name_en or operator.name).removesuffix(" Co.")
    brand = _BRAND_BY_NAME.get(operator.name, ("", fallback))[1]
    label = "Central Storage" if central else "Collection Outlet"
    province = division(prefecture.code[:2] + "0000")
    where = f", {province.name_en}" if province and province.name_en else ""
    return f"{brand} {label} {prefecture.code}-{sequence}{where}"
