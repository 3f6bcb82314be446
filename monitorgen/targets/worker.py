"""Render some targets in a forked process while the caller renders the others.

A spec of thousands of alerts spends seconds in the promtool test target alone, which
depends on nothing the other targets make. A forked child starts with the model
already in memory (nothing is pickled on the way in) and sends back only the files.
Where `fork` is unavailable the caller renders everything itself.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from monitorgen.model import Spec
from monitorgen.targets.base import Artifact

if TYPE_CHECKING:
    from multiprocessing.connection import Connection

Render = Callable[[Spec, Sequence[str]], list[Artifact]]


class WorkerFailed(RuntimeError):
    """The forked renderer raised or died; the message carries its traceback."""


def fork_available() -> bool:
    import multiprocessing  # only for a spec large enough to need a worker

    return (os.cpu_count() or 1) > 1 and "fork" in multiprocessing.get_all_start_methods()


class ForkedRender:
    """`render(spec, names)` running in a child process from construction to `result()`."""

    def __init__(self, render: Render, spec: Spec, names: Sequence[str]) -> None:
        import multiprocessing

        sys.stdout.flush()  # or the child would write the parent's pending output again
        sys.stderr.flush()
        context = multiprocessing.get_context("fork")
        self._receive, send = context.Pipe(duplex=False)
        self._process = context.Process(
            target=_run, args=(render, spec, tuple(names), send), daemon=True
        )
        self._process.start()
        send.close()

    def result(self) -> list[Artifact]:
        try:
            outcome: tuple[str, Any] = self._receive.recv()
        except EOFError:
            outcome = ("error", "the worker exited without an answer")
        finally:
            self._receive.close()
            self._process.join()
        kind, value = outcome
        if kind == "error":
            raise WorkerFailed(f"rendering in a worker process failed:\n{value}")
        artifacts: list[Artifact] = value
        return artifacts

    def cancel(self) -> None:
        """Stop the child when the caller failed and will not ask for the result."""
        self._process.terminate()
        self._process.join()
        self._receive.close()


def _run(render: Render, spec: Spec, names: tuple[str, ...], send: Connection) -> None:
    try:
        outcome: tuple[str, Any] = ("ok", render(spec, names))
    except BaseException:  # the parent raises it again, with this traceback
        import traceback

        outcome = ("error", traceback.format_exc())
    send.send(outcome)
    send.close()
