"""`rassegna status`: the status page's summary in the terminal (a rich table with a
unicode sparkline of articles per day per source) or as JSON."""

from __future__ import annotations

import json

from rich.console import Console
from rich.table import Table

from rassegna.charts import text_sparkline
from rassegna.status import STATE_LABELS, StatusReport, as_json, duration_text, size_text


def _when(value: object) -> str:
    text = getattr(value, "isoformat", lambda: "never")()
    return str(text)[:16].replace("T", " ") if value is not None else "never"


def print_status(report: StatusReport, *, json_output: bool, console: Console) -> None:
    """Print `report`: failing sources first, then the totals."""
    if json_output:
        console.out(json.dumps(as_json(report), ensure_ascii=False, indent=2), highlight=False)
        return
    table = Table(
        "source", "state", "last success", "next poll", "interval", "articles", "30 days", "error"
    )
    for s in report.sources:
        table.add_row(
            s.name,
            STATE_LABELS[s.state],
            _when(s.last_success),
            "never (gone)" if s.state == "gone" else _when(s.next_due),
            f"{duration_text(s.interval_seconds)} ({s.interval_reason})",
            str(s.articles),
            text_sparkline(s.per_day),
            (s.last_error or "")[:80],
        )
    console.print(table)
    week = sum(report.per_hour)
    console.print(
        f"{report.total_articles} articles stored, {week} in the last 7 days "
        f"{text_sparkline(_daily(report.per_hour))}; "
        f"{report.output.feeds} feeds and {report.output.pages} pages published "
        f"({size_text(report.output.bytes)})",
        highlight=False,
    )
    if report.builds:
        last = report.builds[0]
        console.print(
            f"last build {_when(last.started)}: {last.seconds:.2f} s, {last.written} files written",
            highlight=False,
        )


def _daily(per_hour: tuple[int, ...]) -> list[int]:
    return [sum(per_hour[i : i + 24]) for i in range(0, len(per_hour), 24)]
