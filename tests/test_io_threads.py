"""Reader and writer threads: order kept, errors cross over to the caller, stop() ends them early."""
from __future__ import annotations

import threading
import time

import pytest

from livestyle.io_threads import InlineReader, InlineWriter, ThreadedReader, ThreadedWriter


class ListSink:
    def __init__(self, fail_at: int | None = None):
        self.items, self.fail_at = [], fail_at

    def write(self, x, *rest):
        if x == self.fail_at:
            raise OSError("disk full")
        self.items.append(x)


@pytest.mark.parametrize("reader_cls,writer_cls", [(ThreadedReader, ThreadedWriter), (InlineReader, InlineWriter)])
def test_items_pass_in_order(reader_cls, writer_cls):
    sink = ListSink()
    w = writer_cls(sink)
    for x in reader_cls(range(50)):
        w.write(x, 0)
    w.finish()
    assert sink.items == list(range(50))


def test_a_reader_error_is_raised_in_the_consumer():
    def items():
        yield 1
        raise ValueError("corrupt header")
    got = []
    with pytest.raises(ValueError, match="corrupt header"):
        for x in ThreadedReader(items()):
            got.append(x)
    assert got == [1]


def test_a_writer_error_is_raised_from_a_later_write_or_finish():
    w = ThreadedWriter(ListSink(fail_at=3))
    with pytest.raises(OSError, match="disk full"):
        for x in range(100):
            w.write(x)
            time.sleep(0.002)
        w.finish()
    w.abort()  # drains and ends the thread without raising again


def test_stop_ends_a_reader_whose_consumer_went_away():
    def endless():
        i = 0
        while True:
            yield i
            i += 1
    r = ThreadedReader(endless(), depth=2)
    it = iter(r)
    assert [next(it), next(it)] == [0, 1]
    r.stop()
    assert not any(t.name == "livestyle-decode" and t.is_alive() for t in threading.enumerate())
