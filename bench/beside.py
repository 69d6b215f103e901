"""Set-ups run in a second process beside the run's longest single-threaded set-up.

Filling the big store (`bench.stores.fill_store`) keeps one SQLite connection busy on one
core for half a minute while the other core of a 2-core machine waits. A family whose own
set-up needs nothing but files (a store filled from its path and a config) can plan it
here: it then runs in a worker process during that fill, and the fill does not return
before it is done, so no set-up overlaps any measured round. The family takes the result
when it runs; in a run without that fill (`BENCH_ONLY`) nothing ran, and it does its
set-up itself, as before.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from multiprocessing.pool import AsyncResult
from typing import Any


class Beside:
    """Planned set-ups, and the results of those that ran."""

    def __init__(self) -> None:
        self._planned: dict[str, tuple[Callable[..., Any], tuple[Any, ...]]] = {}
        self._ran: dict[str, AsyncResult[Any]] = {}

    def plan(self, name: str, func: Callable[..., Any], *args: Any) -> None:
        """Run `func(*args)` (picklable: a module-level function and plain arguments) in
        a worker process during the next `running()` block, under `name`."""
        self._planned[name] = (func, args)

    @contextmanager
    def running(self) -> Iterator[None]:
        """Run the planned set-ups, one after the other in one worker process, while the
        block runs; leave only when they are all done, or at once (the worker killed)
        when the block fails or the run is stopped."""
        if not self._planned:
            yield
            return
        # forkserver, as the normalizer pool: the worker does not inherit this process's
        # threads and open database connections, as a plain fork would.
        worker = multiprocessing.get_context("forkserver").Pool(processes=1)
        try:
            results = {
                name: worker.apply_async(func, args) for name, (func, args) in self._planned.items()
            }
            self._planned.clear()
            yield
            for result in results.values():
                result.wait()
            self._ran.update(results)
            worker.close()
        except BaseException:
            worker.terminate()
            raise
        finally:
            worker.join()

    def take(self, name: str) -> Any:
        """What the set-up planned under `name` returned (its error raised here, in the
        family that needs it), or None when it did not run."""
        result = self._ran.pop(name, None)
        self._planned.pop(name, None)
        return None if result is None else result.get()
