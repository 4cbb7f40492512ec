"""Signed checkpoints: C2SP checkpoint and signed-note forms, Ed25519, and every way a note can
be wrong (another key, a changed text, a changed signature, a malformed key) refused."""

from __future__ import annotations

import base64
import hashlib

import pytest

from batterytrace.events import ledger_note as n


def test_a_signed_checkpoint_opens_with_its_key_only() -> None:
    signer = n.Signer.generate("127.0.0.1:8000/ledger")
    checkpoint = n.Checkpoint("127.0.0.1:8000/ledger", 42, hashlib.sha256(b"root").digest())
    note = n.sign_note(checkpoint.text(), signer)
    text, _, signature = note.partition("\n\n")
    assert text + "\n" == checkpoint.text()
    assert text.split("\n") == ["127.0.0.1:8000/ledger", "42", base64.b64encode(checkpoint.root).decode()]
    assert signature.startswith("\u2014 127.0.0.1:8000/ledger ")
    assert n.open_checkpoint(note, signer.verifier(), "127.0.0.1:8000/ledger") == checkpoint

    other = n.Signer.generate("127.0.0.1:8000/ledger")
    with pytest.raises(n.NoteError, match="not signed by"):
        n.open_checkpoint(note, other.verifier())
    with pytest.raises(n.NoteError, match="does not verify"):
        n.open_checkpoint(note.replace("\n42\n", "\n43\n"), signer.verifier())
    with pytest.raises(n.NoteError, match="elsewhere"):
        n.open_checkpoint(note, signer.verifier(), "elsewhere/log")


def test_a_note_signed_by_another_key_with_the_same_id_is_refused() -> None:
    signer = n.Signer.generate("log")
    forger = n.Signer.generate("log")
    text = n.Checkpoint("log", 1, bytes(32)).text()
    line = base64.b64encode(signer.verifier().key_id + forger.sign(text.encode())).decode()
    with pytest.raises(n.NoteError, match="does not verify"):
        n.open_note(f"{text}\n\u2014 log {line}\n", signer.verifier())


def test_key_texts_round_trip_and_key_ids_follow_the_spec() -> None:
    signer = n.Signer.generate("example.com/log")
    verifier = signer.verifier()
    assert n.parse_signer(signer.text()) == signer
    assert n.parse_verifier(verifier.text()) == verifier
    name, hex_id, key = verifier.text().split("+", 2)
    raw = base64.b64decode(key)
    assert raw[0] == 1 and raw[1:] == verifier.public_key
    assert hex_id == hashlib.sha256(b"example.com/log\n\x01" + verifier.public_key).hexdigest()[:8]
    # a key id that does not match, a wrong type byte, junk
    with pytest.raises(n.NoteError):
        n.parse_verifier(f"{name}+00000000+{key}")
    with pytest.raises(n.NoteError):
        n.parse_verifier(f"{name}+{hex_id}+" + base64.b64encode(b"\x02" + raw[1:]).decode())
    with pytest.raises(n.NoteError):
        n.parse_verifier("not a key")
    with pytest.raises(n.NoteError):
        n.parse_signer(verifier.text())
    with pytest.raises(n.NoteError):
        n.Signer.generate("has space")


def test_go_sumdb_note_verifier_key_is_read() -> None:
    # the example verifier key of golang.org/x/mod/sumdb/note's documentation
    verifier = n.parse_verifier("PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW")
    assert verifier.name == "PeterNeumann" and verifier.key_id.hex() == "c74f20a3"


def test_malformed_checkpoints_are_refused() -> None:
    for text in (
        "log\n1\n",
        "log\n01\n" + base64.b64encode(bytes(32)).decode() + "\n",
        "log\nx\nAA==\n",
        "log\n1\nAA==\n",
    ):
        with pytest.raises(n.NoteError):
            n.parse_checkpoint(text)
    with pytest.raises(n.NoteError):
        n.open_note("x" * 70_000 + "\n\n", n.Signer.generate("log").verifier())
