"""Writing the book's generated pages: Markdown tables, numbers, intervals and figure directives."""

from __future__ import annotations

import math
from typing import Any


def fmt(value: Any, digits: int = 3) -> str:
    """A number to ``digits`` decimals, "n/a" for a missing value; anything else as it prints."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def interval(low: Any, high: Any, digits: int = 3) -> str:
    return "n/a" if low is None or high is None else f"[{low:.{digits}f}, {high:.{digits}f}]"


def table(rows: list[dict[str, Any]]) -> str:
    """A Markdown table of the rows (their keys are the headers); "(none)" when there are no rows."""
    if not rows:
        return "(none)\n"
    headers = list(rows[0])
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(str(row[h]).replace("|", "/") for h in headers) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def figure(path: str, alt: str, caption: str, name: str) -> str:
    """A MyST figure directive."""
    return f"```{{figure}} {path}\n:alt: {alt}\n:name: {name}\n\n{caption}\n```\n"
