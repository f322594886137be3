"""The output folder: deterministic bytes, atomic builds, and nothing written outside it."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from urllib.parse import quote

import pytest
from conftest import SITE_YAML, Site

from generator.urls import Urls, output_file, tag_slug
from generator.writer import (
    MARKER,
    STAGING,
    NullSink,
    OutputWriter,
    UnsafeOutput,
    WriteStats,
    check_relpath,
)

OLD = 1_000_000_000  # an mtime well in the past: 2001-09-09


def fill(site: Site) -> None:
    """A few entries touching every kind of page."""
    site.entry(
        "2020/2020-12-15-byd-xiaomi-car",
        title="BYD and Xiaomi car",
        companies="[BYD, Xiaomi]",
        extra="tags: [automotive, 电动车]\n"
        "corrections:\n  - {date: 2020-12-16, type: update, note: Added a response.}",
    )
    site.entry("2021/2021-03-08-byd-battery", title="BYD battery", verdict="misleading")
    site.entry("2021/2021-04-01-xiaomi-phone", title="Xiaomi phone", companies="[小米]")
    site.entry(
        "2022/2022-01-01-byd-plant", title="BYD plant", companies="[byd auto]", verdict="true"
    )
    site.entry("2022/2022-02-01-xiaomi-ad", title="Xiaomi ad", companies="[xiaomi]")
    site.write("content/pages/about.md", "---\ntitle: About\n---\n\nUs.\n")
    site.write("content/static/logo.svg", "<svg/>")


def build(run, site: Site, *args: str):
    result = run("build", str(site.root), *args)
    assert result.code == 0, result.err
    return result


def mtimes(root: Path) -> dict[str, int]:
    return {
        p.relative_to(root).as_posix(): p.stat().st_mtime_ns
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def age(root: Path) -> None:
    for p in root.rglob("*"):
        if p.is_file():
            os.utime(p, (OLD, OLD))


# -- determinism -------------------------------------------------------------------------------


def test_two_builds_give_identical_bytes(site, run):
    fill(site)
    build(run, site)
    first = site.snapshot()
    shutil.rmtree(site.out)
    build(run, site)
    assert site.snapshot() == first
    assert len(first) > 15


def test_same_content_in_two_folders_gives_identical_bytes(site, run, tmp_path):
    fill(site)
    build(run, site)
    other = Site(tmp_path / "elsewhere" / "copy-of-site")
    shutil.copytree(site.root / "content", other.root / "content")
    build(run, other)
    assert other.snapshot() == site.snapshot()
    for data in site.snapshot().values():
        assert str(site.root).encode() not in data  # no absolute path leaks into pages


def test_rebuild_rewrites_nothing_and_keeps_mtimes(site, run):
    fill(site)
    build(run, site)
    total = len(site.snapshot())
    age(site.out)
    before = mtimes(site.out)
    result = build(run, site)
    assert f"Built {total} files" in result.out
    assert f"0 written, {total} unchanged, 0 removed" in result.out
    assert mtimes(site.out) == before
    assert set(before.values()) == {OLD * 10**9}


def test_rebuild_after_an_edit_rewrites_only_what_changed(site, run):
    fill(site)
    build(run, site)
    age(site.out)
    site.write(
        "content/companies/acme.md", "---\nname: Acme Foods\n---\n\nNobody checks Acme yet.\n"
    )
    result = build(run, site)
    changed = {rel for rel, m in mtimes(site.out).items() if m != OLD * 10**9}
    assert changed == {"companies/acme/index.html"}
    assert ": 1 written, " in result.out


# -- edits between builds -----------------------------------------------------------------------


def test_deleting_an_entry_removes_its_page_and_listings(site, run):
    fill(site)
    build(run, site)
    assert (site.out / "checks" / "xiaomi-phone" / "index.html").is_file()
    site.remove("content/entries/2021/2021-04-01-xiaomi-phone.md")
    result = build(run, site)
    assert not (site.out / "checks" / "xiaomi-phone").exists()
    for rel, data in site.snapshot().items():
        assert b"/checks/xiaomi-phone/" not in data, rel
        assert b"Xiaomi phone" not in data, rel
    assert re.search(r", [1-9]\d* removed", result.out)
    counts = site.html("companies/index.html").select(".company-list li")
    xiaomi = next(li for li in counts if li.a.get_text() == "Xiaomi")
    assert xiaomi.select_one(".count").get_text() == "2 checks"


def test_deleting_the_only_entry_of_a_tag_removes_the_tag_page(site, run):
    site.entry("2021-01-01-one", title="One", extra="tags: [lonely]")
    site.entry("2021-01-02-two", title="Two")
    build(run, site)
    assert (site.out / "tags" / "lonely" / "index.html").is_file()
    site.remove("content/entries/2021-01-01-one.md")
    build(run, site)
    assert not (site.out / "tags" / "lonely").exists()
    assert b"lonely" not in (site.out / "tags" / "index.html").read_bytes()


def test_renaming_a_company_file_moves_its_page_and_links(site, run):
    fill(site)
    build(run, site)
    (site.root / "content/companies/byd.md").rename(site.root / "content/companies/byd-group.md")
    build(run, site)
    assert not (site.out / "companies" / "byd").exists()
    assert (site.out / "companies" / "byd-group" / "index.html").is_file()
    for slug in ("byd-xiaomi-car", "byd-battery", "byd-plant"):
        links = [a["href"] for a in site.html(f"checks/{slug}/index.html").select(".chip")]
        assert "/companies/byd-group/" in links, slug
    for rel, data in site.snapshot().items():
        assert b"/companies/byd/" not in data, rel


def test_renaming_a_company_updates_every_check_naming_it(site, run):
    fill(site)
    build(run, site)
    site.write(
        "content/companies/byd.md",
        "---\nname: BYD Group\naliases: [BYD, BYD Auto, 比亚迪]\n---\n\nCarmaker.\n",
    )
    build(run, site)
    for slug in ("byd-xiaomi-car", "byd-battery", "byd-plant"):
        page = site.html(f"checks/{slug}/index.html")
        names = [a.get_text() for a in page.select(".check-companies a")]
        assert "BYD Group" in names, slug
    for rel, page in ((rel, site.html(rel)) for rel in site.snapshot() if rel.endswith(".html")):
        for chip in page.select("a.chip"):
            assert chip.get_text() != "BYD", rel  # the old name is gone from every listing


# -- failed builds ------------------------------------------------------------------------------


@pytest.mark.parametrize("breakage", ["unknown verdict", "template error", "template syntax"])
def test_failed_build_leaves_previous_output_intact(site, run, breakage):
    fill(site)
    build(run, site)
    age(site.out)
    before, before_times = site.snapshot(), mtimes(site.out)
    site.entry("2023-01-01-new", title="New check")  # would add pages and change listings
    if breakage == "unknown verdict":
        site.entry("2023-01-02-bad", title="Bad", verdict="pants-on-fire")
    elif breakage == "template error":
        site.write(
            "templates/check.html",
            '{% extends "base.html" %}{% block main %}{{ entry.no_such_field }}{% endblock %}',
        )
    else:
        site.write("templates/company.html", '{% extends "base.html" %}{% block main %}{% if %}')
    result = run("build", str(site.root))
    assert result.code == 1
    assert "previous output is unchanged" in result.err
    assert site.snapshot() == before
    assert mtimes(site.out) == before_times
    assert not (site.out / STAGING).exists()


def test_failed_first_build_leaves_no_output_folder(site, run):
    site.entry("2021-01-01-good", title="Good")
    site.entry("2021-01-02-bad", title="Bad", verdict="pants-on-fire")
    result = run("build", str(site.root))
    assert result.code == 1
    assert "pants-on-fire" in result.err
    assert not site.out.exists()


def test_failed_first_build_into_an_existing_empty_folder_keeps_it(site, run, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / ".git").mkdir()
    (out / ".git" / "HEAD").write_text("ref: refs/heads/gh-pages\n")
    site.entry("2021-01-02-bad", title="Bad", verdict="pants-on-fire")
    assert run("build", str(site.root), "-o", str(out)).code == 1
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*")) == [".git", ".git/HEAD"]


def test_leftover_staging_folder_is_cleaned_up(site, run):
    fill(site)
    stale = site.out / STAGING / "index.html"
    stale.parent.mkdir(parents=True)
    stale.write_text("from a killed build")
    build(run, site)
    assert not (site.out / STAGING).exists()
    assert (site.out / "index.html").read_text() != "from a killed build"


# -- writing only inside the output folder ---------------------------------------------------


@pytest.mark.parametrize("where", ["site", "parent"])
def test_output_folder_containing_the_content_is_refused(site, run, where):
    fill(site)
    target = site.root if where == "site" else site.root.parent
    files_before = sorted(p for p in target.rglob("*"))
    result = run("build", str(site.root), "-o", str(target))
    assert result.code == 1
    assert "would delete it" in result.err
    assert sorted(p for p in target.rglob("*")) == files_before


def test_output_folder_linking_to_the_site_is_refused(site, run, tmp_path):
    fill(site)
    link = tmp_path / "out-link"
    link.symlink_to(site.root)
    result = run("build", str(site.root), "-o", str(link))
    assert result.code == 1
    assert (site.root / "content" / "site.yaml").read_text() == SITE_YAML


@pytest.mark.parametrize(
    "relpath",
    [
        "../escape.html",
        "a/../../escape.html",
        "checks/../../escape.html",
        "/etc/passwd",
        "..",
        "",
        ".",
        "a\\..\\b.html",
        "a\0.html",
    ],
)
def test_check_relpath_refuses_paths_leaving_the_output(relpath):
    with pytest.raises(UnsafeOutput):
        check_relpath(relpath)


def test_check_relpath_accepts_plain_paths():
    assert check_relpath("checks/x/index.html") == "checks/x/index.html"
    assert check_relpath("tags/电动车/index.html") == "tags/电动车/index.html"


def test_symlinked_folder_in_output_is_replaced_not_written_through(site, run, tmp_path):
    fill(site)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("mine")
    build(run, site)
    shutil.rmtree(site.out / "checks")
    (site.out / "checks").symlink_to(outside, target_is_directory=True)
    build(run, site)
    assert sorted(p.name for p in outside.iterdir()) == ["keep.txt"]
    assert (outside / "keep.txt").read_text() == "mine"
    assert not (site.out / "checks").is_symlink()
    assert (site.out / "checks" / "byd-plant" / "index.html").is_file()


def test_symlinked_folder_holding_the_same_pages_is_replaced(site, run, tmp_path):
    """Pages found through a link are not "unchanged": they must land in the output."""
    fill(site)
    build(run, site)
    expected = site.snapshot()
    outside = tmp_path / "outside-checks"
    shutil.copytree(site.out / "checks", outside)
    outside_before = {p: p.read_bytes() for p in outside.rglob("*") if p.is_file()}
    shutil.rmtree(site.out / "checks")
    (site.out / "checks").symlink_to(outside, target_is_directory=True)
    build(run, site)
    assert not (site.out / "checks").is_symlink()
    assert site.snapshot() == expected
    assert {p: p.read_bytes() for p in outside.rglob("*") if p.is_file()} == outside_before


def test_symlinked_staging_folder_is_replaced_not_written_through(site, run, tmp_path):
    """A link planted where the build stages its files must not carry them outside."""
    fill(site)
    build(run, site)
    outside = tmp_path / "outside-staging"
    outside.mkdir()
    os.utime(outside, ns=(OLD, OLD))  # a file made and moved away there would change it
    (site.out / STAGING).symlink_to(outside, target_is_directory=True)
    site.entry("2023/2023-01-01-new", title="New check")  # so there is something to stage
    build(run, site)
    assert list(outside.iterdir()) == []
    assert outside.stat().st_mtime_ns == OLD
    assert not (site.out / STAGING).exists()
    assert (site.out / "checks" / "new" / "index.html").is_file()


def test_symlinked_file_in_output_is_replaced_not_written_through(site, run, tmp_path):
    fill(site)
    build(run, site)
    outside = tmp_path / "outside.html"
    outside.write_text("mine")
    index = site.out / "index.html"
    expected = index.read_bytes()
    index.unlink()
    index.symlink_to(outside)
    build(run, site)
    assert outside.read_text() == "mine"
    assert not index.is_symlink()
    assert index.read_bytes() == expected


def test_stale_symlink_in_output_is_removed_without_following_it(site, run, tmp_path):
    fill(site)
    build(run, site)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "data.txt").write_text("mine")
    (site.out / "old").symlink_to(outside, target_is_directory=True)
    build(run, site)
    assert not (site.out / "old").exists()
    assert (outside / "data.txt").read_text() == "mine"


# -- generator.urls -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tag", "slug"),
    [
        ("Electric Cars", "electric-cars"),
        ("  electric   cars ", "electric-cars"),
        ("电动车", "电动车"),
        ("电动 汽车", "电动-汽车"),
        ("Climate/Energy", "climate-energy"),
        ("snake_case_tag", "snake-case-tag"),
        ("Ｆｕｌｌwidth", "fullwidth"),
        ("!!!", "tag"),
    ],
)
def test_tag_slug(tag, slug):
    assert tag_slug(tag) == slug


@pytest.mark.parametrize(
    ("path", "file"),
    [
        ("/", "index.html"),
        ("/checks/x/", "checks/x/index.html"),
        ("/page/2/", "page/2/index.html"),
        ("/feed.xml", "feed.xml"),
        ("/404.html", "404.html"),
        ("/companies/byd/feed.xml", "companies/byd/feed.xml"),
    ],
)
def test_output_file(path, file):
    assert output_file(path) == file


def test_href_at_the_root_and_under_a_sub_path():
    root = Urls("https://factdesk.example.org/")
    assert root.href(root.check("x")) == "/checks/x/"
    assert root.href(root.home()) == "/"
    assert root.absolute(root.home(2)) == "https://factdesk.example.org/page/2/"

    sub = Urls("https://example.org/factdesk/")
    assert sub.href(sub.home()) == "/factdesk/"
    assert sub.href(sub.company("byd", 2)) == "/factdesk/companies/byd/page/2/"
    assert sub.href(sub.static("/logo.svg")) == "/factdesk/logo.svg"
    assert sub.href(sub.static("logo.svg")) == "/factdesk/logo.svg"
    assert sub.absolute(sub.check("x")) == "https://example.org/factdesk/checks/x/"
    assert Urls("https://example.org/factdesk").href("/ratings/") == "/factdesk/ratings/"


def test_href_percent_encodes():
    sub = Urls("https://example.org/fact desk/")
    assert sub.href(sub.tag("电动车")) == "/fact%20desk/tags/%E7%94%B5%E5%8A%A8%E8%BD%A6/"
    assert sub.href(sub.tag("电动车", 2)).endswith("/%E7%94%B5%E5%8A%A8%E8%BD%A6/page/2/")
    assert sub.href(sub.static("a b.png")) == "/fact%20desk/a%20b.png"
    assert sub.href('/"quoted"<x>/') == "/fact%20desk/%22quoted%22%3Cx%3E/"
    assert sub.absolute("/") == "https://example.org/fact%20desk/"


def test_href_of_every_character_is_what_quote_makes():
    """A link of plain characters skips quote(): for each character, alone and among
    others, the link is exactly quote()'s."""
    urls = Urls("https://example.org/desk/")
    for code in [*range(0x80), 0xA0, 0xE9, 0x2028, 0x6BD4, 0x1F600]:
        for path in (f"/{chr(code)}", f"/tags/a{chr(code)}b/page/2/"):
            assert urls._href(path) == quote("/desk" + path, safe="/#?=&%:@!$'()*+,;~")


