"""Stopping a long computation early: every long computation takes the caller's `check`
and calls it between units of work (a step, a chunk, a group of cells); check raises
to stop the computation.  The app passes Streamlit's stop check of the script run
(ui/cache.py: a closed tab or a rerun), the CLI passes none."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

Check = Callable[[], None] | None
T = TypeVar("T")


def each(items: Iterable[T], check: Check) -> Iterator[T]:
    """The items, calling check() before each."""
    if check is None:
        yield from items
        return
    for item in items:
        check()
        yield item


def checked(f: Callable, check: Check) -> Callable:
    """The function f, calling check() first at every call (a loss: once per step)."""
    if check is None:
        return f

    def f_checked(*args):
        check()
        return f(*args)

    return f_checked
