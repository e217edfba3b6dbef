"""The offline rating page: ``page.html`` with one rater's items and the scales written into it.

One self-contained file per rater: no network, no server, no library. The data go into a
``<script type="application/json">`` block, escaped so that no text of an input or output can
close that block or be read as markup; the page's script shows every text with ``textContent``.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from .scales import Scale, scale_to_dict

PLACEHOLDER = "__SRLLM_DATA__"


def render_page(export_id: str, rater: str, scales: list[Scale], items: list[dict[str, Any]]) -> str:
    """The page for ``rater``: ``items`` are ``{item_id, input, output}`` in the rater's order."""
    template = resources.files("srllm").joinpath("human/page.html").read_text()
    if template.count(PLACEHOLDER) != 1:
        raise RuntimeError("srllm/human/page.html must hold exactly one data placeholder")
    data = {"export_id": export_id, "rater": rater, "scales": [scale_to_dict(s) for s in scales], "items": items}
    # "</" would end the script element early and "<!--" would change how it is parsed.
    payload = json.dumps(data, ensure_ascii=False).replace("</", "<\\/").replace("<!--", "<\\u0021--")
    return template.replace(PLACEHOLDER, payload)
