"""The check's output: one table row per Django version, database, base model and label, then what went wrong."""

from .expected import FAILING

COLUMNS = (
    "Django",
    "database",
    "base",
    "label",
    "ran",
    "passed",
    "skipped",
    "expected",
    "unexpected",
    "stale",
    "time",
)
PASSING = ("passed", "expected failure")


def counts(run, verdict):
    outcomes = [result["outcome"] for result in run.outcomes.values()]
    return {
        "ran": len(outcomes),
        "passed": sum(outcome in PASSING for outcome in outcomes),
        "skipped": outcomes.count("skipped"),
        "failing": sum(outcome in FAILING for outcome in outcomes),
        "expected": len(verdict.expected),
        "unexpected": len(verdict.unexpected),
        "stale": len(verdict.stale),
        "seconds": run.seconds,
    }


def table(results):
    """The table for [(LabelRun, Verdict)], with a total row."""
    rows = []
    total = dict.fromkeys(("ran", "passed", "skipped", "expected", "unexpected", "stale", "seconds"), 0)
    for run, verdict in results:
        figures = counts(run, verdict)
        for key in total:
            total[key] += figures[key]
        rows.append((run.django_version, run.database, run.base, run.label, *_figures(figures)))
    rows.append(("total", "", "", f"{len(results)} runs", *_figures(total)))
    widths = [max(len(str(row[i])) for row in (COLUMNS, *rows)) for i in range(len(COLUMNS))]
    numeric = set(range(4, len(COLUMNS)))

    def line(cells):
        return "  ".join(
            str(cell).rjust(width) if i in numeric else str(cell).ljust(width)
            for i, (cell, width) in enumerate(zip(cells, widths, strict=True))
        ).rstrip()

    rule = "  ".join("-" * width for width in widths)
    return "\n".join([line(COLUMNS), rule, *map(line, rows[:-1]), rule, line(rows[-1])])


def _figures(figures):
    return (
        figures["ran"],
        figures["passed"],
        figures["skipped"],
        figures["expected"],
        figures["unexpected"],
        figures["stale"],
        f"{figures['seconds']:.1f} s",
    )


def left_out(not_run):
    """The tests left out of every run, with their reasons."""
    return "\n".join(f"NOT RUN     {test}: {reason}" for test, reason in sorted(not_run.items()))


def problems(results, full=False):
    """The unexpected failures (first and last lines of each, or whole with `full`) and the stale entries."""
    lines = []
    for run, verdict in results:
        where = f"Django {run.django_version}, {run.database}, {run.base}"
        for test, detail in sorted(verdict.unexpected.items()):
            lines.append(f"UNEXPECTED  {test}  [{where}]")
            lines.extend(f"    {text}" for text in (detail.splitlines() if full else _summary(detail)))
        for difference in verdict.stale:
            outcome = run.outcomes.get(difference.test, {}).get("outcome", "did not run")
            lines.append(f"STALE       {difference.test}  [{where}]: listed as expected, but {outcome}")
    return "\n".join(lines)


def _summary(detail, limit=6):
    """The outcome and the exception raised (what follows the traceback's last frame): enough to group by cause."""
    text = detail.splitlines()
    frames = [i for i, line in enumerate(text) if line.startswith('  File "')]
    exception = [line for line in text[frames[-1] + 2 :] if line.strip()] if frames else text[1:]
    mismatch = [line for line in exception if line.startswith("(listed as expected")]
    exception = [line for line in exception if line not in mismatch]
    return [text[0].split(":", 1)[0], *exception[:limit], *mismatch]
