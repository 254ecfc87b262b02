"""Table 7: the admin change page with a long history (bench/admin_page.py, run in the baked project's own settings
in a process of its own, on SQLite and on PostgreSQL)."""

import json
import subprocess
import sys
from pathlib import Path

from .util import fmt_ratio, fmt_seconds, print_table

SCRIPT = Path(__file__).resolve().parent.parent / "admin_page.py"


def report(project, title, database_url, quick):
    command = [sys.executable, str(SCRIPT), "--project", str(project)]
    if database_url:
        command += ["--database-url", database_url]
    if quick:
        command.append("--quick")
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"bench/admin_page.py failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    results = {int(length): figures for length, figures in json.loads(done.stdout.splitlines()[-1]).items()}
    base = results[min(results)]
    print_table(
        title,
        ["history entries", "change page", "vs 10", "bytes", "vs 10"],
        [
            [
                f"{length:,}",
                fmt_seconds(figures["seconds"]),
                fmt_ratio(figures["seconds"] / base["seconds"]),
                f"{figures['bytes']:,}",
                fmt_ratio(figures["bytes"] / base["bytes"]),
            ]
            for length, figures in sorted(results.items())
        ],
        notes=[
            "GET of a Document's admin change page (TrackableAdminMixin) as a logged-in superuser, median of the",
            "repeats, on a fresh database. The page shows the latest 50 entries (read from the database alone) and a",
            "link to the full history; the goal is the 10,000-entry page within 2x of the 10-entry one.",
        ],
    )
    return results[max(results)]["seconds"] / base["seconds"]