# -- generator.writer.OutputWriter ---------------------------------------------------------------


def test_writer_refuses_duplicate_paths(tmp_path):
    writer = OutputWriter(tmp_path / "out")
    writer.write("a/index.html", b"one")
    with pytest.raises(UnsafeOutput, match="two files"):
        writer.write("a/index.html", b"two")
    with pytest.raises(UnsafeOutput, match="two files"):
        writer.write("a//index.html", b"two")


def test_writer_refuses_unsafe_and_staging_paths(tmp_path):
    writer = OutputWriter(tmp_path / "out")
    for relpath in ("../x.html", "/x.html", f"{STAGING}/x.html", MARKER, f"{MARKER}/x"):
        with pytest.raises(UnsafeOutput):
            writer.write(relpath, b"x")
    writer.abort()
    assert not (tmp_path / "out").exists()
    assert not (tmp_path / "x.html").exists()


def test_a_first_build_killed_midway_leaves_a_folder_the_next_build_takes(tmp_path):
    """Into a new folder files go straight in, after the marker: a build that dies before
    committing leaves a folder the next build accepts, and cleans of its leftovers."""
    out = tmp_path / "out"
    killed = OutputWriter(out)
    killed.write("half/index.html", b"half")
    assert (out / "half" / "index.html").read_bytes() == b"half"  # already in place
    assert (out / MARKER).is_file()
    del killed  # no commit, no abort: the process died
    again = OutputWriter(out)  # not refused as a folder of someone else's files
    again.write("index.html", b"home")
    stats = again.commit()
    assert (stats.written, stats.removed) == (1, 1)
    assert not (out / "half").exists() and (out / "index.html").read_bytes() == b"home"


