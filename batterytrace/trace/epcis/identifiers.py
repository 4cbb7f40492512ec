"""The HTTP URIs that name batteries, vehicles, places and parties in EPCIS documents, both ways.

A GB/T 34014 code does not fit a GS1 key whole (AI 21 is at most 20 characters), and EPCIS 2.0
accepts any URI as an instance identifier, so a battery is the URL its QR code already carries
(``{public}/b/{code}``); a collection point is ``{public}/loc/{point}``, a swap station
``{public}/loc/{operator}/{label}``, a participant ``{public}/party/{credit code}``, each of which
the resolver answers. A vehicle is ``{public}/vehicle/{VIN}``; a caller who may not know the VIN
(``events/disclosure.py``) reads ``{public}/b/{code}/vehicle`` instead: "the vehicle this battery
was in", the same for every vehicle, so that nothing about the VIN leaks.
"""

from __future__ import annotations

import hashlib
import uuid
from urllib.parse import quote, unquote

from batterytrace.events.epcis_mapping import IdKind
from batterytrace.events.errors import InvalidInput

UNDISCLOSED_VEHICLE = "vehicle"  # the last path segment of a battery's undisclosed vehicle
_URL_NAMESPACE = uuid.NAMESPACE_URL.bytes


def name_based_uuid(name: str) -> str:
    """``str(uuid.uuid5(uuid.NAMESPACE_URL, name))`` (RFC 9562 §5.5) without building a ``UUID``
    object, which costs a whole store's export more than the rest of its eventID: the SHA-1 of
    namespace and name, cut to 16 bytes, with the version (5) and variant (10) bits set. Both
    are the high half of a byte, so they are set on the hex digits: the 13th becomes ``5``, the
    17th keeps its two low bits under ``10`` (``_VARIANT``)."""
    return _as_uuid(hashlib.sha1(_URL_NAMESPACE + name.encode(), usedforsecurity=False).hexdigest())


def _as_uuid(h: str) -> str:
    """A name-based UUID's text from its SHA-1 (hex): cut to 16 bytes, version and variant set."""
    return f"{h[:8]}-{h[8:12]}-5{h[13:16]}-{_VARIANT[h[16]]}{h[17:20]}-{h[20:32]}"


_VARIANT = {digit: f"{(int(digit, 16) & 0x3) | 0x8:x}" for digit in "0123456789abcdef"}


class Identifiers:
    """URIs under one public base URL (``BATTERYTRACE_PUBLIC_URL``)."""

    def __init__(self, public_url: str) -> None:
        self.base = public_url.rstrip("/")
        # the kinds named by their value alone: their URI is a prefix and the value
        self._prefixes = {
            IdKind.BATTERY: f"{self.base}/b/",
            IdKind.VEHICLE: f"{self.base}/vehicle/",
            IdKind.POINT: f"{self.base}/loc/",
            IdKind.PARTY: f"{self.base}/party/",
        }
        # the SHA-1 of every eventID's name starts the same (namespace, battery URL prefix):
        # hashed once, copied per event (a third less than hashing each name whole)
        self._event_id_seed = hashlib.sha1(_URL_NAMESPACE + f"{self.base}/b/".encode(), usedforsecurity=False)

    def battery(self, code: str) -> str:
        return f"{self.base}/b/{code}"

    def vehicle(self, vin: str) -> str:
        return f"{self.base}/vehicle/{vin}"

    def undisclosed_vehicle(self, code: str) -> str:
        return f"{self.battery(code)}/{UNDISCLOSED_VEHICLE}"

    def uri(self, kind: IdKind, value: str, *, holder: str | None = None) -> str:
        """The URI of ``value`` (a code, VIN, point id, credit code or label) as ``kind``;
        a site's and a station's label are their holder's (``holder``)."""
        prefix = self._prefixes.get(kind)
        if prefix is not None:
            return f"{prefix}{value}"
        if kind == IdKind.SITE:
            return f"{self.base}/site/{holder}/{quote(value, safe='')}"
        if kind == IdKind.STATION:
            return f"{self.base}/loc/{holder}/{quote(value, safe='')}"
        raise ValueError(f"no URI for {kind}")

    def value(self, kind: IdKind, uri: str) -> str:
        """The code, VIN, point id, credit code or label a URI of ``kind`` names; InvalidInput
        for a URI that is not one of this service's (a partner's own identifiers do not map)."""
        path = {
            IdKind.BATTERY: "b",
            IdKind.VEHICLE: "vehicle",
            IdKind.SITE: "site",
            IdKind.STATION: "loc",
            IdKind.POINT: "loc",
            IdKind.PARTY: "party",
        }[kind]
        prefix = f"{self.base}/{path}/"
        if not isinstance(uri, str) or not uri.startswith(prefix):
            raise InvalidInput(f"{uri!r} is not a {kind.name.lower()} identifier of this service ({prefix}…)")
        rest = uri[len(prefix) :]
        if kind in (IdKind.SITE, IdKind.STATION):
            rest = rest.split("/", 1)[-1]  # after the holder's credit code
        elif "/" in rest:
            raise InvalidInput(f"{uri!r} is not a {kind.name.lower()} identifier of this service")
        return unquote(rest)

    def event_id(self, code: str, version: int) -> str:
        """A battery event's EPCIS eventID: a name-based UUID of its place in the battery's stream.

        Stable (the same event always gets the same id, whatever the mapping becomes, which a hash
        of the event's EPCIS form would not be), unique (a code names one battery, a version one
        event of it) and the same after a round trip, where capture records the same events in the
        same order."""
        digest = self._event_id_seed.copy()  # name_based_uuid(f"{self.base}/b/{code}#{version}")
        digest.update(f"{code}#{version}".encode())
        return "urn:uuid:" + _as_uuid(digest.hexdigest())

    def own(self, kind: str, term: str) -> str:
        """A term of the service's own vocabulary (``bt:retiring``) as its URI."""
        return f"{self.base}/voc/{kind}/{term.split(':', 1)[-1]}"

    def material(self, name: str) -> str:
        return f"{self.base}/voc/material/{name}"

    @property
    def vocabulary(self) -> str:
        """The JSON-LD namespace of the ``bt:`` prefix (extension fields and own terms)."""
        return f"{self.base}/voc/"
