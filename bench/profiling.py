"""Where the time goes, next to the figure that missed its goal (``python -m bench --profile DIR``).

A benchmark that only says "missed" sends the next engineer hunting; one that says "missed, and
62% of the samples are in the view follower" says where to look. With ``--profile DIR`` each
measurement is profiled while it runs:

- in-process measurements (P1 import, P3/P4 rebuild) under cProfile: ``DIR/<metric>-<store>.prof``
  (open with ``python -m pstats`` or snakeviz) and a text summary beside it;
- the HTTP server of P2 (another process) under py-spy, sampling the server and its workers while
  the load runs: ``DIR/<metric>-<store>.folded`` (collapsed stacks, for flamegraph.pl or
  speedscope) and a text summary. Where py-spy is missing or may not attach (no ptrace), the
  summary says so and the figures are still measured.

P5 and P6 run the CLI as a child process for their own reasons (peak memory, a real ``demo``
run): profile those by hand with ``py-spy record -- batterytrace …``.

The summaries list batterytrace's own functions first (what we can change), then the rest.
Profiling slows the measured work (cProfile by up to 2×, py-spy by a few per cent): figures taken
with ``--profile`` are for finding causes, not for README's table.
"""

from __future__ import annotations

import cProfile
import pstats
import shutil
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

OWN_CODE = "batterytrace"
TOP = 12


class Profiles:
    """The profiles of one bench run: where they are written, and their summaries by name."""

    def __init__(self, directory: Path | None) -> None:
        self.directory = directory
        self.summaries: dict[str, list[str]] = {}
        if directory is not None:
            directory.mkdir(parents=True, exist_ok=True)

    @property
    def enabled(self) -> bool:
        return self.directory is not None

    @contextmanager
    def in_process(self, name: str) -> Iterator[None]:
        """cProfile around the block (nothing when profiling is off)."""
        if self.directory is None:
            yield
            return
        profile = cProfile.Profile()
        profile.enable()
        try:
            yield
        finally:
            profile.disable()
            target = self.directory / f"{name}.prof"
            profile.dump_stats(target)
            lines = cprofile_summary(pstats.Stats(str(target)))
            self._keep(name, [f"cProfile, {target}", *lines])

    @contextmanager
    def other_process(self, name: str, pid: int) -> Iterator[None]:
        """py-spy sampling ``pid`` and its children while the block runs."""
        if self.directory is None:
            yield
            return
        # the virtualenv's py-spy also when it is not on PATH (``.venv/bin/python -m bench``)
        spy = shutil.which("py-spy") or shutil.which("py-spy", path=str(Path(sys.executable).parent))
        if spy is None:
            self._keep(name, ["py-spy is not installed (pip install py-spy): no profile of the server"])
            yield
            return
        target = self.directory / f"{name}.folded"
        # --gil: only the thread holding the GIL is sampled, so idle thread-pool workers (blocked
        # in Condition.wait, which py-spy cannot tell from work) do not fill the profile.
        command = [spy, "record", "--pid", str(pid), "--subprocesses", "--gil", "--format", "raw"]
        command += ["--rate", "200", "--output", str(target)]
        sampler = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            yield
        finally:
            sampler.send_signal(signal.SIGINT)  # py-spy writes its output on Ctrl-C
            try:
                _, errors = sampler.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                sampler.kill()
                _, errors = sampler.communicate()
            if target.exists() and target.stat().st_size:
                lines = folded_summary(target.read_text())
                self._keep(name, [f"py-spy, {target}", *lines])
            else:
                self._keep(name, [f"py-spy recorded nothing: {(errors or '').strip()[-300:]}"])

    def _keep(self, name: str, lines: list[str]) -> None:
        self.summaries[name] = lines
        if self.directory is not None:
            (self.directory / f"{name}.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")

    def explain(self, rows: list[dict]) -> list[str]:
        """For each missed goal, the summary of the profile taken while it was measured."""
        out: list[str] = []
        for row in rows:
            if row.get("ok") is not False:
                continue
            name = profile_name(row["metric"], row["store"])
            lines = self.summaries.get(name)
            if lines:
                out += [f"{row['metric']} ({row['store']}) missed; where the time went:", *lines, ""]
        return out


def profile_name(metric: str, store: str) -> str:
    """The profile a result row belongs to: ``P2_scan_p99`` on sqlite → ``P2-sqlite``; the P4
    rebuild rows come from the same run as P3's lookups."""
    prefix = metric.split("_")[0]
    return f"{'P3' if prefix == 'P4' else prefix}-{store}"


def cprofile_summary(stats: pstats.Stats) -> list[str]:
    """Own functions by cumulative time, then the heaviest functions by own time."""
    total = stats.total_tt or 1e-9  # type: ignore[attr-defined]
    rows = stats.stats  # type: ignore[attr-defined]
    own = sorted(
        (
            (cum, f"{Path(file).name}:{line} {func}")
            for (file, line, func), (_, _, _, cum, _) in rows.items()
            if OWN_CODE in file
        ),
        reverse=True,
    )[:TOP]
    self_time = sorted(
        ((tt, f"{_short(file)}:{line} {func}") for (file, line, func), (_, _, tt, _, _) in rows.items()),
        reverse=True,
    )[:TOP]
    lines = [f"total {total:.2f} s; batterytrace functions by cumulative time:"]
    lines += [f"  {seconds / total:6.1%}  {seconds:7.3f} s  {where}" for seconds, where in own]
    lines.append("all functions by own time:")
    lines += [f"  {seconds / total:6.1%}  {seconds:7.3f} s  {where}" for seconds, where in self_time]
    return lines


def folded_summary(folded: str) -> list[str]:
    """From py-spy's collapsed stacks: the share of samples in each batterytrace function (on the
    stack anywhere: inclusive) and the frames where samples landed (exclusive)."""
    inclusive: Counter[str] = Counter()
    leaves: Counter[str] = Counter()
    total = 0
    for line in folded.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = stack.split(";")
        leaves[_frame(frames[-1])] += count
        for frame in {_frame(f) for f in frames if OWN_CODE in f}:
            inclusive[frame] += count
    if not total:
        return ["no samples"]
    lines = [f"{total} samples; batterytrace functions on the stack (inclusive):"]
    lines += [f"  {n / total:6.1%}  {frame}" for frame, n in inclusive.most_common(TOP)]
    lines.append("where the samples landed (exclusive):")
    lines += [f"  {n / total:6.1%}  {frame}" for frame, n in leaves.most_common(TOP)]
    return lines


def _frame(raw: str) -> str:
    """``func (path/to/file.py:12)`` → ``func (file.py:12)``; process headers stay as they are."""
    name, _, place = raw.partition(" (")
    return f"{name} ({_short(place.rstrip(')'))})" if place else raw


def _short(path: str) -> str:
    parts = Path(path).parts
    if OWN_CODE in parts:
        return "/".join(parts[parts.index(OWN_CODE) :])
    return "/".join(parts[-2:])
