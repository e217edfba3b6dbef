"""What a figure shows, read from the figure itself, and the sentences of its caption that say otherwise.

Captions and alt text are written by hand beside the code that draws the figure (the ``mystnb``
metadata of a notebook cell), so a change of colour map or axis can leave the words behind. This reads
the colour map and the row and column labels from a drawn ``matplotlib`` figure, and checks the
caption's statements against them:

- "<low end> is <colour>" or "<colour> is <low end>", where the low end is negative, low or lower,
  and the same for the high end;
- "rows are <...>" and "columns are <...>", which must name the y and x axis labels.
"""

from __future__ import annotations

import colorsys
import re
from typing import Any

LOW_WORDS = ("negative", "low", "lower", "smaller", "less")
HIGH_WORDS = ("positive", "high", "higher", "larger", "more")
COLOURS = ("red", "orange", "yellow", "green", "blue", "purple", "grey", "gray", "white", "black")
_END = "|".join(LOW_WORDS + HIGH_WORDS)
_COLOUR = "|".join(COLOURS)
COLOUR_STATEMENT = re.compile(
    rf"\b(?:(?P<end>{_END})\b[\w ]*? is (?P<colour>{_COLOUR})|(?P<colour2>{_COLOUR}) is (?P<end2>{_END}))\b",
    re.IGNORECASE,
)
AXIS_STATEMENT = re.compile(r"\b(?P<axis>rows|columns) are (?P<what>[^,;.()]+)", re.IGNORECASE)


def colour_name(rgb: tuple[float, ...]) -> str:
    """The everyday name of an RGB colour (0-1 floats): its hue family, or grey, white or black."""
    hue, lightness, saturation = colorsys.rgb_to_hls(*rgb[:3])
    if lightness > 0.92:
        return "white"
    if lightness < 0.12:
        return "black"
    if saturation < 0.2:
        return "grey"
    degrees = hue * 360
    for limit, name in ((15, "red"), (45, "orange"), (70, "yellow"), (170, "green"), (255, "blue"), (330, "purple")):
        if degrees < limit:
            return name
    return "red"


def figure_encoding(fig: Any) -> dict[str, Any]:
    """The colour-map ends and the axis labels of the figure's main axes (the first one with data)."""
    encoding: dict[str, Any] = {"low": None, "high": None, "xlabel": "", "ylabel": ""}
    for ax in fig.axes:
        mappables = [c for c in ax.collections if getattr(c, "cmap", None) is not None and c.get_array() is not None]
        if ax.get_xlabel() or ax.get_ylabel() or mappables:
            encoding.update(xlabel=ax.get_xlabel(), ylabel=ax.get_ylabel())
            if mappables:
                cmap = mappables[0].cmap
                encoding.update(low=colour_name(cmap(0.0)), high=colour_name(cmap(1.0)))
            break
    return encoding


def _same_word(label: str, phrase: str) -> bool:
    """Whether a word of the axis label (its stem: "group" in "groups") occurs in the caption's phrase."""
    words = re.findall(r"[a-z]+", phrase.lower())
    return any(w.startswith(stem) for stem in re.findall(r"[a-z]{3,}", label.lower()) for w in words)


def disagreements(text: str, encoding: dict[str, Any]) -> list[str]:
    """The statements of ``text`` (a caption or alt text) that the figure's ``encoding`` contradicts."""
    found = []
    for match in COLOUR_STATEMENT.finditer(text):
        end = (match.group("end") or match.group("end2")).lower()
        colour = (match.group("colour") or match.group("colour2")).lower().replace("gray", "grey")
        side = "low" if end in LOW_WORDS else "high"
        if encoding[side] is None:
            found.append(f"'{match.group(0)}': the figure has no colour map")
        elif encoding[side] != colour:
            found.append(f"'{match.group(0)}': the colour map's {side} end is {encoding[side]}")
    for match in AXIS_STATEMENT.finditer(text):
        label = encoding["ylabel" if match.group("axis").lower() == "rows" else "xlabel"]
        if not _same_word(label, match.group("what")):
            found.append(f"'{match.group(0)}': the {match.group('axis').lower()} are labelled '{label}'")
    return found