def test_writer_commits_and_removes_stale_files(tmp_path):
    out = tmp_path / "out"
    first = OutputWriter(out)
    first.write("index.html", b"home")
    first.write("old/deep/index.html", b"old")
    first.write("keep/index.html", b"keep")
    stats = first.commit()
    assert (stats.written, stats.unchanged, stats.removed) == (3, 0, 0)
    assert (out / "old" / "deep" / "index.html").read_bytes() == b"old"

    second = OutputWriter(out)
    second.write("index.html", b"home")
    second.write("keep/index.html", b"kept, new bytes")
    stats = second.commit()
    assert (stats.written, stats.unchanged, stats.removed) == (1, 1, 1)
    assert not (out / "old").exists()  # emptied folders go too
    assert (out / "keep" / "index.html").read_bytes() == b"kept, new bytes"
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*")) == [
        MARKER,
        "index.html",
        "keep",
        "keep/index.html",
    ]


def _rebuild_after(out: Path, survey: bool) -> tuple[WriteStats, list[str]]:
    """A rebuild into ``out`` that may list the folder (survey) half-way through."""
    writer = OutputWriter(out)
    writer.write("index.html", b"home")
    writer.write("keep/index.html", b"kept")
    if survey:
        writer.survey()
    (out / "gone" / "index.html").unlink()  # by someone else, before the commit
    writer.write("late/index.html", b"written after the survey, there before")
    writer.write(".well-known/security.txt", b"Contact: x")  # a dot entry new to the site
    stats = writer.commit()
    return stats, sorted(p.relative_to(out).as_posix() for p in out.rglob("*"))


