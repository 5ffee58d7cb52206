"""A progress display that appears only once a task has run for more than a second."""

from __future__ import annotations

import math
import time
from types import TracebackType

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from accessrl.cli._common import err_console


class DelayedProgress:
    """Callable progress sink ``(fraction or nan, message)`` drawn on stderr after ``delay`` s.

    Quiet for quick work and when stderr is not a terminal (tests, pipes).
    """

    def __init__(self, label: str, *, delay: float = 1.0, console: Console | None = None) -> None:
        self.label = label
        self.delay = delay
        self.console = console or err_console
        self.t0 = time.perf_counter()
        self.bar: Progress | None = None
        self.task = 0

    def __enter__(self) -> DelayedProgress:
        self.t0 = time.perf_counter()
        return self

    def __call__(self, fraction: float, message: str = "") -> None:
        if self.bar is None:
            if time.perf_counter() - self.t0 < self.delay or not self.console.is_terminal:
                return
            self.bar = Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.fields[msg]}"),
                                TimeElapsedColumn(), console=self.console, transient=True)
            self.bar.start()
            self.task = self.bar.add_task(self.label, total=1.0, msg="")
        done = None if math.isnan(fraction) else fraction
        self.bar.update(self.task, completed=done, msg=message)  # type: ignore[arg-type]

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        if self.bar is not None:
            self.bar.stop()
            self.bar = None
