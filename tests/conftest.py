"""Shared fixtures: small real sites written into temp folders, and the CLI run on them."""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

from generator.cli import main
from generator.writer import MARKER

REPO = Path(__file__).resolve().parent.parent
NOW = "2026-01-01T00:00:00+00:00"  # pinned clock: entries after it are "in the future"

SITE_YAML = """\
title: Test Desk
base_url: https://checks.example.org/
language: en
description: Test site.
contact: desk@example.org
per_page: 3
"""

COMPANIES = {
    "byd": "---\nname: BYD\naliases: [BYD Auto, 比亚迪]\nwebsite: https://www.byd.com\n"
    "wikidata: Q747014\nindustry: Automotive\n---\n\nCarmaker.\n",
    "xiaomi": "---\nname: Xiaomi\naliases: [小米]\n---\n\nPhones.\n",
    "acme": "---\nname: Acme Foods\n---\n\nNobody checks Acme.\n",
}


def entry_text(
    title: str = "A check",
    claim: str = "Something was said",
    verdict: str = "false",
    published: str = "2020-12-15",
    companies: str = "[BYD]",
    extra: str = "",
    body: str = "Body text.",
) -> str:
    """The Markdown of one entry; ``extra`` adds front matter lines."""
    lines = [
        "---",
        f"title: {title}",
        f"claim: {claim}",
        f"verdict: {verdict}",
        f"published: {published}",
        f"companies: {companies}",
    ]
    if extra:
        lines.append(textwrap.dedent(extra).strip("\n"))
    # A complete check names its claimant and where the claim appeared (ClaimReview
    # warns otherwise); after ``extra`` so the lines above keep their numbers.
    if "claimant:" not in extra:
        lines.append("claimant: Posts shared on social media")
    if "claim_urls:" not in extra:
        lines.append("claim_urls: [https://social.example.com/post/1]")
    lines += ["---", "", body, ""]
    return "\n".join(lines)


@dataclass
class Site:
    """A site folder under a temp path, with helpers to edit and build it."""

    root: Path

    @property
    def out(self) -> Path:
        return self.root / "output"

    def write(self, relpath: str, text: str | bytes) -> Path:
        path = self.root / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text, encoding="utf-8")
        return path

    def entry(self, name: str, **fields: str) -> Path:
        return self.write(f"content/entries/{name}.md", entry_text(**fields))

    def remove(self, relpath: str) -> None:
        (self.root / relpath).unlink()

    def html(self, relpath: str) -> BeautifulSoup:
        return BeautifulSoup((self.out / relpath).read_text(encoding="utf-8"), "html.parser")

    def snapshot(self) -> dict[str, bytes]:
        """Every file of the built site and its bytes (not the writer's marker file)."""
        return {
            p.relative_to(self.out).as_posix(): p.read_bytes()
            for p in sorted(self.out.rglob("*"))
            if p.is_file() and p.name != MARKER
        }


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file of a built site folder and its bytes (dot entries, such as the writer's
    marker and a serve cache, left out)."""
    return {
        relpath: p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not (relpath := p.relative_to(root).as_posix()).startswith(".")
    }


@pytest.fixture
def site(tmp_path: Path) -> Site:
    """A small valid site: three companies (one never checked) and no entries yet."""
    made = Site(tmp_path / "site")
    made.write("content/site.yaml", SITE_YAML)
    for slug, text in COMPANIES.items():
        made.write(f"content/companies/{slug}.md", text)
    return made


@pytest.fixture(autouse=True)
def pinned_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FACTSITE_NOW", NOW)


@dataclass
class Run:
    code: int
    out: str
    err: str


@pytest.fixture
def run(capsys: pytest.CaptureFixture[str]):
    """Run the ``factsite`` command line in-process: ``run("build", str(site.root))``."""

    def _run(*args: str) -> Run:
        code = main(list(args))
        captured = capsys.readouterr()
        return Run(code, captured.out, captured.err)

    return _run