@pytest.mark.parametrize("survey", [False, True])
def test_a_survey_before_the_commit_removes_what_the_commit_alone_removes(tmp_path, survey):
    """The stale files found by a survey made while the build waits (for Pagefind) are
    those the commit would find itself: files produced after it stay, files gone since
    are no error, and a dot entry the site writes for the first time is looked into."""
    out = tmp_path / "out"
    first = OutputWriter(out)
    for relpath in ("index.html", "keep/index.html", "late/index.html", "gone/index.html",
                    "old/deep/index.html", "old/deep/page/2/index.html"):
        first.write(relpath, b"before")
    first.commit()
    (out / "empty" / "inside").mkdir(parents=True)
    (out / ".well-known").mkdir()
    (out / ".well-known" / "unmanaged.txt").write_text("not the site's, until it is")
    stats, tree = _rebuild_after(out, survey)
    assert stats.changed == [".well-known/security.txt", ".well-known/unmanaged.txt",
                             "index.html", "keep/index.html", "late/index.html",
                             "old/deep/index.html", "old/deep/page/2/index.html"]
    assert (stats.written, stats.removed) == (4, 3)
    assert tree == sorted([".well-known", ".well-known/security.txt", MARKER, "index.html",
                           "keep", "keep/index.html", "late", "late/index.html"])


