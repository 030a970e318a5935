"""The processes of a session a test started (``start_new_session=True``): which live, and killing them."""
from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path


def session_processes(sid: int) -> list[int]:
    """Live (not zombie) processes whose session id is ``sid``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[3]) == sid and fields[0] != "Z":
                found.append(int(entry.name))
    return found


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
    except OSError:
        return ""


def survivors_of_kill_9(proc: subprocess.Popen, within_s: float) -> dict[int, str]:
    """kill -9 the session leader ``proc``; the processes of its session still alive ``within_s`` later."""
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=10)
    deadline = time.monotonic() + within_s
    while session_processes(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return {pid: cmdline(pid)[:120] for pid in session_processes(proc.pid)}


def kill_session(proc: subprocess.Popen) -> None:
    """Whatever a test leaves of the session, gone (for ``finally``)."""
    if proc.poll() is None:
        proc.kill()
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
