#!/usr/bin/python3
"""What a person at a terminal sees: runs a command in a pseudo-terminal of COLUMNS columns, feeds
everything it writes through the pyte terminal emulator (Debian: python3-pyte), and checks the
screen it leaves: no progress line wrapped onto a second row (each redraw would leave a stale copy),
none glued to another line, one progress row at most.

Usage: terminal_check.py COLUMNS TIMEOUT_SECONDS -- COMMAND [ARG ...]
Prints the screen; exits 0 when it is tidy, 1 with the reasons when not, 2 on a usage error.
"""
import fcntl
import os
import pty
import re
import select
import struct
import sys
import termios
import time

import pyte

# A progress row: `12/78 ended · …` (possibly cut at the right edge).
PROGRESS = re.compile(r"\d+/\d+ ended")


def run(columns, timeout, command):
    rows = 2000  # tall enough that nothing scrolls away: every row the run leaves is checked
    pid, fd = pty.fork()
    if pid == 0:
        fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
        os.execvp(command[0], command)
    screen = pyte.Screen(columns, rows)
    stream = pyte.ByteStream(screen)
    deadline = time.time() + timeout
    status = None
    while time.time() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                data = os.read(fd, 65536)
            except OSError:
                data = b""
            if data:
                stream.feed(data)
                continue
        done, raw = os.waitpid(pid, os.WNOHANG)
        if done:
            status = os.waitstatus_to_exitcode(raw)
            break
    if status is None:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
    return screen, status


def problems(screen, columns):
    found = []
    lines = [line.rstrip() for line in screen.display]
    while lines and not lines[-1]:
        lines.pop()
    progress_rows = [i for i, line in enumerate(lines) if PROGRESS.search(line)]
    for i in progress_rows:
        line = lines[i]
        start = PROGRESS.search(line).start()
        # A progress row starts at the left edge, or after an event line's time stamp (plain).
        if start != 0 and not re.match(r"^\d\d:\d\d:\d\d $", line[:start]):
            found.append(f"row {i}: something is glued before the progress line: {line!r}")
        if re.search(r"(ETA \w+|jobs/(?:s|min)|workers?)\b(?=[^\s·])", line[start:]):
            found.append(f"row {i}: another line is glued after the progress line: {line!r}")
        if len(line) >= columns:
            found.append(f"row {i}: the progress line fills the row and wraps: {line!r}")
    live = [i for i in progress_rows if not re.match(r"^\d\d:\d\d:\d\d ", lines[i])]
    if len(live) > 1:
        found.append(f"{len(live)} progress rows on screen (a redraw left copies): rows {live}")
    return found


def main():
    if len(sys.argv) < 5 or sys.argv[3] != "--":
        print(__doc__, file=sys.stderr)
        return 2
    columns, timeout, command = int(sys.argv[1]), float(sys.argv[2]), sys.argv[4:]
    screen, status = run(columns, timeout, command)
    print("\n".join(line.rstrip() for line in screen.display).rstrip())
    print(f"--- exit status {status}")
    found = problems(screen, columns)
    if status is None:
        found.append(f"the command did not end within {timeout} s")
    for problem in found:
        print("PROBLEM: " + problem)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