def test_writer_writes_a_file_in_parts_and_stages_it_only_when_new(tmp_path):
    """write_parts (the data feed) never holds the file whole, and is written like
    write(): in place into a new folder, then staged only when its bytes changed."""
    out = tmp_path / "out"
    first = OutputWriter(out)
    first.write_parts("feed.json", iter([b"[1,", b"2,", b"3]"]))
    first.write_parts("other.json", [])
    assert first.commit().written == 2
    assert (out / "feed.json").read_bytes() == b"[1,2,3]"
    assert (out / "other.json").read_bytes() == b""
    mtime = (out / "feed.json").stat().st_mtime_ns

    same = OutputWriter(out)
    same.write_parts("feed.json", [b"[1,2", b",3]"])  # the same bytes, cut elsewhere
    same.write_parts("other.json", [b"x"])
    assert same.current("feed.json") == b"[1,2,3]"
    stats = same.commit()
    assert (stats.written, stats.unchanged, stats.changed) == (1, 1, ["other.json"])
    assert (out / "feed.json").stat().st_mtime_ns == mtime
    assert not (out / STAGING).exists()

    changed = OutputWriter(out)
    changed.write_parts("feed.json", [b"[1,2,", b"4]"])  # same size, new bytes
    changed.write_parts("other.json", [b"x"])
    assert changed.current("feed.json") == b"[1,2,4]"
    assert (out / "feed.json").read_bytes() == b"[1,2,3]"  # nothing moves before commit
    assert changed.commit().changed == ["feed.json"]
    assert (out / "feed.json").read_bytes() == b"[1,2,4]"

    twice = OutputWriter(out)
    twice.write_parts("feed.json", [b"once"])
    with pytest.raises(UnsafeOutput, match="two files"):
        twice.write_parts("feed.json", [b"again"])
    twice.abort()


