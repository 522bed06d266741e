"""Summarise a py-spy collapsed-stack file (``py-spy record -f raw``).

  python bench/spy_summary.py profile.raw [--top 25]

Prints self and inclusive sample shares per function (file:function), the view that
RESULTS.md quotes. py-spy samples the real process, so unlike cProfile it does not
inflate the cost of small functions.
"""

from __future__ import annotations

import argparse
import collections
import re
import signal


def frame_key(frame: str) -> str:
    # py-spy raw frames look like "function (path/to/file.py:123)"
    m = re.match(r"(.*?) \((.*?):\d+\)$", frame)
    if not m:
        return frame
    func, path = m.groups()
    short = path.split("site-packages/")[-1] if "site-packages/" in path else path
    for marker in ("/work/main/", "/bench/"):
        if marker in short:
            short = short.split(marker, 1)[1]
    return f"{short}:{func}"


def main() -> None:
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # quiet under `| head`
    ap = argparse.ArgumentParser()
    ap.add_argument("raw")
    ap.add_argument("--top", type=int, default=25)
    a = ap.parse_args()
    self_n: collections.Counter[str] = collections.Counter()
    incl_n: collections.Counter[str] = collections.Counter()
    total = 0
    with open(a.raw) as f:
        for line in f:
            stack, _, count = line.rstrip("\n").rpartition(" ")
            n = int(count)
            total += n
            frames = [frame_key(x) for x in stack.split(";") if x]
            if frames:
                self_n[frames[-1]] += n
            for key in set(frames):
                incl_n[key] += n
    print(f"samples: {total}")
    print(f"{'self %':>7} {'incl %':>7}  function")
    for key, n in self_n.most_common(a.top):
        print(f"{100 * n / total:7.1f} {100 * incl_n[key] / total:7.1f}  {key}")
    print("\ninclusive, top:")
    for key, n in incl_n.most_common(a.top):
        print(f"{100 * n / total:7.1f}  {key}")


if __name__ == "__main__":
    main()
