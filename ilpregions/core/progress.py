"""A progress bar on stderr that appears only for runs longer than a second."""

from __future__ import annotations

import sys


class Progress:
    """Thin wrapper over tqdm: silent when disabled, shown after ``delay`` s."""

    def __init__(self, description: str, total: int | None = None, enabled: bool = True,
                 unit: str = "it", delay: float = 1.0):
        self._bar = None
        if enabled:
            from tqdm import tqdm  # imported here: the library never needs it otherwise
            self._bar = tqdm(total=total, desc=description, unit=unit, delay=delay,
                             file=sys.stderr, dynamic_ncols=True, leave=False, unit_scale=True)

    def update(self, n: int = 1) -> None:
        if self._bar is not None:
            self._bar.update(n)

    def set_total(self, total: int | None) -> None:
        if self._bar is not None:
            self._bar.total = total

    def set_postfix(self, **values) -> None:
        if self._bar is not None:
            self._bar.set_postfix(values, refresh=False)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def null_progress() -> Progress:
    return Progress("", enabled=False)