def test_null_sink_makes_the_parts_it_is_given():
    made = []

    def parts():
        made.append("made")
        yield b"x"

    sink = NullSink()
    sink.write_parts("feed.json", parts())
    assert made == ["made"] and sink.produced == {"feed.json"}


def test_writer_keeps_top_level_dot_folders(tmp_path):
    out = tmp_path / "out"
    (out / ".git" / "objects").mkdir(parents=True)
    (out / ".git" / "HEAD").write_text("ref: refs/heads/gh-pages\n")
    (out / ".well-known").mkdir()
    (out / "stale.html").write_text("stale")
    (out / "sub" / ".hidden").mkdir(parents=True)
    (out / MARKER).touch()  # built by factsite before
    writer = OutputWriter(out)
    writer.write("index.html", b"home")
    writer.commit()
    assert (out / ".git" / "HEAD").read_text() == "ref: refs/heads/gh-pages\n"
    assert (out / ".git" / "objects").is_dir()
    assert (out / ".well-known").is_dir()
    assert not (out / "stale.html").exists()
    assert not (out / "sub").exists()  # dot folders deeper down are the site's own


def test_the_sites_own_dot_files_are_published_kept_and_removed(site, run):
    """Static files whose names start with a dot (``.well-known/``, ``.nojekyll``) are the
    site's: a rebuild with nothing changed is skipped, and once the site no longer has
    them they leave the output, while a publishing branch's ``.git`` is never touched."""
    site.entry("one")
    site.write("content/static/.well-known/security.txt", "Contact: mailto:desk@example.org\n")
    site.write("content/static/.nojekyll", "")
    (site.out / ".git").mkdir(parents=True)
    (site.out / ".git" / "HEAD").write_text("ref: refs/heads/gh-pages\n")
    assert run("build", str(site.root)).code == 0
    assert (site.out / ".well-known" / "security.txt").read_text().startswith("Contact:")
    assert (site.out / ".nojekyll").is_file()
    again = run("build", str(site.root), "--profile")
    assert again.code == 0 and "fingerprint: nothing changed" in again.err

    site.remove("content/static/.nojekyll")
    site.remove("content/static/.well-known/security.txt")
    site.write("content/static/.well-known/change-password", "https://example.org/account\n")
    assert run("build", str(site.root)).code == 0
    assert not (site.out / ".nojekyll").exists()
    assert sorted(p.name for p in (site.out / ".well-known").iterdir()) == ["change-password"]

    site.remove("content/static/.well-known/change-password")
    assert run("build", str(site.root)).code == 0
    assert not (site.out / ".well-known").exists()
    assert (site.out / ".git" / "HEAD").read_text() == "ref: refs/heads/gh-pages\n"
    assert sorted(p.name for p in site.out.iterdir() if p.name.startswith(".")) == [
        ".factsite-output", ".git"]


