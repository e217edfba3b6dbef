"""Citations, licence and citation file: every cited key exists, the book's static pages build with them
warning-free, and LICENSE / CITATION.cff agree with pyproject.toml."""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
CITE = re.compile(r"\{cite(?::[a-z]+)?\}`([^`]+)`")
# MD5 of the Apache License 2.0 as published at https://www.apache.org/licenses/LICENSE-2.0.txt
APACHE_2_MD5 = "3b83ef96387f14655fc854ddc3c6bd57"


def _bib_keys() -> set[str]:
    return set(re.findall(r"^@\w+\{([^,]+),", (ROOT / "references.bib").read_text(), flags=re.M))


def test_every_cited_key_is_in_references_bib() -> None:
    cited = {key.strip() for page in (ROOT / "book").glob("*.md") for keys in CITE.findall(page.read_text()) for key in keys.split(",")}
    assert len(cited) >= 8, cited
    assert cited <= _bib_keys(), cited - _bib_keys()
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    assert config["bibtex_bibfiles"] == ["references.bib"]
    assert "sphinxcontrib.bibtex" in config["sphinx"]["config"]["extensions"]
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    assert toc["parts"][-1]["chapters"][-1]["file"] == "book/bibliography"


def test_licence_and_citation_file_match_the_package() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["license"]["text"] == "Apache-2.0"
    assert hashlib.md5((ROOT / "LICENSE").read_bytes()).hexdigest() == APACHE_2_MD5  # noqa: S324 (a checksum, not security)
    citation = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert citation["cff-version"] == "1.2.0"
    assert (citation["license"], citation["version"]) == ("Apache-2.0", project["version"])
    assert "2404.01399" in citation["references"][0]["url"]


def test_static_pages_build_warning_free_with_their_citations(tmp_path: Path) -> None:
    """The hand-written pages and the bibliography, built with the book's own configuration and -W -n; the
    run pages (made by `srllm book` from a run) are stand-ins here, so no run is needed."""
    book = tmp_path / "book"
    book.mkdir()
    for name in ("_config.yml", "_toc.yml", "references.bib"):
        shutil.copy(ROOT / name, tmp_path / name)
    for page in (ROOT / "book").iterdir():
        if page.is_file():
            shutil.copy(page, book / page.name)
    (book / "run").mkdir()
    for entry in yaml.safe_load((ROOT / "_toc.yml").read_text())["parts"]:
        for chapter in entry["chapters"]:
            if chapter["file"].startswith("book/run/"):
                name = chapter["file"].removeprefix("book/run/")
                (book / "run" / f"{name}.md").write_text(f"# {name}\n\nA stand-in for the page made from a run.\n")
    # book/intro.md includes the results table `srllm book` generates from a run: a stand-in too.
    (book / "run" / "glance.md").write_text("A stand-in for the table made from a run.\n")
    (tmp_path / "_mathjax_static").mkdir()
    jupyter_book = Path(sys.executable).parent / "jupyter-book"
    done = subprocess.run(
        [str(jupyter_book), "build", str(tmp_path), "--warningiserror", "--nitpick", "--keep-going"],
        capture_output=True, text=True, cwd=tmp_path, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    bibliography = (tmp_path / "_build" / "html" / "book" / "bibliography.html").read_text()
    assert "Developing safe and responsible large language model" in bibliography
    assert "ParaDetox" in bibliography and "Sentence-BERT" in bibliography
    intro = (tmp_path / "_build" / "html" / "book" / "intro.html").read_text()
    assert 'href="bibliography.html#' in intro  # the citations link to their entries
