"""What every controller process does the same way: logging, signals, exit codes.

A controller's ``main`` parses its flags, calls :func:`configure_logging`, then
:func:`run_until_signalled` with a coroutine factory. SIGTERM and SIGINT cancel
the running coroutine; a cancelled run is a clean stop (exit 0), as for
kube-controller-manager and kube-proxy.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable, Coroutine
from typing import Any

log = logging.getLogger(__name__)

#: Verbosity from which debug logs (and httpx's per-request logs) are shown.
DEBUG_VERBOSITY = 4


def configure_logging(verbosity: int) -> None:
    """Log to stderr at INFO (DEBUG from ``-v 4``); httpx's request lines only when debugging."""
    level = logging.DEBUG if verbosity >= DEBUG_VERBOSITY else logging.INFO
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if verbosity < DEBUG_VERBOSITY:
        logging.getLogger("httpx").setLevel(logging.WARNING)


def run_until_signalled(main: Callable[[], Coroutine[Any, Any, int]]) -> int:
    """Run ``main()`` on a new event loop until it returns or SIGTERM/SIGINT arrives.

    Returns ``main``'s exit code, or 0 when a signal stopped it.
    """

    async def guarded() -> int:
        task = asyncio.current_task()
        loop = asyncio.get_running_loop()
        if task is not None:
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, task.cancel)
        try:
            return await main()
        except asyncio.CancelledError:
            log.info("shutting down")
            return 0

    with contextlib.suppress(KeyboardInterrupt):
        return asyncio.run(guarded())
    return 0