def test_a_marker_naming_foreign_or_odd_dot_entries_is_not_trusted_for_them(tmp_path):
    """Only plain top-level names from the marker's own list count as the site's."""
    out = tmp_path / "out"
    (out / ".git").mkdir(parents=True)
    (out / ".git" / "HEAD").write_text("ref\n")
    (out / MARKER).write_text(".git\nsomething else\n")  # no list: an old or odd marker
    writer = OutputWriter(out)
    writer.write("index.html", b"home")
    writer.commit()
    assert (out / ".git" / "HEAD").read_text() == "ref\n"
    marker = (out / MARKER).read_text()
    (out / MARKER).write_text(marker + "The site's own entries whose names start with a dot "
                              "(others are left alone):\n../x\n.factsite-staging\n")
    (out / ".factsite-staging").mkdir()
    (out / ".factsite-staging" / "0").write_text("left by a killed build")
    writer = OutputWriter(out)  # clears the staging folder as always, nothing else
    writer.write("index.html", b"new home")  # staged: not taken for a stale file
    writer.commit()
    assert (out / "index.html").read_bytes() == b"new home"
    assert (out / ".git" / "HEAD").read_text() == "ref\n"
    assert (out / MARKER).read_text() == marker  # rewritten as it was: no dot entries


def test_writer_abort_keeps_the_previous_output(tmp_path):
    out = tmp_path / "out"
    first = OutputWriter(out)
    first.write("index.html", b"home")
    first.commit()
    second = OutputWriter(out)
    second.write("index.html", b"new home")
    second.write("other.html", b"other")
    second.abort()
    assert sorted(p.name for p in out.iterdir()) == [MARKER, "index.html"]
    assert (out / "index.html").read_bytes() == b"home"


def test_publish_places_what_is_staged_and_the_commit_the_rest(tmp_path):
    """A preview's build (serve) publishes its pages before the search index is done:
    the files staged so far go into place at once, stale files stay until the commit,
    and the commit's stats count the files published before it."""
    out = tmp_path / "out"
    first = OutputWriter(out)
    for relpath in ("checks/a/index.html", "same.txt", "old/index.html", "pagefind/x.pf"):
        first.write(relpath, relpath.encode())
    first.commit()

    second = OutputWriter(out)
    second.write("checks/a/index.html", b"new a")
    second.write("same.txt", b"same.txt")
    second.write("checks/b/index.html", b"new b")
    placed = second.publish()
    assert (placed.written, placed.unchanged) == (2, 1)
    assert placed.changed == ["checks/a/index.html", "checks/b/index.html"]
    assert (out / "checks/a/index.html").read_bytes() == b"new a"
    assert (out / "checks/b/index.html").read_bytes() == b"new b"
    assert (out / "old/index.html").exists() and (out / "pagefind/x.pf").exists()

    second.write("pagefind/y.pf", b"new bundle")  # the index, finished later
    assert not (out / "pagefind/y.pf").exists()  # staged until the commit
    assert second.current("checks/b/index.html") == b"new b"
    stats = second.commit()
    assert (stats.written, stats.unchanged, stats.removed) == (3, 1, 2)
    assert stats.changed == ["checks/a/index.html", "checks/b/index.html", "old/index.html",
                             "pagefind/x.pf", "pagefind/y.pf"]
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == [
        MARKER, "checks/a/index.html", "checks/b/index.html", "pagefind/y.pf", "same.txt"]


