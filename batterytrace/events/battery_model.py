"""A battery model's data for the EU battery passport, posted once per model by its manufacturer.

Regulation (EU) 2023/1542 Annex XIII asks for much that is the same for every battery of a model:
the manufacturer's addresses, the manufacturing place, the warranty, the carbon footprint and its
class, the material composition, hazardous substances, critical raw materials, recycled content,
dismantling information and the links to the declaration of conformity and the test reports. A
model is one aggregate, keyed by its **model code**: the first seven characters of a GB/T 34014
code (manufacturer code, product type, battery type, specification code), so a battery finds its
model from its own code, and the model's owner is whoever owns the manufacturer code — the same rule
that lets a manufacturer produce only codes with its own manufacturer code.

The data itself is a JSON object whose sections are the Battery Pass aspects' own fields; its shape
and bounds are checked where it enters (``trace/passport/model_data.py``), its total size here.
Posting the same data again changes nothing; different data replaces the model's data as a whole
(``Replaced``), so the history of what a passport said is kept.
"""

from __future__ import annotations

import json
import re
from typing import Any

from eventsourcing.domain import event

from batterytrace.events.base import TraceAggregate
from batterytrace.events.conventions import BATTERY_TYPES, CHEMISTRY_ALIASES, PRODUCT_TYPES
from batterytrace.events.errors import InvalidInput, NotAuthorised
from batterytrace.events.participant import Participant, Role

MODEL_CODE_LENGTH = 7
MODEL_DATA_MAX_BYTES = 64_000  # a model's data as compact JSON; far above a real model's ~5 kB
_MODEL_CODE = re.compile(r"[0-9A-Z]{7}")


def parse_model_code(text: str) -> str:
    """A model code (``3CAPB12``): manufacturer code, product type, battery type, specification."""
    code = text.strip().upper() if text.isascii() else text.strip()
    if not _MODEL_CODE.fullmatch(code):
        raise InvalidInput(
            f"model code {text!r} must be the first {MODEL_CODE_LENGTH} characters of a GB/T 34014 "
            "code (manufacturer code, product type, battery type, specification code), e.g. 3CAPB12"
        )
    if code[3] not in PRODUCT_TYPES:
        raise InvalidInput(f"model code {code}: product type {code[3]!r} (position 4) is unknown")
    if code[4] not in BATTERY_TYPES:
        raise InvalidInput(f"model code {code}: battery type {code[4]!r} (position 5) is unknown")
    return code


def model_code_of(battery_code: str) -> str:
    """The model code of a (parsed, valid) battery code."""
    return battery_code[:MODEL_CODE_LENGTH]


def model_stream_id(model_code: str) -> str:
    return f"MODEL-{model_code}"


def _checked_data(data: dict[str, Any]) -> dict[str, Any]:
    if not isinstance(data, dict) or not data:
        raise InvalidInput("a model's data is a JSON object with its passport sections")
    size = len(json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
    if size > MODEL_DATA_MAX_BYTES:
        raise InvalidInput(
            f"a model's data is at most {MODEL_DATA_MAX_BYTES} bytes as JSON; this is {size} "
            "(link long documents by their web address instead of including them)"
        )
    return data


def _check_chemistry(model_code: str, data: dict[str, Any]) -> None:
    """A declared chemistry the code's battery type contradicts is a data error (as in production):
    a model ``3CAPB12`` (B: lithium iron phosphate) posted as NMC would mislabel every battery."""
    declared = data.get("material_composition", {}).get("batteryChemistry", {}).get("shortName", "")
    letter = CHEMISTRY_ALIASES.get(str(declared).strip().upper())
    if letter is not None and letter != model_code[4]:
        raise InvalidInput(
            f"chemistry {declared!r} does not match model {model_code}, whose battery type "
            f"{model_code[4]} means {BATTERY_TYPES[model_code[4]]}"
        )


def require_model_owner(model_code: str, actor: Participant, code_owner_id: str | None) -> None:
    """Only the owner of the model code's manufacturer code posts its data (as in production)."""
    actor.require_role(Role.MANUFACTURER, Role.CASCADE_USER, to="post a battery model's passport data")
    maker = model_code[:3]
    if code_owner_id != actor.id or maker not in actor.manufacturer_codes:
        raise NotAuthorised(
            f"{actor.name} ({actor.id}) cannot post model {model_code}: manufacturer code {maker} is "
            f"not one of yours; you own {', '.join(actor.manufacturer_codes) or 'no manufacturer code'}",
            detail=f"manufacturer code {maker} belongs to {code_owner_id or 'nobody registered'}",
            key="model.not_owner",
            params={"model": model_code},
        )


class BatteryModel(TraceAggregate):
    """One battery model's passport data (module doc)."""

    @staticmethod
    def create_id(model_code: str, **_: object) -> str:
        return model_stream_id(model_code)

    @classmethod
    def post(
        cls, *, model_code: str, data: dict[str, Any], actor: Participant, code_owner_id: str | None
    ) -> BatteryModel:
        """The first data of a model, by the owner of its manufacturer code."""
        code = parse_model_code(model_code)
        require_model_owner(code, actor, code_owner_id)
        checked = _checked_data(data)
        _check_chemistry(code, checked)
        return cls(model_code=code, manufacturer_id=actor.id, data=checked, actor_id=actor.id)

    @event("Posted")
    def __init__(self, *, model_code: str, manufacturer_id: str, data: dict[str, Any], actor_id: str) -> None:
        self.model_code = model_code
        self.manufacturer_id = manufacturer_id
        self.data = dict(data)
        self.posted_by = actor_id

    def replace(self, *, data: dict[str, Any], actor: Participant, code_owner_id: str | None) -> None:
        """New data for the model, by its owner; the same data again records nothing."""
        require_model_owner(self.model_code, actor, code_owner_id)
        checked = _checked_data(data)
        _check_chemistry(self.model_code, checked)
        if checked == self.data:
            return
        self._replaced(data=checked, actor_id=actor.id)

    @event("Replaced")
    def _replaced(self, data: dict[str, Any], actor_id: str) -> None:
        self.data = dict(data)
        self.posted_by = actor_id
