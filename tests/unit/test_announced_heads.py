"""What the views' rebuild beside a writer reads of the writer's heads (``AnnouncedHeads``):
the fold waits for heads past where it has read, takes every head told meanwhile at once, stops
at the head the writer finished at, and fails when the writer ends without finishing."""

from __future__ import annotations

import multiprocessing

import pytest

from batterytrace.trace.views_alongside import AnnouncedHeads, WriterStopped


def pipe() -> tuple[AnnouncedHeads, object]:
    reading, writing = multiprocessing.Pipe(duplex=False)
    return AnnouncedHeads(reading), writing


def test_the_reader_takes_the_newest_head_told_and_stops_where_the_writer_finished() -> None:
    heads, writer = pipe()
    writer.send(("stored", 10))
    writer.send(("stored", 25))
    assert heads.beyond(0) == 25  # both heads were told: one longer read
    writer.send(("stored", 40))
    writer.send(("finished", 47))
    assert heads.beyond(25) == 47
    assert heads.beyond(47) is None
    assert heads.final == 47


def test_a_writer_that_finishes_where_the_reader_already_is_ends_the_reading() -> None:
    heads, writer = pipe()
    writer.send(("stored", 12))
    assert heads.beyond(0) == 12
    writer.send(("finished", 12))
    assert heads.beyond(12) is None and heads.final == 12


def test_a_writer_that_ends_without_finishing_stops_the_reader() -> None:
    heads, writer = pipe()
    writer.send(("stored", 5))
    assert heads.beyond(0) == 5
    writer.close()
    with pytest.raises(WriterStopped, match="stopped before it finished"):
        heads.beyond(5)


def test_the_final_head_is_unknown_until_the_writer_has_finished() -> None:
    heads, writer = pipe()
    writer.send(("stored", 3))
    heads.beyond(0)
    with pytest.raises(RuntimeError, match="not finished"):
        _ = heads.final
