#!/usr/bin/env python3
"""funclen: the functions of a C tree that are longer than a screen.

Usage: scripts/funclen.py [--max N] [--all] DIR_OR_FILE...

Prints "LINES FILE:LINE NAME" for every function definition longer than N lines
(default 80), counted from the first line of its signature to its closing brace,
longest first, and exits 1 if any is listed. A function may stay long when the
comment just above it says why and contains the words "long on purpose" (a flat
table or a switch read top to bottom); --all lists those too, marked "(reason)".

It reads the house style (STYLE.md): a definition's body opens with "{" alone at
column 0 and closes with "}" alone at column 0; a signature starts at column 0
and may continue on indented lines.
"""
import os
import re
import sys

REASON = "long on purpose"


def functions(path):
    with open(path, errors="replace") as f:
        lines = f.read().split("\n")
    i = 0
    while i < len(lines):
        if lines[i] == "{" and i > 0:
            end = i + 1
            while end < len(lines) and lines[end] != "}":
                end += 1
            start = i - 1
            while start > 0 and lines[start][:1] in ("\t", " "):
                start -= 1
            above = "\n".join(lines[max(0, start - 3):start])
            m = re.search(r"([A-Za-z_][A-Za-z0-9_]*)\s*\(", lines[start])
            name = m.group(1) if m else lines[start].strip()[:40]
            yield start + 1, name, end - start + 1, REASON in above
            i = end
        i += 1


def main(argv):
    limit, show_all, roots = 80, False, []
    args = iter(argv)
    for a in args:
        if a == "--max":
            limit = int(next(args, "80"))
        elif a == "--all":
            show_all = True
        elif a in ("-h", "--help"):
            print(__doc__.strip())
            return 0
        else:
            roots.append(a)
    if not roots:
        print("usage: scripts/funclen.py [--max N] [--all] DIR_OR_FILE...", file=sys.stderr)
        return 2
    found = []
    for root in roots:
        paths = [root] if os.path.isfile(root) else [
            os.path.join(d, f) for d, _, fs in os.walk(root) for f in fs if f.endswith(".c")]
        for p in sorted(paths):
            for line, name, n, reason in functions(p):
                if n > limit and (show_all or not reason):
                    found.append((n, f"{p}:{line}", name, reason))
    bad = 0
    for n, where, name, reason in sorted(found, key=lambda r: (-r[0], r[1])):
        print(f"{n} {where} {name}" + (" (reason)" if reason else ""))
        bad += not reason
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
