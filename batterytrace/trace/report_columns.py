"""Each report's columns, in order, with the words people read for them in Chinese and English.

One table for the API (JSON rows, ``?format=csv``) and the CLI (``--format csv``, ``--output``), so a
file exported from either has the same columns in the same order. A CSV header is the column keys
(the JSON field names, what scripts read) unless the caller asks for a language (``?lang=zh``,
``--lang zh``), then the words below. Keys stay in English: they are the API's field names.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

HEADER_LANGUAGES = ("zh", "en")


@dataclass(frozen=True)
class Column:
    key: str
    zh: str
    en: str


def _columns(*rows: tuple[str, str, str]) -> tuple[Column, ...]:
    return tuple(Column(key, zh, en) for key, zh, en in rows)


_POINT = ("id", "回收服务网点编号", "collection point id")
_NAME = ("name", "名称", "name")
_OPERATOR = ("operator_id", "运营企业统一社会信用代码", "operator credit code")
_MANUFACTURER = ("manufacturer_id", "生产企业统一社会信用代码", "manufacturer credit code")
_CODE = ("code", "电池编码", "battery code")

REPORT_COLUMNS: dict[str, tuple[Column, ...]] = {
    "network": _columns(
        _POINT,
        _NAME,
        ("name_en", "名称（英文）", "name (English)"),
        _OPERATOR,
        ("kind", "网点类型", "kind"),
        ("division_code", "行政区划代码", "division code"),
        ("province_code", "省级代码", "province code"),
        ("prefecture_code", "地市级代码", "prefecture code"),
        ("latitude", "纬度", "latitude"),
        ("longitude", "经度", "longitude"),
        ("review", "审核状态", "review"),
        ("capacity_kg", "贮存能力（kg）", "capacity (kg)"),
        ("collected_count", "回收数量", "collected"),
        ("collected_kg", "回收重量（kg）", "collected (kg)"),
        ("collected_kwh", "回收电量（kWh）", "collected (kWh)"),
        ("on_hand_count", "在库数量", "on hand"),
        ("on_hand_kg", "在库重量（kg）", "on hand (kg)"),
        ("fill_ratio", "贮存占用率", "fill ratio"),
        ("over_capacity", "超出贮存能力", "over capacity"),
        ("handed_over_count", "移交数量", "handed over"),
        ("handed_over_kg", "移交重量（kg）", "handed over (kg)"),
        ("handed_compliant_count", "移交白名单企业数量", "handed to whitelisted"),
        ("recycled_count", "再生利用数量", "recycled"),
        ("cascade_used_count", "梯次利用数量", "cascade-used"),
    ),
    "regions": _columns(
        ("region_code", "区划代码", "region code"),
        ("region_name", "地区", "region"),
        ("region_name_en", "地区（英文）", "region (English)"),
        ("collection_points", "回收服务网点数", "collection points"),
        ("collected", "回收数量", "collected"),
        ("collected_kg", "回收重量（kg）", "collected (kg)"),
        ("on_hand_kg", "在库重量（kg）", "on hand (kg)"),
        ("handed_over", "移交数量", "handed over"),
        ("handed_to_whitelisted", "移交白名单企业数量", "handed to whitelisted"),
        ("whitelisted_share", "白名单移交占比", "whitelisted share"),
        ("recycled", "再生利用数量", "recycled"),
        ("cascade_used", "梯次利用数量", "cascade-used"),
    ),
    "flows": _columns(
        ("source_kind", "来源类型", "source kind"),
        ("source_id", "来源", "source"),
        ("receiver_id", "接收企业统一社会信用代码", "receiver credit code"),
        ("receiver_name", "接收企业", "receiver"),
        ("receiver_name_en", "接收企业（英文）", "receiver (English)"),
        ("activity", "用途", "activity"),
        ("count", "数量", "count"),
        ("mass_kg", "重量（kg）", "mass (kg)"),
        ("energy_kwh", "电量（kWh）", "energy (kWh)"),
        ("compliant_count", "合规数量", "compliant"),
    ),
    "monthly": _columns(
        ("month", "月份", "month"),
        _MANUFACTURER,
        ("manufacturer_name", "生产企业", "manufacturer"),
        ("manufacturer_name_en", "生产企业（英文）", "manufacturer (English)"),
        ("produced", "生产数量", "produced"),
        ("produced_kwh", "生产电量（kWh）", "produced (kWh)"),
        ("installed", "装车数量", "installed"),
        ("retired", "退役数量", "retired"),
        ("collected", "回收数量", "collected"),
        ("cascade_used", "梯次利用数量", "cascade-used"),
        ("recycled", "再生利用数量", "recycled"),
        ("recycled_whitelisted", "白名单企业再生利用数量", "recycled by whitelisted"),
        ("recovered_li_kg", "回收锂（kg）", "recovered Li (kg)"),
        ("recovered_ni_kg", "回收镍（kg）", "recovered Ni (kg)"),
        ("recovered_co_kg", "回收钴（kg）", "recovered Co (kg)"),
        ("recovered_mn_kg", "回收锰（kg）", "recovered Mn (kg)"),
        ("recovered_total_kg", "回收金属合计（kg）", "recovered total (kg)"),
        ("recycling_rate", "规范回收率", "recycling rate"),
    ),
    "swaps": _columns(
        ("month", "月份", "month"),
        ("operator_id", "换电运营商统一社会信用代码", "swap operator credit code"),
        ("operator_name", "换电运营商", "swap operator"),
        ("operator_name_en", "换电运营商（英文）", "swap operator (English)"),
        ("province_code", "省级代码", "province code"),
        ("province_name", "省份", "province"),
        ("province_name_en", "省份（英文）", "province (English)"),
        ("swaps", "换电次数", "swaps"),
    ),
    "overdue": _columns(
        _CODE,
        _MANUFACTURER,
        ("state", "状态", "state"),
        ("retired_at", "退役时间（北京时间）", "retired at (China Standard Time)"),
        ("days_since_retired", "退役天数", "days since retired"),
        ("held_by", "责任企业", "held by"),
        ("vin", "车辆识别代号", "VIN"),
    ),
    "compliance": _columns(
        ("kind", "问题类型", "kind"),
        _CODE,
        ("version", "事件序号", "event number"),
        ("event", "事件", "event"),
        _MANUFACTURER,
        ("actor_id", "报告企业统一社会信用代码", "reported by (credit code)"),
        ("occurred_at", "发生时间（北京时间）", "occurred at (China Standard Time)"),
        ("recorded_at", "上报时间（北京时间）", "recorded at (China Standard Time)"),
        ("detail", "详情", "detail"),
        ("collection_point_id", "回收服务网点编号", "collection point id"),
        ("due_at", "逾期起算时间（北京时间）", "late from (China Standard Time)"),
        ("due_by", "上报截止日", "due by"),
        ("deadline_working_days", "上报时限（工作日）", "deadline (working days)"),
        ("deadline_role", "时限适用角色", "deadline applies to"),
    ),
}


def column_keys(report: str) -> list[str]:
    """The report's columns in order: the JSON fields and the CSV columns."""
    return [column.key for column in REPORT_COLUMNS[report]]


def header_row(columns: Sequence[str], report: str | None = None, language: str | None = None) -> list[str]:
    """The CSV header: the keys themselves, or each column's words in ``language`` (a key the
    table does not name stays a key, so a new column still gets a header)."""
    if language is None or report is None:
        return list(columns)
    if language not in HEADER_LANGUAGES:
        raise ValueError(f"header language {language!r} is not one of {', '.join(HEADER_LANGUAGES)}")
    words = {column.key: getattr(column, language) for column in REPORT_COLUMNS[report]}
    return [words.get(key, key) for key in columns]
