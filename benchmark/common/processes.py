"""Process lifetime: pool workers that exit with the driver process, even after its ``kill -9``."""
from __future__ import annotations

import ctypes
import os
import signal
import threading
import time


def _die_with_parent() -> None:
    """Linux: the worker gets SIGKILL when its parent dies, so a killed run leaves no orphans."""
    try:
        ctypes.CDLL("libc.so.6").prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def _driver_gone(driver_pid: int) -> bool:
    try:
        os.kill(driver_pid, 0)
        with open(f"/proc/{driver_pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] == "Z"
    except (ProcessLookupError, FileNotFoundError):
        return True
    except OSError:
        return False


def _exit_when_driver_dies(driver_pid: int, poll_s: float = 0.5) -> None:
    while not _driver_gone(driver_pid):
        time.sleep(poll_s)
    os._exit(70)


def die_with_driver(driver_pid: int) -> None:
    """Pool-worker initializer: exit as soon as the driver process is gone, even after its kill -9.

    PR_SET_PDEATHSIG alone does not do it: a forkserver child's parent is the fork server, and a pool
    worker holds its own call queue's write end, so after the driver's death it would wait for work
    forever (and keep the fork server and resource tracker alive with it).
    """
    _die_with_parent()
    threading.Thread(target=_exit_when_driver_dies, args=(driver_pid,), daemon=True,
                     name="exit-with-driver").start()
