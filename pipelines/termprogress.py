"""A job's progress on the terminal, for jobs the CLI runs in its own process.

A queued job reports ``ctx.progress(fraction, message)`` to the store, where the Runs page
shows it; a job started from the CLI (``jobs.run_now``) had nobody watching, so scoring
1,300 texts with an LLM printed nothing for a quarter of an hour. :class:`TerminalProgress`
turns the same calls into what a terminal user expects: a tqdm bar with the elapsed time and
ETA when stderr is a terminal, or a plain line every few seconds (percent, the job's own
message such as "96/1300 texts", elapsed, ETA) when it is a log file or a pipe, where a bar's
carriage returns would be noise.

Fine-tuning already draws the Trainer's own tqdm bar: while another tqdm bar is open this one
steps aside (closes, and reopens at the same point when that bar is gone), so there are
never two bars fighting over one line.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

PLAIN_EVERY_S = 10.0  # non-terminal output: at most one line per this many seconds (first and last always)


def _clock(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


class TerminalProgress:
    """Callable ``(fraction, message)`` drawing one job's progress on ``stream`` (stderr)."""

    def __init__(self, desc: str, stream: TextIO | None = None, bar: bool | None = None,
                 every_s: float | None = None):
        self.desc = desc
        self.stream = stream or sys.stderr
        self.use_bar = self.stream.isatty() if bar is None else bar
        self.every_s = PLAIN_EVERY_S if every_s is None else every_s
        self.start = time.monotonic()
        self._bar = None
        self._last_line = -1e9
        self._last_text = ""
        self.message = ""

    def eta(self, fraction: float) -> float | None:
        """Seconds left, from the average rate so far (None before there is a rate)."""
        elapsed = time.monotonic() - self.start
        return elapsed * (1 - fraction) / fraction if 0.02 <= fraction < 1 else None

    def __call__(self, fraction: float, message: str | None = None) -> None:
        fraction = max(0.0, min(1.0, float(fraction)))
        if message:
            self.message = message
        if self.use_bar:
            self._draw_bar(fraction)
        else:
            self._print_line(fraction)

    # -- plain lines
    def _print_line(self, fraction: float) -> None:
        now = time.monotonic()
        first = self._last_line < 0
        if not (first or fraction >= 1.0 or now - self._last_line >= self.every_s):
            return
        eta = self.eta(fraction)
        text = (f"{self.desc}: {fraction:4.0%} {self.message} [{_clock(now - self.start)} elapsed"
                + (f", ETA {_clock(eta)}" if eta is not None else "") + "]")
        if text == self._last_text:
            return
        self._last_line, self._last_text = now, text
        print(text, file=self.stream, flush=True)

    # -- tqdm bar
    def _other_bars(self) -> bool:
        from tqdm import tqdm

        return any(b is not self._bar for b in list(getattr(tqdm, "_instances", ())))

    def _draw_bar(self, fraction: float) -> None:
        from tqdm import tqdm

        if self._other_bars():  # e.g. the Trainer's own bar: step aside until it is gone
            self.close()
            return
        n = int(round(fraction * 1000))
        if self._bar is None:
            self._bar = tqdm(total=1000, initial=n, desc=self.desc, file=self.stream, dynamic_ncols=True,
                             bar_format="{desc}: {percentage:3.0f}%|{bar}| [{elapsed}<{remaining}] {postfix}")
        self._bar.n = n
        self._bar.set_postfix_str(self.message, refresh=False)
        self._bar.refresh()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
