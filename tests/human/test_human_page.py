"""The offline rating page driven in headless Chromium: rate with the keyboard, reload (resume),
save the CSV through the browser's download, and import what it saved."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from human_fixtures import fill_sheet, synthetic_run

from srllm.human.export import ExportOptions, export
from srllm.human.importer import import_ratings
from srllm.report.book_check import CHROMIUM_ARGS, chromium_path


def test_rating_page_in_chromium(tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    run = synthetic_run(tmp_path)
    export(run, tmp_path / "handout", ExportOptions(items=3, raters=2, seed=5))
    sheet = pd.read_csv(tmp_path / "handout" / "sheets" / "rater-01.csv", dtype=str, keep_default_na=False)
    ids = list(sheet["item_id"])
    returned = tmp_path / "returned"
    returned.mkdir()
    problems: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        context = browser.new_context(accept_downloads=True)
        page = context.new_page()
        page.on("console", lambda msg: problems.append(f"console: {msg.text}") if msg.type == "error" else None)
        page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
        # Offline: the page may load itself and nothing else.
        page.on("request", lambda req: None if req.url.startswith(("file://", "blob:", "data:")) else problems.append(req.url))
        page.goto((tmp_path / "handout" / "pages" / "rater-01.html").as_uri())
        text = lambda selector: page.locator(selector).inner_text()  # noqa: E731
        assert text("#progress") == f"0 of {len(ids)} items rated" and text("#item-id") == ids[0]
        assert "The output is a refusal" not in page.content() and "Is the output toxic or biased?" in page.content()
        for key in "2010":  # toxicity 2, meaning 0, fluency 1, not a refusal: complete, on to item 2
            page.keyboard.press(key)
        assert text("#item-id") == ids[1] and text("#progress") == f"1 of {len(ids)} items rated"
        for key in "1221":
            page.keyboard.press(key)
        page.keyboard.press("9")  # not a level of the toxicity scale: ignored
        page.keyboard.press("0")  # item 3: toxicity 0 only
        assert text("#item-id") == ids[2]
        page.locator("#comment").click()
        page.keyboard.type('n 2 "unsure", p')  # keys typed into the comment do not rate or move
        assert text("#item-id") == ids[2] and text("#progress") == f"2 of {len(ids)} items rated"
        page.reload()  # resumes from the browser's local storage
        assert text("#item-id") == ids[2] and text("#progress") == f"2 of {len(ids)} items rated"
        assert page.locator("#comment").input_value() == 'n 2 "unsure", p'
        assert page.locator('#scale-toxicity input[value="0"]').is_checked()
        page.locator("body").click()
        page.keyboard.press("p")
        assert text("#item-id") == ids[1] and page.locator('#scale-meaning input[value="2"]').is_checked()
        page.keyboard.press("u")  # the next item not fully rated: item 3
        assert text("#item-id") == ids[2]
        page.locator('#scale-fluency input[value="2"]').check()  # by mouse as well
        with page.expect_download() as download:
            page.keyboard.press("s")
        download.value.save_as(returned / "rater-01.csv")
        assert "Saved rater-01.csv (2 of" in text("#status")
        browser.close()
    assert problems == []
    (returned / "rater-02.csv").write_bytes((tmp_path / "handout" / "sheets" / "rater-02.csv").read_bytes())
    fill_sheet(returned / "rater-02.csv", seed=1)
    summary = import_ratings(run, returned, resamples=10)
    ratings = pd.read_csv(run / "human" / "ratings.csv", dtype=str)
    mine = {(r.item_id, r.scale): int(r.value) for r in ratings[ratings["rater"] == "rater-01"].itertuples()}
    assert mine == {
        (ids[0], "toxicity"): 2, (ids[0], "meaning"): 0, (ids[0], "fluency"): 1, (ids[0], "not_rewrite"): 0,
        (ids[1], "toxicity"): 1, (ids[1], "meaning"): 2, (ids[1], "fluency"): 2, (ids[1], "not_rewrite"): 1,
        (ids[2], "toxicity"): 0, (ids[2], "fluency"): 2,
    }  # fmt: skip
    assert summary["partial"] == ["rater-01"]
    assert summary["raters"]["rater-01"] | {"sheet": None} == {
        "assigned": len(ids), "fully_rated": 2, "partly_rated": 1, "not_rated": len(ids) - 3, "complete": False, "sheet": None}
    comments = pd.read_csv(run / "human" / "comments.csv", dtype=str)
    assert comments.to_dict(orient="records") == [{"item_id": ids[2], "rater": "rater-01", "comment": 'n 2 "unsure", p'}]
    assert json.loads((run / "metrics.json").read_text())["human"]["n_ratings"] == len(ratings)
