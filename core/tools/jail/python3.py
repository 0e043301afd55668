"""Entry point of a python3 sandbox process (runs inside the jail).

Requests arrive one JSON object per line on stdin and replies leave one per line on a private copy of
stdout. Descriptors 0-2 are pointed at /dev/null first, so that nothing the snippet starts can read the
next request or forge a reply.
"""

import json
import os
import shutil
import signal
import sys
import time

sys.dont_write_bytecode = True  # never leave caches next to our sources (the unsafe mode runs them in place)
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from runner import run_snippet  # noqa: E402


def private_streams():
    requests = os.fdopen(os.dup(0), "r", encoding="utf-8")
    replies = os.fdopen(os.dup(1), "w", encoding="utf-8")
    null = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(null, fd)
    return requests, replies


def interrupt(_signum, _frame):
    raise KeyboardInterrupt


def run_with_alarm(request):
    """The soft time limit: an interrupt between bytecodes keeps the process warm. Work inside one C call
    (a huge integer power) never sees it; the host's wall-clock kill covers that."""
    signal.setitimer(signal.ITIMER_REAL, request["timeoutMs"] / 1000)
    try:
        return run_snippet(request["code"], request["captureChars"])
    except KeyboardInterrupt:
        return {"stdout": "", "stdoutChars": 0, "error": "TimeoutError", "errorKind": "timeout"}
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


def in_own_pid_namespace():
    """True only inside the jail: the host marks it, and bwrap's reaper (PID 1 of a fresh PID namespace)
    is our parent. Outside a jail kill(-1) would reach every process of the user, so both must hold."""
    return os.environ.get("REASONLOOP_SANDBOX_JAIL") == "1" and os.getppid() == 1


def reap_leftovers():
    """Kills whatever the snippet left running, so that a fork bomb's children do not outlive it and hold
    the sandbox user's process allowance. Only in the jail's own PID namespace."""
    if not in_own_pid_namespace():
        return
    try:
        os.kill(-1, signal.SIGKILL)
    except OSError:
        pass


WRITABLE_DIRS = ("/scratch", "/tmp")


def reset_writable_dirs():
    """Empties scratch and /tmp and returns to scratch, so that no file (and no full disk) passes from one
    snippet to the next. Only in the jail: outside it these are the host's folders."""
    if not in_own_pid_namespace():
        return
    for top in WRITABLE_DIRS:
        for entry in os.listdir(top):
            path = os.path.join(top, entry)
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path, ignore_errors=True)
            else:
                try:
                    os.unlink(path)
                except OSError:
                    pass
    os.chdir(WRITABLE_DIRS[0])


def main():
    signal.signal(signal.SIGALRM, interrupt)
    sys.dont_write_bytecode = True
    requests, replies = private_streams()
    replies.write(json.dumps({"ready": True}) + "\n")
    replies.flush()
    for line in requests:
        request = json.loads(line)
        start = time.monotonic()
        reply = run_with_alarm(request)
        reap_leftovers()
        reset_writable_dirs()
        reply["id"] = request["id"]
        reply["ms"] = (time.monotonic() - start) * 1000
        replies.write(json.dumps(reply) + "\n")
        replies.flush()


main()
