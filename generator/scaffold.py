"""Creating files for authors: ``factsite new entry|company`` and ``factsite init``."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from .loader import slugify


class ScaffoldError(Exception):
    """The file or site cannot be created (it exists, or the folder is not a site)."""


def _yaml_text(value: str) -> str:
    """A YAML double-quoted scalar, safe for any title."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def _write_new(path: Path, text: str) -> Path:
    if path.exists():
        raise ScaffoldError(f"{path} already exists; not overwriting it")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def _require_site(site: Path) -> Path:
    content = site / "content"
    if not content.is_dir():
        raise ScaffoldError(
            f"{site} has no content/ folder; run this in a site folder or pass --site"
        )
    return content


def new_entry(site: Path, title: str, now: dt.datetime) -> Path:
    """Write ``content/entries/YYYY/YYYY-MM-DD-<slug>.md`` with every field to fill in.

    The entry is a draft with empty required fields: the build names each one until the
    author has filled it in.
    """
    content = _require_site(site)
    slug = slugify(title)
    taken = [
        p
        for p in (content / "entries").rglob("*.md")
        if p.stem == slug or (p.stem.endswith(f"-{slug}") and p.stem[:10].count("-") == 2)
    ]
    if taken:
        raise ScaffoldError(f"an entry with slug '{slug}' already exists: {taken[0]}")
    day = now.date().isoformat()
    path = content / "entries" / day[:4] / f"{day}-{slug}.md"
    return _write_new(
        path,
        f"""---
title: {_yaml_text(title)}
claim: ""               # the claim in at most 75 characters, without the verdict word
claim_quote: ""         # the claim word for word, as it was made
claimant: ""            # who made the claim
claim_date: {day}
claim_urls: []          # where the claim appeared (https://…)
verdict: ""             # one of the ids in content/site.yaml (e.g. false, misleading)
verdict_explanation: "" # the bottom line, in one sentence
companies: []           # company names, slugs or aliases
published: {day}
author: ""
tags: []
summary: ""
sources: []             # - {{title: …, url: https://…, archive_url: https://…}}
draft: true             # remove when the check is ready to publish
---

Write the check here.
""",
    )


def new_company(site: Path, name: str) -> Path:
    """Write ``content/companies/<slug>.md`` for company ``name``."""
    content = _require_site(site)
    slug = slugify(name)
    return _write_new(
        content / "companies" / f"{slug}.md",
        f"""---
name: {_yaml_text(name)}
aliases: []          # other names readers and authors use, in any language
website:             # https://…
wikidata:            # item id such as Q747014
industry:
---

A short profile of {name}.
""",
    )


_SITE_YAML = """\
title: {title}
base_url: https://example.org/
language: en
description: Independent checks of claims about companies.
publisher: {{name: {title}, url: https://example.org/}}
# contact: corrections@example.org   # shows "report an error" and "submit a claim" links
timezone: UTC
per_page: 20
# verdicts: without a list, the default scale true … unproven is used (see /ratings/)
"""

_SAMPLE_ENTRY = """\
---
title: Did Example Motors promise a free car to every follower?
claim: Example Motors gives a free car to everyone who shares a post
claimant: Posts shared on social media
claim_urls: [https://social.example.com/posts/1]
claim_date: {day}
verdict: false
verdict_explanation: The company never ran such a giveaway; the posts copy its logo.
companies: [Example Motors]
published: {day}
tags: [giveaway, scam]
summary: A giveaway that never existed, used to collect personal data.
sources:
  - {{title: Example Motors statement, url: https://example.com/statement}}
---

## What was claimed

Posts promised a free car to everyone who shared them and entered their phone number.

## What we found

The company's official channels carry no such offer, and it called the posts a scam.
This is a sample check created by `factsite init`: replace it with your own.
"""

_SAMPLE_COMPANY = """\
---
name: Example Motors
aliases: [Example Motor Company]
website: https://example.com/
industry: Automotive
---

A sample company created by `factsite init`.
"""

_SAMPLE_ABOUT = """\
---
title: About us
menu: 1
---

We check claims about companies. Explain here who you are, who funds you and how
readers can reach you.
"""


def init_site(directory: Path, title: str = "Fact Desk", now: dt.datetime | None = None) -> Path:
    """Create a new site in ``directory`` (which must be missing or empty).

    The sample check is dated ``now`` in UTC, the new site's timezone, so it is published
    by a build at ``now``.
    """
    if directory.exists() and any(directory.iterdir()):
        raise ScaffoldError(f"{directory} is not empty; choose a new folder")
    day = (now or dt.datetime.now(dt.UTC)).astimezone(dt.UTC).date().isoformat()
    content = directory / "content"
    _write_new(content / "site.yaml", _SITE_YAML.format(title=title))
    _write_new(
        content / "entries" / f"{day}-example-motors-giveaway.md", _SAMPLE_ENTRY.format(day=day)
    )
    _write_new(content / "companies" / "example-motors.md", _SAMPLE_COMPANY)
    _write_new(content / "pages" / "about.md", _SAMPLE_ABOUT)
    (content / "static").mkdir(exist_ok=True)
    _write_new(directory / ".gitignore", "output/\n.factsite-cache/\n")
    return directory
