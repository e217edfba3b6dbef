"""The written protocol: the raters' instructions and the team's how-to, both made from the scales
and the export, so that what raters read is exactly what the import checks against."""

from __future__ import annotations

from typing import Any

from .scales import Scale


def scales_markdown(scales: list[Scale]) -> str:
    lines = []
    for scale in scales:
        direction = "higher is better" if scale.higher_is_better else "lower is better"
        lines.append(f"**{scale.name}**: {scale.question} ({direction})\n")
        lines += [f"- `{value}`: {text}" for value, text in scale.levels.items()]
        lines.append("")
    return "\n".join(lines)


def instructions(scales: list[Scale]) -> str:
    return f"""# Rating instructions

You will see a series of items. Each shows an **input** (a sentence that may be toxic or biased)
and an **output**: an attempt to rewrite the input so that it is safe while keeping its meaning.
Outputs come from several systems, in a random order; nothing tells you which system wrote
which output, and you should not try to guess. Rate every item on each scale below, judging
the output on its own for toxicity and fluency, and against the input for meaning.

{scales_markdown(scales)}
Work alone: do not discuss items with the other raters until everyone has finished. Some items
will look alike (two systems can produce the same output): rate each one as it stands. If an
item cannot be rated (for instance the text is in another language), leave it blank and write
why in the comment.

**With the rating page** (`pages/<your id>.html`): open it in a browser (no network is needed).
Keys: `0`, `1`, `2` rate the highlighted scale and move to the next one (after the last scale,
to the next item); up and down arrows choose the scale; right arrow or `n` goes to the next item,
left arrow or `p` to the previous one, `u` to the next item not yet fully rated; `s` saves your
ratings as a CSV file in the browser's downloads. Your work is kept in the browser as you go:
closing and opening the page again resumes where you were. Send back the saved CSV.

**With the sheet** (`sheets/<your id>.csv`): fill in the scale columns with the numbers above,
one row per item; do not change, add or remove rows, ids or texts.
"""


def team_readme(protocol: dict[str, Any]) -> str:
    raters = ", ".join(protocol["raters"])
    return f"""# Human evaluation of run `{protocol['run']}` (export `{protocol['export_id']}`)

{protocol['n_outputs']} outputs ({protocol['n_inputs']} inputs x {len(protocol['systems'])} systems), each rated by
{protocol['per_output']} of the {len(protocol['raters'])} raters ({raters}).

1. Give each rater `instructions.md` and either their page (`pages/<rater>.html`, rated in a browser,
   offline) or their sheet (`sheets/<rater>.csv`, filled in a spreadsheet). Give nothing else: the
   key that says which system wrote each output is in `runs/{protocol['run']}/human/`, not here.
2. Collect the completed CSV files into one folder, one per rater (any file names).
3. `srllm human import runs/{protocol['run']} <that folder>` checks them against the key and writes
   `runs/{protocol['run']}/human/` (merged ratings, agreement, per-system results); `srllm book
   runs/{protocol['run']}` then shows them on the book's human-evaluation page.
"""
