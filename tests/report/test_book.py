"""The book built from the smoke run, checked as a reader sees it, and published to a local bare repo."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from srllm.config import STEPS

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_every_page_renders_cleanly_in_chromium(smoke_book: Path) -> None:
    from srllm.report.book_check import check_book

    problems = check_book(smoke_book, smoke_book.parent / "screenshots")
    assert problems == {}
    shots = sorted(p.name for p in (smoke_book.parent / "screenshots").glob("*.png"))
    assert "book_run_04_evaluate.png" in shots and "book_run_claims.png" in shots


@pytest.mark.slow
def test_book_check_catches_a_broken_page(smoke_book: Path, tmp_path: Path) -> None:
    import shutil

    from srllm.report.book_check import check_book

    broken = tmp_path / "html"
    shutil.copytree(smoke_book, broken)
    page = broken / "book" / "method.html"
    wide = "<table><tr>" + "".join(f'<td style="white-space: nowrap">column{i:03d}-{"x" * 20}</td>' for i in range(40)) + "</tr></table>"
    page.write_text(page.read_text().replace("</main>", f'<a href="nowhere.html">x</a><img src="missing.png" alt="a">{wide}</main>', 1))
    problems = check_book(broken, tmp_path / "shots")
    assert any("broken link" in p for p in problems["book/method.html"])
    assert any("image did not load" in p for p in problems["book/method.html"])
    assert any("wider than the page" in p for p in problems["book/method.html"])  # a table scrolling off the page


@pytest.mark.slow
def test_math_renders_without_a_network(smoke_book: Path) -> None:
    html = (smoke_book / "book" / "method.html").read_text()
    assert "_static/mathjax/tex-chtml.js" in html and "cdn.jsdelivr" not in html
    assert (smoke_book / "_static" / "mathjax" / "tex-chtml.js").is_file()


@pytest.mark.slow
def test_claims_and_reproducibility_pages_come_from_the_run(smoke_book: Path, smoke_run: Path) -> None:
    claims = (smoke_book / "book" / "run" / "claims.html").read_text()
    # Knowledge retention is always "not comparable" (a different definition); the smoke run trains
    # every method, so the only claim left untested is the human evaluation (no ratings imported).
    assert "not comparable" in claims and claims.count("<strong>not tested in this run</strong>") == 1
    verdicts = ("reproduced", "partly reproduced", "not reproduced")
    assert sum(claims.count(f"<strong>{v}</strong>") for v in verdicts) == 6  # the lexicon-deletion floor is a sixth
    assert "robust" in claims  # every verdict under the other metric choices
    repro = (smoke_book / "book" / "run" / "reproducibility.html").read_text()
    assert "Stage timings" in repro and "smoke.yaml" in repro
    # Steps in pipeline order with their total, then the evaluation step by task.
    timings = repro[repro.index('id="stage-timings"') : repro.index('id="settings-that-can-change-a-number"')]
    positions = [timings.index(f"<td><p>{step}</p></td>") for step in STEPS]
    assert positions == sorted(positions)
    total = sum(info["wall_seconds"] for info in json.loads((smoke_run / "steps.json").read_text()).values())
    assert f"<strong>{total:.0f}</strong>" in timings
    assert all(f"<code class=\"docutils literal notranslate\"><span class=\"pre\">{task}</span></code>" in timings
               for task in ("stereoset", "crows_pairs", "inhouse"))  # fmt: skip


def test_publish_puts_the_book_on_gh_pages_of_a_local_bare_repo(tmp_path: Path) -> None:
    site = tmp_path / "html"
    site.mkdir()
    (site / "index.html").write_text("<html><body>book</body></html>")
    bare, work = tmp_path / "remote.git", tmp_path / "work"
    subprocess.run(["git", "init", "--bare", "-q", str(bare)], check=True)
    subprocess.run(["git", "init", "-q", str(work)], check=True)
    subprocess.run(["git", "-C", str(work), "remote", "add", "origin", str(bare)], check=True)
    env_user = ["-c", "user.name=srllm", "-c", "user.email=srllm@localhost"]
    ghp = Path(__import__("sys").executable).parent / "ghp-import"
    subprocess.run(["git", *env_user, "-C", str(work), "commit", "-q", "--allow-empty", "-m", "init"], check=True)
    result = subprocess.run(
        [str(ghp), "--no-jekyll", "--push", "--force", "--remote", "origin", "--branch", "gh-pages", str(site)],
        cwd=work, capture_output=True, text=True,
        env={**__import__("os").environ, "GIT_AUTHOR_NAME": "srllm", "GIT_AUTHOR_EMAIL": "srllm@localhost",
             "GIT_COMMITTER_NAME": "srllm", "GIT_COMMITTER_EMAIL": "srllm@localhost"},
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    listing = subprocess.run(["git", "-C", str(bare), "ls-tree", "--name-only", "gh-pages"], capture_output=True, text=True, check=True)
    assert {"index.html", ".nojekyll"} <= set(listing.stdout.split())
    makefile = (ROOT / "Makefile").read_text()
    assert "ghp-import" in makefile and "--branch gh-pages" in makefile
