"""Run one call in a forked child process while the caller goes on, and take its result.

A spec of thousands of alerts spends seconds in its heaviest steps (parsing its include
files, the promtool test target, lint), which depend on nothing the others make. A
forked child starts with the model already in memory (nothing is pickled on the way in)
and sends back only its result. Where `fork` is unavailable, or with one CPU, callers
run the call themselves.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Generic, TypeVar

if TYPE_CHECKING:
    from multiprocessing.connection import Connection

T = TypeVar("T")


class ForkFailed(RuntimeError):
    """The forked call raised or its process died; the message carries its traceback."""


def fork_available() -> bool:
    import multiprocessing  # only for a spec large enough to need a child

    return (os.cpu_count() or 1) > 1 and "fork" in multiprocessing.get_all_start_methods()


#: How much a background child yields to the processes a command waits on.
BACKGROUND_NICENESS = 10


class Forked(Generic[T]):
    """`call()` running in a child process from construction to `result()`.

    A `background` child runs at a lower priority: its result is wanted only at the
    end, so on a machine with fewer free CPUs than busy processes it takes the time
    the others leave rather than an equal share of theirs.
    """

    def __init__(self, call: Callable[[], T], *, background: bool = False) -> None:
        import multiprocessing

        sys.stdout.flush()  # or the child would write the parent's pending output again
        sys.stderr.flush()
        context = multiprocessing.get_context("fork")
        self._receive, send = context.Pipe(duplex=False)
        self._process = context.Process(target=_run, args=(call, send, background), daemon=True)
        self._process.start()
        send.close()

    def result(self) -> T:
        try:
            outcome: tuple[str, Any] = self._receive.recv()
        except EOFError:
            outcome = ("error", "the child process exited without an answer")
        finally:
            self._receive.close()
            self._process.join()
        kind, value = outcome
        if kind == "error":
            raise ForkFailed(f"a call in a child process failed:\n{value}")
        found: T = value
        return found

    def cancel(self) -> None:
        """Stop the child when the caller failed and will not ask for the result."""
        self._process.terminate()
        self._process.join()
        self._receive.close()


def _run(call: Callable[[], Any], send: Connection, background: bool) -> None:
    if background:
        with contextlib.suppress(OSError):
            os.nice(BACKGROUND_NICENESS)
    try:
        outcome: tuple[str, Any] = ("ok", call())
    except BaseException:  # the parent raises it again, with this traceback
        import traceback

        outcome = ("error", traceback.format_exc())
    send.send(outcome)
    send.close()


#: How long `SharedCounter.take` waits for its turn before giving up: a process killed
#: while holding the counter's lock would hold it forever.
TAKE_TIMEOUT = 2.0


class SharedCounter:
    """Numbers 0 to count - 1 that this process and the children it forks after making
    the counter take turns to claim, from the front or from the back: each `take()`
    anywhere returns a number no other `take()` returned."""

    def __init__(self) -> None:
        import multiprocessing

        self._taken = multiprocessing.get_context("fork").Array("q", 2)
        """How many numbers were taken from the front and from the back."""

    def take(self, count: int, *, from_back: bool = False) -> int | None:
        """The next number from the front (or the back), or None when all `count` are
        taken or the counter's lock is lost (its holder died): whoever gets None stops
        taking work, and the work left is done elsewhere."""
        lock = self._taken.get_lock()
        if not lock.acquire(timeout=TAKE_TIMEOUT):
            return None
        try:
            front: int = self._taken[0]
            back: int = self._taken[1]
            if front + back >= count:
                return None
            self._taken[1 if from_back else 0] += 1
        finally:
            lock.release()
        return count - 1 - back if from_back else front
