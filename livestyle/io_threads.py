"""Decoding and encoding beside the network: a reader thread and a writer thread with short queues.

PyAV's decoder, its RGB conversion and x264 release the GIL, so with `pipelined=True` the next frames
decode and the previous ones encode while the network runs on the current one. The inline versions
do the same work in the caller's thread (`pipelined=False`), for comparison and for debugging.
Each side counts the seconds it spent working (`busy_s`); pipelined, those overlap the network's.

Errors cross over: an exception in the reader is raised from its iteration, one in the writer from
the next `write` or from `finish`. `stop()`/`abort()` end the threads without waiting for the input.
"""
from __future__ import annotations

import queue
import threading
import time
from typing import Iterable, Iterator

_END = object()


class InlineReader:
    def __init__(self, items: Iterable):
        self._items, self.busy_s = iter(items), 0.0

    def __iter__(self) -> Iterator:
        while True:
            t0 = time.perf_counter()
            item = next(self._items, _END)
            self.busy_s += time.perf_counter() - t0
            if item is _END:
                return
            yield item

    def stop(self) -> None:
        pass


class ThreadedReader:
    """Iterates `items` in a thread, `depth` items ahead of the consumer."""

    def __init__(self, items: Iterable, depth: int = 4):
        self._items, self.busy_s = items, 0.0
        self._q: queue.Queue = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="livestyle-decode")
        self._thread.start()

    def _put(self, item) -> bool:
        while not self._stop.is_set():
            try:
                self._q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _run(self) -> None:
        try:
            it = iter(self._items)
            while not self._stop.is_set():
                t0 = time.perf_counter()
                item = next(it, _END)
                self.busy_s += time.perf_counter() - t0
                if not self._put(item) or item is _END:
                    return
        except BaseException as e:  # handed to the consumer, raised there
            self._put(_Failure(e))

    def __iter__(self) -> Iterator:
        while True:
            item = self._q.get()
            if item is _END:
                self._thread.join()
                return
            if isinstance(item, _Failure):
                self._thread.join()
                raise item.error
            yield item

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5.0)


class _Failure:
    def __init__(self, error: BaseException):
        self.error = error


class InlineWriter:
    """`write(*args)` calls `sink.write(*args)` now."""

    def __init__(self, sink):
        self._sink, self.busy_s = sink, 0.0

    def write(self, *args) -> None:
        t0 = time.perf_counter()
        self._sink.write(*args)
        self.busy_s += time.perf_counter() - t0

    def finish(self) -> None:
        pass

    abort = finish


class ThreadedWriter:
    """`write(*args)` queues a `sink.write(*args)` for the writer thread (blocks while `depth` wait)."""

    def __init__(self, sink, depth: int = 4):
        self._sink, self.busy_s = sink, 0.0
        self._q: queue.Queue = queue.Queue(maxsize=depth)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True, name="livestyle-encode")
        self._thread.start()

    def _run(self) -> None:
        while True:
            args = self._q.get()
            if args is _END:
                return
            if self._error is not None:
                continue  # keep draining so the producer never blocks on a dead writer
            t0 = time.perf_counter()
            try:
                self._sink.write(*args)
            except BaseException as e:
                self._error = e
            self.busy_s += time.perf_counter() - t0

    def _raise(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def write(self, *args) -> None:
        self._raise()
        self._q.put(args)

    def finish(self) -> None:
        """Wait until everything queued is written; raise what the writer hit."""
        if self._thread.is_alive():
            self._q.put(_END)
            self._thread.join()
        self._raise()

    def abort(self) -> None:
        """Write what is queued, then stop, raising nothing (the caller is handling another error)."""
        if self._thread.is_alive():
            self._q.put(_END)
            self._thread.join()
        self._error = None


def reader(items: Iterable, pipelined: bool):
    return ThreadedReader(items) if pipelined else InlineReader(items)


def writer(sink, pipelined: bool):
    return ThreadedWriter(sink) if pipelined else InlineWriter(sink)
