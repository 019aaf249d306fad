#!/usr/bin/env python3
"""bench-merge.py GENERATED OUT: put scripts/bench.sh's sections into OUT.

GENERATED is the markdown bench.sh made: a "# Benchmarks" preamble and its
own "## " sections (the ones OWNED matches). OUT (docs/benchmarks.md) is
rewritten as GENERATED followed by every "## " section of the old OUT that
bench.sh does not own (Vault, Server, Devices, hand-written notes, ...),
unchanged and in their order. The old file's preamble and owned sections are
replaced. Nothing is lost when OUT does not exist yet.
"""
import os
import re
import sys

OWNED = re.compile(r"^## (Start-up|10 secrets|1000 secrets|vault get on .* secrets|Peak memory|Go benchmarks|Against the targets)\s*$")
# The marker of the earlier layout ("notes after it survive"): every section
# not owned survives now, so the marker line itself is dropped.
MARKER = "<!-- notes: kept by scripts/bench.sh -->"


def kept_sections(text):
    kept, cur = [], None
    for line in text.splitlines():
        if line.startswith("## "):
            cur = None if OWNED.match(line) else [line]
            if cur is not None:
                kept.append(cur)
        elif cur is not None and line.strip() != MARKER:
            cur.append(line)
    return ["\n".join(sec).strip("\n") for sec in kept]


def main(generated, out):
    body = open(generated).read().rstrip("\n") + "\n"
    if os.path.exists(out):
        for sec in kept_sections(open(out).read()):
            body += "\n" + sec + "\n"
    tmp = out + ".tmp"
    with open(tmp, "w") as f:
        f.write(body)
    os.replace(tmp, out)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: bench-merge.py GENERATED OUT")
    main(sys.argv[1], sys.argv[2])
