"""The documents a newcomer reads: a short README that reaches every other document in one click, links and
anchors that lead somewhere, and facts instead of the working diary of the people who wrote them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import ROOT

README = ROOT / "README.md"
DOCUMENTS = [README, ROOT / "CONTRIBUTING.md", *sorted((ROOT / "docs").glob("*.md"))]
MAX_README_LINES = 250
# Words of the team's own process, which mean nothing to a reader (the same list as the before-stop hook).
DIARY = [r"for the lead", r"device call", r"no T4 was lent", r"main's statistics", r"the placeholder",
         r"\bissue [0-9]+", r"\bgoal [0-9]"]
LINK = re.compile(r"\[([^\]]*)\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
FENCE = re.compile(r"^\s*```.*?^\s*```", re.S | re.M)


def prose(text: str) -> str:
    """The text without fenced code blocks and inline code, where brackets are code, not links."""
    return re.sub(r"`[^`\n]*`", "", FENCE.sub("", text))


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """Every heading's anchor in a markdown file, with GitHub's -1, -2 for repeated headings."""
    seen: dict[str, int] = {}
    out = set()
    for line in FENCE.sub("", path.read_text()).splitlines():
        match = re.match(r"#{1,6} (.+)", line)
        if match:
            base = slug(match.group(1))
            count = seen.get(base, 0)
            seen[base] = count + 1
            out.add(base if count == 0 else f"{base}-{count}")
    return out


def relative_links(path: Path) -> list[str]:
    return [target for _, target in LINK.findall(prose(path.read_text()))
            if not re.match(r"[a-z]+:", target)]


def test_the_documents_exist():
    assert all(path.exists() for path in DOCUMENTS)
    assert {p.name for p in DOCUMENTS} >= {"colab.md", "corpus.md", "training.md", "study.md", "validity.md",
                                           "performance.md"}


def test_the_readme_is_short():
    lines = README.read_text().count("\n")
    assert lines < MAX_README_LINES, f"README.md has {lines} lines; move detail into docs/"


def broken_links(path: Path) -> list[str]:
    """Relative links whose file is missing, or whose anchor names no heading of the markdown file."""
    broken = []
    for target in relative_links(path):
        file_part, _, anchor = target.partition("#")
        goal = (path.parent / file_part).resolve() if file_part else path
        if not goal.exists():
            broken.append(f"{target} (no such file)")
        elif anchor and goal.suffix == ".md" and anchor not in anchors(goal):
            broken.append(f"{target} (no such heading in {goal.name})")
    return broken


@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_relative_link_and_anchor_leads_somewhere(path):
    broken = broken_links(path)
    assert not broken, f"{path.relative_to(ROOT)}: broken links: {broken}"


def test_every_document_is_one_click_from_the_readme():
    linked = {(ROOT / target.partition("#")[0]).resolve() for target in relative_links(README)}
    missing = [p.relative_to(ROOT).as_posix() for p in DOCUMENTS[1:] if p.resolve() not in linked]
    assert not missing, f"README.md links to none of: {missing}"


@pytest.mark.parametrize("path", DOCUMENTS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_no_document_speaks_of_the_teams_own_process(path):
    text = path.read_text()
    found = [m.group(0) for pattern in DIARY for m in re.finditer(pattern, text, re.I)]
    assert not found, f"{path.relative_to(ROOT)}: say facts with date, hardware and command instead of {found}"


def test_the_checks_catch_what_they_look_for(tmp_path):
    """The link and anchor checks fail on a broken link and a missing anchor, and pass on good ones."""
    (tmp_path / "a.md").write_text("# Title\n\n## The Colab stand-in: `make colab-check`\n\n## Notes\n\n## Notes\n\n"
                                   "[ok](b.md#the-heading) [self](#notes-1) [gone](c.md) [bad](b.md#nope)\n"
                                   "```bash\n[not a link](nowhere.md)\n```\n"
                                   "[web](https://example.org/x.md)\n")
    (tmp_path / "b.md").write_text("## The heading\n")
    assert anchors(tmp_path / "a.md") == {"title", "the-colab-stand-in-make-colab-check", "notes", "notes-1"}
    assert relative_links(tmp_path / "a.md") == ["b.md#the-heading", "#notes-1", "c.md", "b.md#nope"]
    assert broken_links(tmp_path / "a.md") == ["c.md (no such file)", "b.md#nope (no such heading in b.md)"]
    assert [p for p in DIARY if re.search(p, "as issue 21 says", re.I)] == [r"\bissue [0-9]+"]
