"""Work done on forked copies of this process, with the results back in order.

Rendering a page needs the whole site graph and its page plan, whose values (closures,
macros) cannot be sent to a fresh Python; a forked child already has them. So
:class:`ForkedMap` forks ``count`` children, each computing every ``count``-th chunk of
the items and sending each chunk's results back, pickled, through a pipe of its own,
while this process takes them chunk by chunk in order. A child computes a whole chunk
before writing it, so it works on while this process reads another child's chunk.

A child shares no open work with this process: it writes nothing but its pipe and
leaves with ``os._exit`` (no ``atexit`` handler, no buffered output of this process
written twice). Forking a process that runs other threads (the dev server's, Pagefind's
readers) copies the locks they held at that moment, held for ever in the child; so the
child's ``sys.stdout`` and ``sys.stderr`` (whose locks a thread printing a log line
would hold) are new objects on the null device, and it takes no other lock of this
process's threads. What it must not touch (a file this process appends to, say) the
caller keeps from it with ``start``, run in each child before its first item; that
includes the pipes to other programs this process will close (a program reading one
waits for its end as long as any child holds a copy of it).
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import sys
import traceback
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")


class ChildFailed(Exception):
    """A forked child stopped (an exception outside ``function``, or killed)."""


class ForkedMap(Iterator[R]):
    """``function(item)`` for each of ``items``, in order, computed on ``count`` forked
    children ``chunk`` items at a time, which start at once. An exception ``function``
    raises in a child is :class:`ChildFailed` here, with the child's traceback in its
    message. :meth:`close` stops and reaps the children (done or not); a child that
    cannot be forked raises ``OSError`` from the constructor, with none left running.
    """

    def __init__(self, function: Callable[[T], R], items: Sequence[T], count: int,
                 chunk: int = 50, start: Callable[[], Any] | None = None) -> None:
        chunks = [range(first, min(first + chunk, len(items)))
                  for first in range(0, len(items), chunk)]
        self._children: list[tuple[int, Any]] = []
        self._results = self._collect(len(chunks))
        try:
            for number in range(min(count, len(chunks))):
                read, write = os.pipe()
                try:
                    pid = os.fork()
                except OSError:
                    os.close(read)
                    os.close(write)
                    raise
                if pid == 0:  # the child: never returns
                    os.close(read)
                    _child(function, items, chunks[number::count], write, start)
                os.close(write)
                self._children.append((pid, os.fdopen(read, "rb")))
        except BaseException:
            self.close()
            raise

    def __next__(self) -> R:
        return next(self._results)

    def close(self) -> None:
        for pid, stream in self._children:
            stream.close()
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)  # done already, or not wanted any more
            os.waitpid(pid, 0)
        self._children = []

    def _collect(self, chunks: int) -> Iterator[R]:
        for number in range(chunks):
            pid, stream = self._children[number % len(self._children)]
            try:
                done, results = pickle.load(stream)
            except (EOFError, pickle.UnpicklingError) as exc:
                raise ChildFailed(f"process {pid} stopped ({exc or 'no answer'})") from None
            if not done:
                raise ChildFailed(f"process {pid} failed:\n{results}")
            yield from results


def _child(function: Callable[[T], R], items: Sequence[T], chunks: list[range], write: int,
           start: Callable[[], Any] | None) -> None:
    code = 0
    try:
        sys.stdout = sys.stderr = open(os.devnull, "w")  # noqa: SIM115 (until os._exit)
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
