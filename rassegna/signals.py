"""The daemon's signal handlers: SIGTERM and SIGINT stop it, SIGHUP re-reads its
configuration. The handlers only set events; the main thread does the work."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from types import FrameType

log = logging.getLogger("rassegna.daemon")

Handler = Callable[[int, FrameType | None], object] | int | None


def install_signals(
    stop: threading.Event, reload: threading.Event, wake: threading.Event
) -> dict[int, Handler]:
    """Set `stop` on SIGTERM and SIGINT and `reload` on SIGHUP, each with `wake`; returns
    the handlers they replace, for `restore_signals`."""

    def on_stop(signum: int, _frame: FrameType | None) -> None:
        log.info("received %s", signal.Signals(signum).name)
        stop.set()
        wake.set()

    def on_reload(_signum: int, _frame: FrameType | None) -> None:
        reload.set()
        wake.set()

    previous: dict[int, Handler] = {}
    for sig, handler in (
        (signal.SIGTERM, on_stop),
        (signal.SIGINT, on_stop),
        (signal.SIGHUP, on_reload),
    ):
        previous[sig] = signal.getsignal(sig)
        signal.signal(sig, handler)
    return previous


def restore_signals(previous: dict[int, Handler]) -> None:
    for sig, handler in previous.items():
        signal.signal(sig, handler)
