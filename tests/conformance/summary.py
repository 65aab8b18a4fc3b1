"""summary.py - turns conformance results into the table and the document.

Shared by the pytest run (which prints the table at the end) and
report.py (which also writes docs/OPERATORS.md).
"""

import collections
import re
from typing import Dict, List

from runner import CRASH, ERROR, FAIL, PASS, REJECTED, UNSUPPORTED, Result

BAD = (FAIL, CRASH, ERROR)


def counts(results: List[Result]) -> collections.Counter:
    return collections.Counter(r.status for r in results)


def types_with(results: List[Result], status: str) -> List[str]:
    seen = []
    for r in results:
        if r.status == status and r.types not in seen:
            seen.append(r.types)
    return seen


def types_passing(results: List[Result]) -> List[str]:
    """Types every counted case of which passes."""
    return [t for t in types_with(results, PASS)
            if all(r.status in (PASS, REJECTED) for r in results
                   if r.types == t)]


def op_state(results: List[Result]) -> str:
    c = counts(results)
    if any(c[s] for s in BAD):
        return "FAIL"
    if not c[PASS] and not c[UNSUPPORTED]:
        return "NO CASES"
    if c[UNSUPPORTED] and not c[PASS]:
        return "unsupported"
    if c[UNSUPPORTED]:
        return "partial"
    return "ok"


def table(results: Dict[str, List[Result]]) -> str:
    """The plain-text table printed after a run."""
    rows = [("operator", "pass", "fail", "crash", "unsup", "rej", "state",
             "types whose cases all pass")]
    for op, rs in results.items():
        c = counts(rs)
        rows.append((op, str(c[PASS]), str(c[FAIL]), str(c[CRASH] + c[ERROR]),
                     str(c[UNSUPPORTED]), str(c[REJECTED]), op_state(rs),
                     ",".join(types_passing(rs)) or "-"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    lines = []
    for r in rows:
        lines.append("  ".join(v.ljust(w) if i == 0 else v.rjust(w)
                               for i, (v, w) in enumerate(zip(r, widths)))
                     + "  " + r[-1])
    total = collections.Counter()
    for rs in results.values():
        total.update(counts(rs))
    lines.append(f"{len(results)} operators, {sum(total.values())} cases: "
                 f"{total[PASS]} pass, {total[FAIL]} fail, "
                 f"{total[CRASH] + total[ERROR]} crash/error, "
                 f"{total[UNSUPPORTED]} unsupported, {total[REJECTED]} "
                 f"rejected by LiteRT")
    return "\n".join(lines)


def _shape_of_message(message: str) -> str:
    """A message with its numbers blanked, to group like failures."""
    return re.sub(r"-?\d+(\.\d+)?(e-?\d+)?", "#", message)


def grouped(results: List[Result], statuses) -> List[tuple]:
    """[(status, message, [results])] grouping the same message."""
    groups = collections.OrderedDict()
    for r in results:
        if r.status not in statuses:
            continue
        # wrong answers are listed one by one under one heading
        key = (r.status, "" if r.status in BAD else
               _shape_of_message(r.message))
        groups.setdefault(key, []).append(r)
    return [(s, rs[0].message, rs) for (s, _), rs in groups.items()]


def describe(results: List[Result], statuses, limit=12) -> List[str]:
    """Lines naming each not-passing case (grouped by message)."""
    lines = []
    for status, message, rs in grouped(results, statuses):
        if len(rs) == 1:
            r = rs[0]
            lines.append(f"{status}: [{r.types}] {r.attrs}: {message}")
            continue
        types = ", ".join(dict.fromkeys(r.types for r in rs))
        lines.append(f"{status} in {len(rs)} cases ({types}), e.g. "
                     f"[{rs[0].types}] {rs[0].attrs}: {message}")
        for r in rs[1:limit]:
            if status in BAD:
                lines.append(f"    also [{r.types}] {r.attrs}: {r.message}")
        if status in BAD and len(rs) > limit:
            lines.append(f"    ... and {len(rs) - limit} more")
    return lines
