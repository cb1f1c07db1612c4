"""One worker thread that runs calls in order while the caller goes on: writing (compressing) one
chunk of an output overlaps reading and colorizing the next.

GDAL releases the GIL while it encodes and writes blocks, so on a machine with a second core the
deflate compression of a GeoTIFF output (a third of a ``nir-gain`` run's CPU time at level 1)
comes off the critical path. At most ``depth`` calls wait, so memory stays bounded: each holds
one chunk of output.
"""
from __future__ import annotations

import queue
import threading
from typing import Any, Callable


class BackgroundCalls:
    """``submit(fn, *args)`` runs ``fn(*args)`` on the worker, in submission order.

    A call that raises stops the rest (they are skipped) and its exception is raised in the caller
    at the next :meth:`submit` or at :meth:`close`. Use as a context manager: leaving the block
    normally waits for every call; leaving it by an exception skips the calls not yet started
    and waits only for the one running.
    """

    def __init__(self, depth: int = 1, name: str = "crossspec-writer") -> None:
        self._queue: queue.Queue = queue.Queue(maxsize=max(1, depth))
        self._error: BaseException | None = None
        self._cancel = False
        self._thread = threading.Thread(target=self._work, name=name, daemon=True)
        self._thread.start()

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            if self._error is not None or self._cancel:
                continue
            fn, args, kwargs = item
            try:
                fn(*args, **kwargs)
            except BaseException as exc:  # noqa: BLE001  handed to the caller's thread
                self._error = exc

    def _raise(self) -> None:
        if self._error is not None:
            exc, self._error = self._error, None
            self._cancel = True
            raise exc

    def submit(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        self._raise()
        self._queue.put((fn, args, kwargs))

    def close(self, cancel: bool = False) -> None:
        """Wait for the worker (after the queued calls, or skipping them when ``cancel``)."""
        if self._thread.is_alive():
            self._cancel = self._cancel or cancel
            self._queue.put(None)
            self._thread.join()
        if not cancel:
            self._raise()

    def __enter__(self) -> "BackgroundCalls":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close(cancel=exc_type is not None)