def test_publish_removes_the_stale_files_it_is_told_of(tmp_path):
    """The pages of a deleted check go at once, not at the commit; the files it is not
    told of (an old search bundle), and any this build produced, stay until then."""
    out = tmp_path / "out"
    first = OutputWriter(out)
    for relpath in ("index.html", "checks/gone/index.html", "tags/t/index.html",
                    "pagefind/old.pf"):
        first.write(relpath, relpath.encode())
    first.commit()
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "index.html").write_bytes(b"not the site's")
    (out / "linked").symlink_to(tmp_path / "elsewhere")

    second = OutputWriter(out)
    second.write("index.html", b"new home")
    second.keep("tags/t/index.html")
    placed = second.publish(["checks/gone/index.html", "tags/t/index.html",
                             "linked/index.html", "never/there.html"])
    assert (placed.written, placed.removed) == (1, 1)
    assert placed.changed == ["checks/gone/index.html", "index.html"]
    assert not (out / "checks/gone/index.html").exists()
    assert (out / "tags/t/index.html").exists() and (out / "pagefind/old.pf").exists()
    assert (tmp_path / "elsewhere" / "index.html").exists()  # never through a link
    second.write("pagefind/new.pf", b"new bundle")
    stats = second.commit()
    assert stats.removed == 3  # the page at publish, then the old bundle and the link
    assert stats.changed == ["checks/gone/index.html", "index.html", "linked",
                             "pagefind/new.pf", "pagefind/old.pf"]
    assert not (out / "checks").exists()  # its emptied folders go at the commit
    assert (tmp_path / "elsewhere" / "index.html").exists()


def test_publish_into_a_new_folder_lists_every_file(tmp_path):
    writer = OutputWriter(tmp_path / "out")
    writer.write("index.html", b"home")
    writer.write("checks/a/index.html", b"a")
    assert writer.publish().changed == ["checks/a/index.html", "index.html"]
    writer.write("feed.xml", b"feed")
    stats = writer.commit()
    assert (stats.written, stats.changed) == (3, ["checks/a/index.html", "feed.xml",
                                                  "index.html"])


def test_writer_replaces_a_file_where_a_folder_must_go(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "checks").write_text("a file in the way")
    (out / MARKER).touch()
    writer = OutputWriter(out)
    writer.write("checks/x/index.html", b"x")
    writer.commit()
    assert (out / "checks" / "x" / "index.html").read_bytes() == b"x"


def test_writer_refuses_a_folder_it_did_not_build(tmp_path):
    """A mistyped -o must never delete someone's files."""
    out = tmp_path / "home"
    out.mkdir()
    (out / "thesis.tex").write_text("years of work")
    with pytest.raises(UnsafeOutput, match="not empty and was not built by factsite"):
        OutputWriter(out)
    assert (out / "thesis.tex").read_text() == "years of work"


def test_writer_accepts_a_folder_holding_only_dot_entries(tmp_path):
    out = tmp_path / "gh-pages"
    (out / ".git").mkdir(parents=True)
    writer = OutputWriter(out)
    writer.write("index.html", b"home")
    writer.commit()
    assert (out / ".git").is_dir() and (out / "index.html").read_bytes() == b"home"


def test_build_refuses_output_inside_the_sources(site, run):
    site.entry("one")
    result = run("build", str(site.root), "-o", str(site.root / "content" / "static" / "out"))
    assert result.code == 1
    assert "is inside" in result.err and "content" in result.err
    assert not (site.root / "content" / "static" / "out").exists()
