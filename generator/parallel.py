"""Work done on forked copies of this process, with the results back in order.

Rendering a page needs the whole site graph and its page plan, whose values (closures,
macros) cannot be sent to a fresh Python; a forked child already has them. So
:func:`forked_map` forks ``count`` children, each computing every ``count``-th chunk of
the items and sending each chunk's results back, pickled, through a pipe of its own,
while this process takes them chunk by chunk in order. A child computes a whole chunk
before writing it, so it works on while this process reads another child's chunk.

A child shares no open work with this process: it writes nothing but its pipe, prints
nothing and leaves with ``os._exit`` (no ``atexit`` handler, no buffered output of this
process written twice). What it must not touch (a file this process appends to, say)
the caller keeps from it with ``start``, run in each child before its first item.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import traceback
from collections.abc import Callable, Generator, Sequence
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class ChildFailed(Exception):
    """A forked child stopped (an exception outside ``function``, or killed)."""


def forked_map(function: Callable[[T], R], items: Sequence[T], count: int,
               chunk: int = 50, start: Callable[[], Any] | None = None,
               ) -> Generator[R, None, None]:
    """``function(item)`` for each of ``items``, in order, computed on ``count`` forked
    children ``chunk`` items at a time. An exception ``function`` raises in a child is
    :class:`ChildFailed` here, with the child's traceback in its message."""
    chunks = [range(first, min(first + chunk, len(items)))
              for first in range(0, len(items), chunk)]
    children: list[tuple[int, Any]] = []
    try:
        for number in range(min(count, len(chunks))):
            read, write = os.pipe()
            pid = os.fork()
            if pid == 0:  # the child: never returns
                os.close(read)
                _child(function, items, chunks[number::count], write, start)
            os.close(write)
            children.append((pid, os.fdopen(read, "rb")))
        for number in range(len(chunks)):
            pid, stream = children[number % len(children)]
            try:
                done, results = pickle.load(stream)
            except (EOFError, pickle.UnpicklingError) as exc:
                raise ChildFailed(f"process {pid} stopped ({exc or 'no answer'})") from None
            if not done:
                raise ChildFailed(f"process {pid} failed:\n{results}")
            yield from results
    finally:
        for pid, stream in children:
            stream.close()
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)  # done already, or not wanted any more
            os.waitpid(pid, 0)


def _child(function: Callable[[T], R], items: Sequence[T], chunks: list[range], write: int,
           start: Callable[[], Any] | None) -> None:
    code = 0
    try:
        with os.fdopen(write, "wb") as out:
            try:
                if start is not None:
                    start()
                for numbers in chunks:
                    data = pickle.dumps((True, [function(items[n]) for n in numbers]),
                                        pickle.HIGHEST_PROTOCOL)
                    out.write(data)
                    out.flush()
            except BaseException:
                out.write(pickle.dumps((False, traceback.format_exc())))
                out.flush()
                code = 1
    except BaseException:
        code = 1
    finally:
        os._exit(code)
