"""Read ``mutmut results --all true`` on stdin; print the score over the given name globs.

Score = killed (incl. timeouts) / (mutants checked), per function and in total;
survivors are listed so each can be killed by a test or explained in pyproject.toml.
"""

from __future__ import annotations

import fnmatch
import re
import sys
from collections import Counter, defaultdict

KILLED = {"killed", "timeout"}


def main(patterns: list[str]) -> int:
    per: dict[str, Counter[str]] = defaultdict(Counter)
    survivors: list[str] = []
    for line in sys.stdin:
        m = re.match(r"\s*(\S+): (.+?)\s*$", line)
        if not m:
            continue
        name, status = m.groups()
        if patterns and not any(fnmatch.fnmatchcase(name, p) for p in patterns):
            continue
        func = name.rsplit("__mutmut_", 1)[0]
        per[func][status] += 1
        if status == "survived":
            survivors.append(name)
    total: Counter[str] = Counter()
    for func in sorted(per):
        c = per[func]
        total.update(c)
        checked = sum(n for s, n in c.items() if s != "not checked")
        killed = sum(n for s, n in c.items() if s in KILLED)
        print(f"{func}: {killed}/{checked} killed" + (f" ({dict(c)})" if set(c) - KILLED else ""))
    checked = sum(n for s, n in total.items() if s != "not checked")
    killed = sum(n for s, n in total.items() if s in KILLED)
    score = 100.0 * killed / checked if checked else 0.0
    print(f"\nmutation score over the money path: {killed}/{checked} = {score:.1f}%  {dict(total)}")
    for name in survivors:
        print("survived:", name)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
