#!/usr/bin/python3
"""Runs a command on a fresh pseudo-terminal (123 columns x 45 rows), like a user
at a terminal: optionally waits until the output shows MARKER, then types INPUT
(backslash escapes allowed), reads everything until the command exits, writes the
raw bytes it printed to stdout and exits with its exit code. Unlike script(1) it
never writes anything of its own to the terminal (script injects an EOF
character when its stdin ends). Bounded: the command is killed after --timeout.

usage: ptydrive.py [--wait MARKER] [--input TEXT] [--timeout S] -- CMD ARGS..."""
import argparse, fcntl, os, pty, select, signal, struct, sys, termios, time

ap = argparse.ArgumentParser()
ap.add_argument("--wait", default=None)
ap.add_argument("--input", default="")
ap.add_argument("--timeout", type=float, default=60)
ap.add_argument("cmd", nargs=argparse.REMAINDER)
a = ap.parse_args()
cmd = a.cmd[1:] if a.cmd and a.cmd[0] == "--" else a.cmd
data = a.input.encode().decode("unicode_escape").encode("latin-1")

pid, fd = pty.fork()
if pid == 0:
    os.execvp(cmd[0], cmd)
fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 45, 123, 0, 0))
out = b""
sent = not data
deadline = time.monotonic() + a.timeout
while time.monotonic() < deadline:
    if not sent and (a.wait is None or a.wait.encode() in out):
        os.write(fd, data)
        sent = True
    r, _, _ = select.select([fd], [], [], 0.1)
    if r:
        try:
            d = os.read(fd, 65536)
        except OSError:  # EIO: the command and its terminal are gone
            break
        if not d:
            break
        out += d
else:
    os.kill(pid, signal.SIGKILL)
_, st = os.waitpid(pid, 0)
sys.stdout.buffer.write(out)
sys.exit(os.waitstatus_to_exitcode(st) if os.WIFEXITED(st) else 125)
