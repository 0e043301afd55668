"""Runs one model-written snippet the way both sandbox backends do (CPython and Pyodide share this file).

Each snippet gets a fresh namespace (no state leaks between responses that share a warm process), a
reseeded `random` (a retried rollout sees the same numbers), and stdout/stderr captured up to a cap so
that printing 10 MB costs nothing but the count.
"""

import linecache
import random
import sys
import traceback

SNIPPET_FILENAME = "<code>"


class CappedWriter:
    """A text stream that keeps the first `cap` characters and counts the rest."""

    def __init__(self, cap):
        self.cap = cap
        self.parts = []
        self.kept = 0
        self.total = 0

    def write(self, s):
        s = str(s)
        self.total += len(s)
        room = self.cap - self.kept
        if room > 0:
            piece = s[:room]
            self.parts.append(piece)
            self.kept += len(piece)
        return len(s)

    def flush(self):
        pass

    def isatty(self):
        return False

    def writable(self):
        return True

    def getvalue(self):
        return "".join(self.parts)


def error_kind(exc):
    if isinstance(exc, KeyboardInterrupt):
        return "timeout"
    if isinstance(exc, MemoryError):
        return "memory"
    return "exception"


def format_error(exc):
    """The traceback as Python prints it, keeping only the snippet's own frames."""
    if isinstance(exc, KeyboardInterrupt):
        return "TimeoutError: the code ran past its time limit and was interrupted"
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == SNIPPET_FILENAME]
    lines = traceback.format_exception_only(type(exc), exc)
    if frames:
        lines = ["Traceback (most recent call last):\n"] + traceback.format_list(frames[-3:]) + lines
    return "".join(lines).rstrip("\n")


def run_snippet(code, capture_chars):
    out = CappedWriter(capture_chars)
    saved = sys.stdout, sys.stderr
    error = None
    kind = None
    lines = code.splitlines(True)
    linecache.cache[SNIPPET_FILENAME] = (len(code), None, lines, SNIPPET_FILENAME)
    namespace = {"__name__": "__main__"}
    random.seed(0)
    sys.stdout = sys.stderr = out
    try:
        exec(compile(code, SNIPPET_FILENAME, "exec"), namespace)
    except SystemExit as exc:
        if exc.code not in (None, 0):
            error, kind = "SystemExit: " + str(exc.code), "exception"
    except BaseException as exc:  # noqa: BLE001 - every failure of model code is reported, never raised
        kind = error_kind(exc)
        # Free what the snippet hoarded before formatting (a memory bomb leaves the heap full), and fall
        # back to the bare exception name if formatting fails or the interrupt lands in it.
        namespace.clear()
        try:
            error = format_error(exc)
        except BaseException:  # noqa: BLE001
            error = type(exc).__name__
    finally:
        sys.stdout, sys.stderr = saved
        namespace.clear()
    return {"stdout": out.getvalue(), "stdoutChars": out.total, "error": error, "errorKind": kind}
