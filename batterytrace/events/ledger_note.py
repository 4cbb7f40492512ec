"""C2SP checkpoints as C2SP signed notes with Ed25519: the ledger's signed tree heads.

Why these formats: they are what Go's checksum database, Trillian/Tessera logs and Sigstore's Rekor
publish, so a regulator or a participant can check a batterytrace checkpoint with their tools
(``golang.org/x/mod/sumdb/note``) as well as with ours.

- checkpoint (c2sp.org/tlog-checkpoint): ``<origin>\\n<tree size>\\n<base64 root>\\n``;
- signed note (c2sp.org/signed-note): the text, a blank line, then one line per signature,
  ``— <key name> <base64(key id || signature)>\\n``; the key id is the first 4 bytes of
  ``SHA-256(key name || 0x0A || 0x01 || public key)``; the signature covers the text with its
  final newline;
- verifier key: ``<name>+<hex key id>+<base64(0x01 || public key)>``; the signer key (the key
  file) is Go's ``PRIVATE+KEY+<name>+<hex key id>+<base64(0x01 || private seed)>``.

Pure: the caller reads and writes the files.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

ED25519 = 0x01
SIGNATURE_PREFIX = "\u2014 "  # an em dash and a space
MAX_NOTE_BYTES = 64 * 1024  # a checkpoint is a few hundred bytes; anything far larger is refused
MAX_SIGNATURES = 100
_NAME = re.compile(r"[^\s+]+")


class NoteError(ValueError):
    """A note, checkpoint or key that is malformed, or whose signature does not verify."""


def _b64decode(text: str, what: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise NoteError(f"{what} is not base64") from None


def check_key_name(name: str) -> str:
    """A key name: non-empty, without spaces or ``+`` (the signed-note rule)."""
    if not _NAME.fullmatch(name) or len(name) > 200:
        raise NoteError(f"{name!r} cannot name a key: use letters, digits and / . - _ (no spaces, no +)")
    return name


def key_id(name: str, public_key: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + bytes([ED25519]) + public_key).digest()[:4]


@dataclass(frozen=True)
class Verifier:
    """A public key and its name, as the verifier key text names them."""

    name: str
    public_key: bytes

    @property
    def key_id(self) -> bytes:
        return key_id(self.name, self.public_key)

    def text(self) -> str:
        encoded = base64.b64encode(bytes([ED25519]) + self.public_key).decode()
        return f"{self.name}+{self.key_id.hex()}+{encoded}"

    def verify(self, message: bytes, signature: bytes) -> bool:
        try:
            Ed25519PublicKey.from_public_bytes(self.public_key).verify(signature, message)
        except InvalidSignature:
            return False
        return True


@dataclass(frozen=True)
class Signer:
    """A private key and its name (the ledger's key file)."""

    name: str
    seed: bytes

    @classmethod
    def generate(cls, name: str) -> Signer:
        from cryptography.hazmat.primitives.serialization import NoEncryption, PrivateFormat

        key = Ed25519PrivateKey.generate()
        seed = key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        return cls(check_key_name(name), seed)

    def verifier(self) -> Verifier:
        public = Ed25519PrivateKey.from_private_bytes(self.seed).public_key()
        return Verifier(self.name, public.public_bytes(Encoding.Raw, PublicFormat.Raw))

    def text(self) -> str:
        encoded = base64.b64encode(bytes([ED25519]) + self.seed).decode()
        return f"PRIVATE+KEY+{self.name}+{self.verifier().key_id.hex()}+{encoded}"

    def sign(self, message: bytes) -> bytes:
        return Ed25519PrivateKey.from_private_bytes(self.seed).sign(message)


def parse_signer(text: str) -> Signer:
    """A key file's text; its key id must match its key."""
    parts = text.strip().split("+", 4)
    if len(parts) != 5 or parts[:2] != ["PRIVATE", "KEY"]:
        raise NoteError("not a signer key (PRIVATE+KEY+<name>+<id>+<key>)")
    name, hex_id, encoded = check_key_name(parts[2]), parts[3], parts[4]
    raw = _b64decode(encoded, "the key")
    if len(raw) != 33 or raw[0] != ED25519:
        raise NoteError("the signer key is not an Ed25519 key")
    signer = Signer(name, raw[1:])
    if signer.verifier().key_id.hex() != hex_id.lower():
        raise NoteError("the signer key's id does not match its key")
    return signer


def parse_verifier(text: str) -> Verifier:
    """A verifier key's text (``name+id+key``); its key id must match its name and key."""
    parts = text.strip().split("+", 2)
    if len(parts) != 3:
        raise NoteError("not a verifier key (<name>+<id>+<key>)")
    name, hex_id, encoded = check_key_name(parts[0]), parts[1], parts[2]
    raw = _b64decode(encoded, "the key")
    if len(raw) != 33 or raw[0] != ED25519:
        raise NoteError("the verifier key is not an Ed25519 key")
    verifier = Verifier(name, raw[1:])
    if verifier.key_id.hex() != hex_id.lower():
        raise NoteError("the verifier key's id does not match its name and key")
    return verifier


# ------------------------------------------------------------------------------------ notes
def sign_note(text: str, signer: Signer) -> str:
    """The signed note of ``text`` (which ends in a newline and has no blank line)."""
    if not text.endswith("\n") or "\n\n" in text or not text.strip():
        raise NoteError("a note's text is non-empty lines, each ending in a newline")
    signature = signer.sign(text.encode())
    line = base64.b64encode(signer.verifier().key_id + signature).decode()
    return f"{text}\n{SIGNATURE_PREFIX}{signer.name} {line}\n"


def open_note(note: str, verifier: Verifier) -> str:
    """The text of a note signed by ``verifier``; ``NoteError`` when it is malformed, not signed
    by that key, or signed with a bad signature (which rejects the note, whatever else signs
    it: the signed-note rule)."""
    if len(note.encode()) > MAX_NOTE_BYTES:
        raise NoteError(f"the note is larger than {MAX_NOTE_BYTES} bytes")
    cut = note.rfind("\n\n")
    if cut < 0 or not note.endswith("\n"):
        raise NoteError("not a signed note (text, a blank line, signature lines)")
    text, lines = note[: cut + 1], note[cut + 2 :].splitlines()
    if len(lines) > MAX_SIGNATURES:
        raise NoteError("too many signatures")
    for line in lines:
        if not line.startswith(SIGNATURE_PREFIX):
            raise NoteError("a signature line does not start with an em dash")
        name, _, encoded = line[len(SIGNATURE_PREFIX) :].partition(" ")
        raw = _b64decode(encoded, "a signature")
        if len(raw) < 5:
            raise NoteError("a signature line is too short")
        if name != verifier.name or raw[:4] != verifier.key_id:
            continue  # another key's signature: not ours to judge
        if not verifier.verify(text.encode(), raw[4:]):
            raise NoteError(f"the signature of {name} does not verify: the note was changed")
        return text
    raise NoteError(f"the note is not signed by {verifier.name} ({verifier.key_id.hex()})")


# ------------------------------------------------------------------------------ checkpoints
@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes

    def text(self) -> str:
        return f"{self.origin}\n{self.size}\n{base64.b64encode(self.root).decode()}\n"


def parse_checkpoint(text: str) -> Checkpoint:
    """A checkpoint's origin, size and root (extension lines after them are allowed, ignored)."""
    lines = text.split("\n")
    if len(lines) < 4 or lines[-1] != "":
        raise NoteError("a checkpoint is an origin line, a tree size line and a root hash line")
    origin, size_text, root_text = lines[0], lines[1], lines[2]
    if not origin or not size_text.isdigit() or (size_text != "0" and size_text.startswith("0")):
        raise NoteError("a checkpoint's tree size is a decimal number without leading zeros")
    root = _b64decode(root_text, "the checkpoint's root hash")
    if len(root) != 32:
        raise NoteError("the checkpoint's root hash is not a SHA-256 hash")
    return Checkpoint(origin, int(size_text), root)


def open_checkpoint(note: str, verifier: Verifier, origin: str | None = None) -> Checkpoint:
    """A signed checkpoint, verified; with ``origin``, also checked to be that log's."""
    checkpoint = parse_checkpoint(open_note(note, verifier))
    if origin is not None and checkpoint.origin != origin:
        raise NoteError(f"the checkpoint is of log {checkpoint.origin!r}, not {origin!r}")
    return checkpoint
