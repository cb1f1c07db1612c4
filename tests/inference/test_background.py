import threading
import time

import pytest

from crossspec.inference.background import BackgroundCalls


def test_calls_run_in_order_on_another_thread():
    seen = []
    with BackgroundCalls(depth=2) as bg:
        for i in range(20):
            bg.submit(lambda i: seen.append((i, threading.current_thread().name)), i)
    assert [i for i, _ in seen] == list(range(20))
    assert all(name != threading.current_thread().name for _, name in seen)


def test_an_error_reaches_the_caller_and_skips_the_rest():
    ran = []

    def work(i):
        ran.append(i)
        if i == 1:
            raise KeyboardInterrupt("stop")

    with pytest.raises(KeyboardInterrupt, match="stop"):
        with BackgroundCalls() as bg:
            for i in range(10):
                bg.submit(work, i)
                time.sleep(0.01)
    assert ran == [0, 1]


def test_an_error_in_the_caller_does_not_wait_for_queued_calls():
    ran = []
    with pytest.raises(RuntimeError, match="caller"):
        with BackgroundCalls(depth=5) as bg:
            bg.submit(time.sleep, 0.2)
            for i in range(5):
                bg.submit(ran.append, i)
            raise RuntimeError("caller")
    assert ran == []
