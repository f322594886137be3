"""Property tests for ``factsite serve``.

1. After any sequence of edits (add, edit, rename and delete entries and companies;
   verdicts, companies, tags, dates and drafts changed), the served folder is
   byte-identical to a clean ``build()`` of the same content into a fresh folder, and a
   failed rebuild leaves the last good site exactly as it was. Every open tab is told to
   reload exactly when the page it shows changed.
2. Whatever the request path, the server never hands out a file outside its folder.
"""

from __future__ import annotations

import datetime as dt
import io
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from conftest import NOW, snapshot
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from generator.build import BuildOptions, build
from generator.diagnostics import BuildFailed
from generator.serve import Preview, locate, version_of
from generator.urls import Urls

NOW_DT = dt.datetime.fromisoformat(NOW)
SITE_YAML = """\
title: Property Desk
base_url: https://checks.example.org/
per_page: 2
"""

ENTRY_SLUGS = ["alpha", "beta", "gamma", "delta"]
COMPANY_SLUGS = ["byd", "xiaomi", "acme", "zenith"]
COMPANY_NAMES = ["BYD", "Xiaomi", "Acme Foods", "Zenith Motors", "Nova Labs"]
VERDICTS = ["true", "false", "mixed", "misleading", "unproven", "flase"]  # one is a mistake
TAGS = ["cars", "phones", "food", "rumor", "电动车"]
DATES = ["2019-02-03", "2020-12-15", "2024-07-01T09:30:00+02:00", "2026-03-01"]  # last: future
BODIES = [
    "Short.",
    "## A heading\n\nA paragraph with *emphasis*.",
    "- one\n- two\n\n| a |\n|---|\n| b |",
]


@dataclass
class EntryState:
    title: str
    verdict: str
    companies: list[str]
    tags: list[str]
    published: str
    draft: bool = False
    body: str = "Body."

    def text(self) -> str:
        lines = [
            "---",
            f"title: {self.title}",
            f"claim: Something about {self.title}",
            f"verdict: {self.verdict}",
            f"published: {self.published}",
            f"companies: [{', '.join(self.companies)}]",
            f"tags: [{', '.join(self.tags)}]",
        ]
        if self.draft:
            lines.append("draft: true")
        return "\n".join([*lines, "---", "", self.body, ""])


@dataclass
class SiteState:
    """The content as the test believes it is; files are written from it."""

    root: Path
    entries: dict[str, EntryState] = field(default_factory=dict)
    companies: dict[str, str] = field(default_factory=dict)  # slug → name

    def entry_path(self, slug: str) -> Path:
        return self.root / "content" / "entries" / f"{slug}.md"

    def company_path(self, slug: str) -> Path:
        return self.root / "content" / "companies" / f"{slug}.md"

    def write_entry(self, slug: str) -> None:
        path = self.entry_path(slug)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(self.entries[slug].text(), encoding="utf-8")

    def write_company(self, slug: str) -> None:
        path = self.company_path(slug)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"---\nname: {self.companies[slug]}\n---\n\nProfile.\n", encoding="utf-8")

    def pick(self, items: dict[str, object], index: int) -> str | None:
        keys = sorted(items)
        return keys[index % len(keys)] if keys else None

    def apply(self, op: tuple) -> None:
        kind, *args = op
        if kind == "add_entry":
            slug, entry = args
            self.entries[slug] = entry
            self.write_entry(slug)
            return
        if kind == "add_company":
            slug, name = args
            self.companies[slug] = name
            self.write_company(slug)
            return
        if kind in ("rename_company", "move_company", "delete_company"):
            slug = self.pick(self.companies, args[0])
            if slug is None:
                return
            if kind == "rename_company":
                self.companies[slug] = args[1]
                self.write_company(slug)
            elif kind == "move_company" and args[1] not in self.companies:
                self.company_path(slug).rename(self.company_path(args[1]))
                self.companies[args[1]] = self.companies.pop(slug)
            elif kind == "delete_company":
                self.company_path(slug).unlink()
                del self.companies[slug]
            return
        slug = self.pick(self.entries, args[0])
        if slug is None:
            return
        entry = self.entries[slug]
        if kind == "delete_entry":
            self.entry_path(slug).unlink()
            del self.entries[slug]
            return
        if kind == "rename_entry":
            if args[1] not in self.entries:
                self.entry_path(slug).rename(self.entry_path(args[1]))
                self.entries[args[1]] = self.entries.pop(slug)
            return
        if kind == "body":
            entry.body = args[1]
        elif kind == "title":
            entry.title = args[1]
        elif kind == "verdict":
            entry.verdict = args[1]
        elif kind == "companies":
            entry.companies = args[1]
        elif kind == "tags":
            entry.tags = args[1]
        elif kind == "date":
            entry.published = args[1]
        elif kind == "draft":
            entry.draft = not entry.draft
        self.write_entry(slug)


