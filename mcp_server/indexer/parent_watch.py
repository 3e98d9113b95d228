"""Make a parse worker process end when the pgcode process that started it is gone."""

from __future__ import annotations

import os
import threading
import time

_CHECK_SECONDS = 0.5


def exit_with_parent(parent_pid: int) -> None:
    """ProcessPoolExecutor initializer. A worker waits on its task queue, whose write end every
    worker holds too, so a parent killed with SIGKILL never closes it: without this, the workers
    (and the resource tracker that waits for them) would live on for ever."""

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(_CHECK_SECONDS)
        os._exit(1)

    threading.Thread(target=watch, name="pgcode-parent-watch", daemon=True).start()
