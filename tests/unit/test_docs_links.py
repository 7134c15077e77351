"""The README reaches every document, and no relative link in the documents is broken."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCUMENTS = sorted([ROOT / "README.md", ROOT / "CONTRIBUTING.md", ROOT / "CHANGELOG.md"])
DOCUMENTS += sorted((ROOT / "docs").glob("*.md"))
LINK = re.compile(r"\]\(([^)\s]+)\)")
CODE_BLOCK = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)


def links(document: Path) -> list[str]:
    """The link targets of a Markdown file, outside code blocks."""
    return LINK.findall(CODE_BLOCK.sub("", document.read_text(encoding="utf-8")))


def anchors(document: Path) -> set[str]:
    """GitHub's anchors of a Markdown file's headings."""
    text = CODE_BLOCK.sub("", document.read_text(encoding="utf-8"))
    found: set[str] = set()
    for heading in re.findall(r"^#{1,6} +(.+?) *$", text, re.MULTILINE):
        slug = re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        found.add(slug if slug not in found else f"{slug}-1")
    return found


def test_the_readme_links_every_document() -> None:
    targets = {link.partition("#")[0] for link in links(ROOT / "README.md")}
    expected = {f"docs/{path.name}" for path in (ROOT / "docs").glob("*.md")}
    expected |= {"CHANGELOG.md", "CONTRIBUTING.md", "LICENSE"}
    assert expected - targets == set()


def test_the_readme_opens_with_the_two_commands() -> None:
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert lines[2] == "```bash"
    assert lines[3].startswith("./dev start    # ")
    assert lines[4].startswith("./dev test     # ")
    assert lines[5] == "```"


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda path: path.name)
def test_relative_links_reach_a_file_and_heading(document: Path) -> None:
    broken = []
    for link in links(document):
        if re.match(r"[a-z]+:", link):  # https:, mailto:
            continue
        path, _, anchor = link.partition("#")
        target = (document.parent / path).resolve() if path else document
        if not target.exists():
            broken.append(link)
            continue
        if anchor and target.suffix == ".md" and anchor not in anchors(target):
            broken.append(link)
    assert broken == []