company_refs = st.lists(
    st.sampled_from(COMPANY_SLUGS + COMPANY_NAMES + ["byd"]), min_size=1, max_size=2, unique=True
)
entries = st.builds(
    EntryState,
    title=st.sampled_from(["Car rumour", "Phone claim", "Food scare", "Fake quote"]),
    verdict=st.sampled_from(VERDICTS[:-1]),
    companies=st.just(["byd"]) | company_refs,
    tags=st.lists(st.sampled_from(TAGS), max_size=2, unique=True),
    published=st.sampled_from(DATES),
    draft=st.booleans(),
    body=st.sampled_from(BODIES),
)
index = st.integers(0, 7)
operations = st.one_of(
    st.tuples(st.just("add_entry"), st.sampled_from(ENTRY_SLUGS), entries),
    st.tuples(st.just("body"), index, st.sampled_from(BODIES)),
    st.tuples(st.just("title"), index, st.sampled_from(["Renamed check", "Другой", "新标题"])),
    st.tuples(st.just("verdict"), index, st.sampled_from(VERDICTS)),
    st.tuples(st.just("companies"), index, company_refs),
    st.tuples(st.just("tags"), index, st.lists(st.sampled_from(TAGS), max_size=3, unique=True)),
    st.tuples(st.just("date"), index, st.sampled_from(DATES)),
    st.tuples(st.just("draft"), index),
    st.tuples(st.just("rename_entry"), index, st.sampled_from([*ENTRY_SLUGS, "epsilon"])),
    st.tuples(st.just("delete_entry"), index),
    st.tuples(
        st.just("add_company"), st.sampled_from(COMPANY_SLUGS), st.sampled_from(COMPANY_NAMES)
    ),
    st.tuples(st.just("rename_company"), index, st.sampled_from(COMPANY_NAMES)),
    st.tuples(st.just("move_company"), index, st.sampled_from([*COMPANY_SLUGS, "byd-group"])),
    st.tuples(st.just("delete_company"), index),
)

WATCHED_PATHS = [
    "/",
    "/page/2/",
    "/companies/",
    "/companies/byd/",
    "/tags/",
    "/verdicts/false/",
    *(f"/checks/{slug}/" for slug in [*ENTRY_SLUGS, "epsilon"]),
]




def clean_build(site: Path, out: Path) -> dict[str, bytes] | None:
    try:
        build(BuildOptions(site_dir=site, out_dir=out, now=NOW_DT))
    except BuildFailed:
        return None
    return snapshot(out)


def drain(tab) -> list[str]:
    kinds = []
    while not tab.events.empty():
        item = tab.events.get_nowait()
        if item is not None:
            kinds.append(item[0])
    return kinds


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    first=st.lists(entries, min_size=1, max_size=3),
    ops=st.lists(operations, min_size=1, max_size=6),
)
def test_served_site_equals_a_clean_build_after_every_edit(first, ops):
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "site"
        (root / "content").mkdir(parents=True)
        (root / "content" / "site.yaml").write_text(SITE_YAML, encoding="utf-8")
        state = SiteState(root)
        for slug, name in zip(COMPANY_SLUGS[:3], COMPANY_NAMES, strict=False):
            state.apply(("add_company", slug, name))
        for slug, entry in zip(ENTRY_SLUGS, first, strict=False):
            state.apply(("add_entry", slug, entry))
        preview = Preview(
            BuildOptions(site_dir=root, out_dir=root / ".factsite-cache" / "serve", now=NOW_DT),
            quiet=True,
            out=io.StringIO(),
            err=io.StringIO(),
        )
        ok = preview.rebuild()
        expected = clean_build(root, Path(tmp) / "clean-0")
        assert ok == (expected is not None)
        good = snapshot(preview.root) if ok else {}
        if ok:
            assert good == expected

        for step, op in enumerate(ops, 1):
            shown = {path: preview.shown(path).body for path in WATCHED_PATHS}
            tabs = {path: preview.connect(path, version_of(body)) for path, body in shown.items()}
            state.apply(op)
            ok = preview.rebuild()
            expected = clean_build(root, Path(tmp) / f"clean-{step}")
            assert ok == (expected is not None), (op, preview.errors)
            event(f"rebuild {'succeeded' if ok else 'failed'}")
            served = snapshot(preview.root)
            if ok:
                assert served == expected, op
                good = served
                assert preview.errors == []
            else:
                assert served == good, op  # the last good site, untouched
                assert preview.errors
            for path, tab in tabs.items():
                events = drain(tab)
                assert events[0] == "hello"
                changed = preview.shown(path).body != shown[path]
                assert ("reload" in events) == changed, (op, path, events)
                preview.disconnect(tab)


# -- the server never serves a file outside its folder -------------------------------------------

SEGMENTS = st.sampled_from(
    ["..", ".", "%2e%2e", "%2E%2e", ".%2e", "%2f", "..%2f", "%5c", "%00", "", "a", "b",
     "index.html", "link", "outlink", "secret.txt", "%61", "..;", "...", "~", "%252e%252e"]
)


@settings(max_examples=400, deadline=None)
@given(st.lists(SEGMENTS, max_size=6), st.booleans())
def test_locate_stays_inside_the_folder(segments, trailing):
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        root = base / "out"
        (root / "a" / "b").mkdir(parents=True)
        (root / "a" / "index.html").write_text("in")
        (root / "a" / "b" / "index.html").write_text("in")
        (base / "secret.txt").write_text("out")
        (root / "a" / "link").symlink_to(root / "a" / "b", target_is_directory=True)
        (root / "a" / "outlink").symlink_to(base, target_is_directory=True)
        target = "/" + "/".join(segments) + ("/" if trailing else "")
        found = locate(root, Urls("https://example.org/"), target)
        if found.kind == "file":
            real = Path(os.path.realpath(root / found.relpath))
            assert real.is_relative_to(Path(os.path.realpath(root))), target
            assert real.read_text() == "in"
