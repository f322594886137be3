"""Rebuilds render only the pages whose inputs changed, and still build the same site.

Every test here edits a built site, rebuilds it with the cache, and compares the result
with a build of the same sources from nothing (``--no-cache`` into a fresh folder).
"""

from __future__ import annotations

import datetime as dt
import json
import re

import pytest
from conftest import NOW, REPO, SITE_YAML, Site, snapshot

from generator import feeds, listings, pipeline
from generator.build import CACHE_DIR, BuildOptions, build
from generator.cache import DiskCache
from generator.claimreview import validate_scripts
from generator.theme import Theme


def corpus(site: Site, count: int = 24) -> None:
    verdicts = ["true", "mostly-true", "mixed", "misleading", "false", "unproven"]
    companies = ["[BYD]", "[xiaomi, byd]", "[Xiaomi]"]
    for n in range(count):
        # check 10's claimant is a company it does not name: its ClaimReview links it
        claimant = "\nclaimant: Acme Foods" if n == 10 else ""
        site.entry(f"2020-01-{1 + n % 28:02d}-check-{n}", title=f"Check {n}",
                   verdict=verdicts[n % 6], companies=companies[n % 3],
                   published=f"2020-{1 + n % 12:02d}-{1 + n % 28:02d}",
                   extra=f"tags: [t{n % 4}, shared]{claimant}", body=f"Body {n}, about *things*.")


def rebuild(run, site: Site) -> tuple[int, int]:
    """Build with the cache; (pages rendered, pages kept) as ``--profile`` reports them."""
    result = run("build", str(site.root), "-q", "--profile")
    assert result.code == 0, result.err
    found = re.search(r"render pages \((\d+) rendered, (\d+) unchanged\)", result.err)
    assert found, result.err
    return int(found.group(1)), int(found.group(2))


def from_nothing(run, site: Site, tmp_path, name: str) -> dict[str, bytes]:
    out = tmp_path / name
    result = run("build", str(site.root), "-q", "--no-cache", "-o", str(out))
    assert result.code == 0, result.err
    return snapshot(out)


EDITS = {
    "body": lambda s: s.entry("2020-01-06-check-5", title="Check 5", verdict="unproven",
                              companies="[xiaomi, byd]", published="2020-06-06",
                              extra="tags: [t1, shared]", body="A new body for check 5."),
    "verdict and companies": lambda s: s.entry(
        "2020-01-06-check-5", title="Check 5", verdict="true", companies="[Acme Foods]",
        published="2020-06-06", extra="tags: [t1, shared]", body="Body 5, about *things*."),
    "new entry": lambda s: s.entry("2021-03-03-brand-new", title="Brand new",
                                   companies="[Xiaomi]", published="2021-03-03"),
    "removed entry": lambda s: s.remove("content/entries/2020-01-08-check-7.md"),
    "company": lambda s: s.write(
        "content/companies/xiaomi.md",
        "---\nname: Xiaomi Corp\naliases: [小米, Xiaomi]\n---\n\nPhones.\n"),
    "company profile": lambda s: s.write(
        "content/companies/xiaomi.md", "---\nname: Xiaomi\naliases: [小米]\n---\n\nPhones, now.\n"),
    "claimant's company": lambda s: s.write(
        "content/companies/acme.md",
        "---\nname: Acme Foods\nwebsite: https://acme.example.com\n---\n\nNobody checks Acme.\n"),
    "template": lambda s: s.write("templates/check.html",
                                  '{% extends "!theme/check.html" %}{% block title %}T: '
                                  '{{ entry.title }}{% endblock %}'),
    "settings": lambda s: s.write("content/site.yaml", (s.root / "content/site.yaml").read_text(
        encoding="utf-8").replace("title: ", "title: Renamed ", 1)),
}


@pytest.mark.parametrize("edit", list(EDITS))
def test_a_rebuild_after_an_edit_is_the_full_build(site, run, tmp_path, edit):
    corpus(site)
    rendered, kept = rebuild(run, site)
    assert kept == 0 and rendered > 24
    total = rendered
    acme_page = site.out / "companies" / "acme" / "index.html"  # shows no check
    acme_before = acme_page.stat().st_mtime_ns
    EDITS[edit](site)
    rendered, kept = rebuild(run, site)
    assert snapshot(site.out) == from_nothing(run, site, tmp_path, "fresh")
    if edit == "body":
        # its own page, the listings it is on and the checks showing it as related
        assert 0 < rendered < total // 2, (rendered, total)
        assert "A new body for check 5." in (
            site.out / "checks" / "check-5" / "index.html").read_text(encoding="utf-8")
    if edit == "settings":
        assert kept == 0  # every page shows them
    if edit == "template":  # check.html: the check pages, and no other
        assert rendered == len(list((site.out / "checks").glob("*/index.html"))) == 24
    if edit == "company profile":
        # its page and the pages showing checks of it; not the others (before, every
        # company was part of every page's key)
        assert 0 < rendered < total and acme_page.stat().st_mtime_ns == acme_before
        assert "Phones, now." in site.html("companies/xiaomi/index.html").text
    if edit == "claimant's company":
        assert 0 < rendered < total // 2, (rendered, total)
        assert "https://acme.example.com" in (
            site.out / "checks" / "check-10" / "index.html").read_text(encoding="utf-8")


def test_nothing_kept_when_sources_go_back_and_forth(site, run, tmp_path):
    """An edit and its undo: the second rebuild matches the first build byte for byte."""
    corpus(site)
    rebuild(run, site)
    first = snapshot(site.out)
    EDITS["verdict and companies"](site)
    rebuild(run, site)
    corpus(site)  # the original files again
    rendered, _ = rebuild(run, site)
    assert rendered > 0 and snapshot(site.out) == first


def test_after_an_edit_the_stamp_records_every_file_as_it_is(site, run):
    """A rebuild records the identity of the files it kept from its page records, not
    by looking again: they must be the files' own, or the next build with nothing
    changed would not be skipped."""
    corpus(site)
    rebuild(run, site)
    EDITS["body"](site)
    rendered, kept = rebuild(run, site)
    assert kept > rendered > 0
    outputs = json.loads((site.root / ".factsite-cache" / "stamp.json").read_text())["outputs"]
    for relpath, recorded in outputs.items():
        info = (site.out / relpath).stat()
        assert recorded == [info.st_size, info.st_mtime_ns, info.st_ino], relpath
    again = run("build", str(site.root), "-q", "--profile")
    assert again.code == 0 and "fingerprint: nothing changed" in again.err


def test_an_output_page_changed_by_hand_is_rendered_again(site, run):
    corpus(site)
    rebuild(run, site)
    page = site.out / "checks" / "check-3" / "index.html"
    good = page.read_bytes()
    page.write_text("tampered", encoding="utf-8")
    EDITS["body"](site)  # an edit elsewhere: the build is not skipped as a whole
    rebuild(run, site)
    assert page.read_bytes() == good


def test_feeds_and_listings_are_made_again_only_where_the_edited_check_shows(
        site, run, tmp_path, monkeypatch):
    corpus(site)
    rebuild(run, site)
    made: list[str] = []
    atom_feed, listing_page = feeds.atom_feed, listings._page

    def counted_feed(**kwargs):
        made.append(kwargs["feed_path"])
        return atom_feed(**kwargs)

    def counted_page(chunk, total, kind, key, *rest):
        made.append(f"{kind}/{key}")
        return listing_page(chunk, total, kind, key, *rest)

    monkeypatch.setattr(feeds, "atom_feed", counted_feed)
    monkeypatch.setattr(listings, "_page", counted_page)
    EDITS["verdict and companies"](site)  # check 5: unproven → true, Xiaomi → Acme Foods
    rebuild(run, site)
    made_now = set(made)
    assert snapshot(site.out) == from_nothing(run, site, tmp_path, "fresh")
    # the feeds and listings showing check 5 before or after (all 24 checks are in the
    # site's feed); not BYD's, not the other verdicts'
    assert made_now == {"/feed.xml", "/companies/xiaomi/feed.xml", "/companies/acme/feed.xml",
                        "company/xiaomi", "company/acme", "verdict/unproven", "verdict/true"}
    made.clear()
    # check 5's body alone: its text is in the site's feed only, but each file showing
    # the check is made again (a check is known by what it was made from)
    site.entry("2020-01-06-check-5", title="Check 5", verdict="true", companies="[Acme Foods]",
               published="2020-06-06", extra="tags: [t1, shared]", body="Another body.")
    rebuild(run, site)
    assert set(made) == {"/feed.xml", "/companies/acme/feed.xml", "company/acme",
                         "verdict/true"}
    monkeypatch.undo()
    assert snapshot(site.out) == from_nothing(run, site, tmp_path, "fresh-2")


def test_a_data_file_changed_by_hand_is_made_again(site, run):
    corpus(site)
    rebuild(run, site)
    listing = site.out / "search" / "verdict" / "mixed" / "1.json"
    feed = site.out / "companies" / "acme" / "feed.xml"
    good = listing.read_bytes(), feed.read_bytes()
    listing.write_text("{}", encoding="utf-8")
    feed.unlink()
    EDITS["body"](site)  # an edit of a check in neither
    rebuild(run, site)
    assert (listing.read_bytes(), feed.read_bytes()) == good


def test_templates_reading_every_entry_make_every_page_render(site, run, tmp_path):
    corpus(site)
    site.write("templates/base.html", '{% extends "!theme/base.html" %}{% block head %}'
               '{{ super() }}<meta name="latest" content="{{ graph.entries[0].title }}">'
               '{% endblock %}')
    result = run("build", str(site.root), "--profile")
    assert result.code == 0, result.err
    assert "templates use graph.entries: every page is rendered on every build" in result.out
    site.entry("2029-01-01-newest", title="The newest of all", published="2021-12-31")
    _, kept = rebuild(run, site)
    assert kept == 0
    companies = site.html("companies/index.html")  # shows no check of its own
    assert companies.find("meta", attrs={"name": "latest"})["content"] == "The newest of all"
    assert snapshot(site.out) == from_nothing(run, site, tmp_path, "fresh")


def test_a_template_starting_to_read_every_entry_is_seen_on_the_next_build(site, run,
                                                                           tmp_path):
    """What the templates read off ``graph`` is kept between builds, under their hash:
    a template edited to read more is looked at again."""
    corpus(site)
    rebuild(run, site)
    site.write("templates/base.html", '{% extends "!theme/base.html" %}{% block head %}'
               '{{ super() }}<meta name="latest" content="{{ graph.entries[0].title }}">'
               '{% endblock %}')
    rebuild(run, site)
    site.entry("2029-01-01-newest", title="The newest of all", published="2021-12-31")
    result = run("build", str(site.root), "--profile")
    assert result.code == 0, result.err
    assert "templates use graph.entries: every page is rendered on every build" in result.out
    assert "0 unchanged" in result.err
    companies = site.html("companies/index.html")
    assert companies.find("meta", attrs={"name": "latest"})["content"] == "The newest of all"
    assert snapshot(site.out) == from_nothing(run, site, tmp_path, "fresh")


def test_templates_reading_companies_by_name_make_company_edits_render_every_page(
        site, run, tmp_path):
    corpus(site)
    site.write("templates/base.html", '{% extends "!theme/base.html" %}{% block head %}'
               '{{ super() }}<meta name="xiaomi" content="{{ graph.companies.xiaomi.body_html'
               ' | striptags }}">{% endblock %}')
    rebuild(run, site)
    EDITS["company profile"](site)
    _, kept = rebuild(run, site)
    assert kept == 0
    tags = site.html("tags/index.html")  # shows no check of Xiaomi
    assert tags.find("meta", attrs={"name": "xiaomi"})["content"] == "Phones, now."
    assert snapshot(site.out) == from_nothing(run, site, tmp_path, "fresh")


def test_a_stylesheet_edit_renders_every_page_but_indexes_no_search_shard(
        site, run, tmp_path):
    corpus(site)
    rebuild(run, site)
    theme_css = (REPO / "templates" / "assets" / "style.css").read_text(encoding="utf-8")
    site.write("templates/assets/style.css", theme_css + "\n.card { outline: 1px solid; }\n")
    result = run("build", str(site.root), "-q", "--profile")
    assert result.code == 0, result.err
    assert re.search(r"render pages \(\d+ rendered, 0 unchanged\)", result.err), result.err
    assert re.search(r"\(0 of \d+ shards indexed", result.err), result.err
    page = site.html("checks/check-3/index.html")
    assert "style." in page.find("link", rel="stylesheet")["href"]
    assert snapshot(site.out) == from_nothing(run, site, tmp_path, "fresh")


def test_a_footer_edit_renders_every_page_but_indexes_no_search_shard(site, run, tmp_path):
    """Pagefind is given a check page's article and head only (search.searchable), and a
    shard's key hashes that: a theme edit outside the article changes every page and no
    shard. An edit inside it (a heading's text) indexes every shard again."""
    corpus(site)
    site.write("content/site.yaml", SITE_YAML + "search_shard_size: 5\n")  # 24 checks
    rebuild(run, site)
    base = (REPO / "templates" / "base.html").read_text(encoding="utf-8")
    assert base.count("</footer>") == 1
    site.write("templates/base.html",
               base.replace("</footer>", "<p>Corrections policy</p></footer>"))
    result = run("build", str(site.root), "-q", "--profile")
    assert result.code == 0, result.err
    assert re.search(r"render pages \(\d+ rendered, 0 unchanged\)", result.err), result.err
    assert re.search(r"\(0 of \d+ shards indexed", result.err), result.err
    assert "Corrections policy" in site.html("checks/check-3/index.html").find("footer").text
    assert snapshot(site.out) == from_nothing(run, site, tmp_path, "fresh")

    check = (REPO / "templates" / "check.html").read_text(encoding="utf-8")
    assert check.count('data-pagefind-ignore>The claim<') == 1
    site.write("templates/check.html", check.replace('data-pagefind-ignore>The claim<',
                                                     '>The claim checked<'))
    result = run("build", str(site.root), "-q", "--profile")
    assert result.code == 0, result.err
    indexed = re.search(r"\((\d+) of (\d+) shards indexed", result.err)
    assert indexed and indexed.group(1) == indexed.group(2) != "1", result.err
    assert snapshot(site.out) == from_nothing(run, site, tmp_path, "fresh again")


def rendered_pages(run, site: Site) -> set[str]:
    """Rebuild with the cache; the pages it rendered, known as those it wrote when it
    wrote as many as it rendered (a page rendered the same is not written)."""
    before = {path: path.stat().st_mtime_ns for path in site.out.rglob("*.html")}
    rendered, _ = rebuild(run, site)
    written = {path.relative_to(site.out).as_posix() for path, mtime in before.items()
               if path.stat().st_mtime_ns != mtime}
    assert len(written) == rendered, (rendered, sorted(written))
    return written


def test_a_page_template_edit_renders_only_the_pages_made_with_it(site, run, tmp_path):
    """A page's key holds the sources of its template and of what that extends,
    includes or imports (Theme.template_keys), not of every template: editing
    company.html renders the company pages, a partial only the pages including it."""
    corpus(site)
    site.write("templates/check.html", '{% extends "!theme/check.html" %}{% block title %}'
               '{% include "partials/title.html" %}{% endblock %}')
    site.write("templates/partials/title.html", "T: {{ entry.title }}")
    rebuild(run, site)
    companies = {path.relative_to(site.out).as_posix()  # each page of each company
                 for path in (site.out / "companies").rglob("index.html")
                 if path.parent != site.out / "companies"}
    assert len(companies) > 3

    site.write("templates/company.html", '{% extends "!theme/company.html" %}{% block title %}'
               'Company: {{ company.name }}{% endblock %}')
    assert rendered_pages(run, site) == companies
    assert site.html("companies/byd/index.html").title.text.startswith("Company: BYD")

    site.write("templates/partials/title.html", "Check: {{ entry.title }}")
    written = rendered_pages(run, site)
    assert written == {f"checks/check-{n}/index.html" for n in range(24)}
    assert site.html("checks/check-3/index.html").title.text == "Check: Check 3"
    assert snapshot(site.out) == from_nothing(run, site, tmp_path, "fresh")

    macros = (REPO / "templates" / "macros.html").read_text(encoding="utf-8")
    site.write("templates/macros.html", macros + "\n{# a comment, but a new source #}\n")
    assert rebuild(run, site)[1] == 0  # every page may show a check card


def test_a_template_added_where_one_was_missing_renders_its_pages(site, run, tmp_path):
    corpus(site)
    site.write("templates/tag.html", '{% extends "!theme/tag.html" %}{% block main %}'
               '{% include "partials/banner.html" ignore missing %}{{ super() }}{% endblock %}')
    rebuild(run, site)
    site.write("templates/partials/banner.html", '<p class="banner">Archive</p>')
    written = rendered_pages(run, site)
    assert written and all(path.startswith("tags/") for path in written), written
    assert site.html("tags/shared/index.html").find(class_="banner").text == "Archive"
    assert snapshot(site.out) == from_nothing(run, site, tmp_path, "fresh")


def test_template_keys_do_not_depend_on_where_the_site_is(tmp_path):
    """The same templates in another checkout (a CI cache restored elsewhere) keep their
    keys; another source does not."""
    themes = []
    for name in ("one", "two"):
        (tmp_path / name / "templates").mkdir(parents=True)
        (tmp_path / name / "templates" / "tag.html").write_text(
            '{% extends "!theme/tag.html" %}', encoding="utf-8")
        themes.append(Theme(tmp_path / name))
    names = ["check.html", "tag.html"]
    assert themes[0].template_keys(names) == themes[1].template_keys(names)
    (tmp_path / "two" / "templates" / "tag.html").write_text(
        '{% extends "!theme/tag.html" %}{# edited #}', encoding="utf-8")
    edited = Theme(tmp_path / "two").template_keys(names)
    assert edited["tag.html"] != themes[0].template_keys(names)["tag.html"]
    assert edited["check.html"] == themes[0].template_keys(names)["check.html"]


def test_a_template_named_by_a_variable_makes_any_template_edit_render_every_page(
        site, run, tmp_path):
    """Which template ``{% include part %}`` reads is not known before rendering, so the
    keys then hold every template file, as before template keys."""
    corpus(site)
    site.write("templates/tag.html", '{% extends "!theme/tag.html" %}{% block main %}'
               '{% set part = "partials/banner.html" %}{% include part %}{{ super() }}'
               '{% endblock %}')
    site.write("templates/partials/banner.html", '<p class="banner">Archive</p>')
    rebuild(run, site)
    site.write("templates/company.html", '{% extends "!theme/company.html" %}{% block title %}'
               'Company: {{ company.name }}{% endblock %}')
    assert rebuild(run, site)[1] == 0
    assert snapshot(site.out) == from_nothing(run, site, tmp_path, "fresh")


def test_a_new_output_folder_with_a_warm_cache_renders_every_page_on_forks(
        site, run, tmp_path, monkeypatch):
    """output/ deleted, or a CI run with the cache of an earlier one: nothing can be
    kept, which is known at once, so the pages render on forks; the site is the one a
    build from nothing makes, and no search shard is indexed again."""
    import shutil

    from generator import pipeline

    corpus(site)
    rebuild(run, site)
    shutil.rmtree(site.out)
    forks: list[int] = []
    renders = pipeline._renders

    def counting(specs, *args):
        forks.append(len(specs))
        return renders(specs, *args)

    monkeypatch.setattr(pipeline, "_renders", counting)
    monkeypatch.setattr(pipeline, "PARALLEL_RENDER_MIN", 2)
    result = run("build", str(site.root), "-q", "--profile", "--jobs", "2")
    assert result.code == 0, result.err
    rendered = re.search(r"render pages \((\d+) rendered, 0 unchanged\)", result.err)
    assert rendered and forks == [int(rendered.group(1))], result.err
    assert re.search(r"\(0 of \d+ shards indexed", result.err), result.err
    assert snapshot(site.out) == from_nothing(run, site, tmp_path, "fresh")


def test_pages_rendered_on_forks_leave_pagefind_free_to_stop(site, run, monkeypatch):
    """A rebuild that renders many pages forks; no search shard changes after a
    stylesheet edit, so the Pagefinds stop while the forks still render. Each must stop
    at the end of its input, not be killed after waiting for forks that held it."""
    from generator import pipeline
    from generator.search import SearchIndex

    corpus(site)
    rebuild(run, site)
    codes: list[int | None] = []
    close = SearchIndex.close

    def recording(service: SearchIndex) -> None:
        close(service)
        codes.append(service._process.returncode)

    monkeypatch.setattr(SearchIndex, "close", recording)
    monkeypatch.setattr(pipeline, "PARALLEL_RENDER_MIN", 2)  # fork for a small site too
    theme_css = (REPO / "templates" / "assets" / "style.css").read_text(encoding="utf-8")
    site.write("templates/assets/style.css", theme_css + "\n.card { outline: 1px solid; }\n")
    result = run("build", str(site.root), "-q", "--profile", "--jobs", "2")
    assert result.code == 0, result.err
    assert re.search(r"\(0 of \d+ shards indexed", result.err), result.err
    assert codes and set(codes) == {0}, codes


def test_check_pages_rendered_again_with_the_same_json_ld_are_not_validated_again(
        site, run, monkeypatch):
    """A stylesheet edit renders every check page again, but their JSON-LD is what the
    last build validated: the findings come from the cache, and are reported as before."""
    from generator import pipeline

    corpus(site)
    site.entry("2020-02-02-thin", title="Thin", extra="claim_urls: []")  # a warning
    first = run("build", str(site.root))
    assert first.code == 0 and "claim_urls" in first.err, first.err
    validated: list[str] = []

    def counting(scripts: str, page_url: str) -> list:
        validated.append(page_url)
        return validate_scripts(scripts, page_url)

    monkeypatch.setattr(pipeline, "validate_scripts", counting)
    theme_css = (REPO / "templates" / "assets" / "style.css").read_text(encoding="utf-8")
    site.write("templates/assets/style.css", theme_css + "\n.card { outline: 1px solid; }\n")
    again = run("build", str(site.root), "--profile")
    assert re.search(r"render pages \(\d+ rendered, 0 unchanged\)", again.err), again.err
    assert validated == []
    warnings = [line for line in again.err.splitlines() if "warning:" in line]
    assert warnings == [line for line in first.err.splitlines() if "warning:" in line]
    site.entry("2020-02-02-thin", title="Thin", claim="Said again", extra="claim_urls: []")
    assert run("build", str(site.root)).code == 0
    assert [url.endswith("/checks/thin/") for url in validated] == [True]  # a new claim


def test_kept_pages_still_have_their_links_checked(site, run):
    """Strict mode checks links on pages it did not render: a link to a removed check
    breaks although the page holding it is unchanged."""
    corpus(site, 6)
    site.entry("2020-05-05-linker", title="Linker", published="2020-05-05",
               body="See [check 2](/checks/check-2/).")
    assert run("build", str(site.root), "-q", "--strict").code == 0
    site.remove("content/entries/2020-01-03-check-2.md")
    result = run("build", str(site.root), "-q", "--strict", "--profile")
    assert result.code == 1
    assert "broken link to '/checks/check-2/' on /checks/linker/" in result.err
    assert (site.out / "checks" / "check-2" / "index.html").is_file()  # output untouched


def test_warnings_of_kept_pages_and_cached_entries_are_reported_as_before(site, run):
    """ClaimReview findings of a kept check page and the front matter warnings of an
    entry from the cache come out as a build from nothing reports them, in order."""
    corpus(site, 8)
    site.write("content/entries/2020-02-02-thin.md",
               "---\ntitle: Thin\nclaim: Said\nverdict: false\npublished: 2020-02-02\n"
               "companies: [BYD]\nverdcit: typo\n---\n\nThin body.\n")
    cold = run("build", str(site.root), "--no-cache", "-o", str(site.root / "cold"))
    assert cold.code == 0, cold.err
    assert "verdcit" in cold.err and "claimant" in cold.err
    assert run("build", str(site.root)).code == 0
    EDITS["body"](site)
    warm = run("build", str(site.root), "--profile")
    assert warm.code == 0
    assert re.search(r"render pages \(\d+ rendered, [1-9]\d* unchanged\)", warm.err)
    shown = [line for line in warm.err.splitlines() if "warning:" in line]
    expected = [line for line in cold.err.splitlines() if "warning:" in line]
    assert shown == expected


def test_only_the_shards_whose_indexed_text_changed_are_indexed_again(site, run, tmp_path):
    """Moving a check to the company and topic of twelve others puts it among the related
    checks of all of them, all over the index; only the moved check's own shard holds text
    that changed (related checks are marked data-pagefind-ignore="all")."""
    settings = site.root / "content" / "site.yaml"
    settings.write_text(settings.read_text(encoding="utf-8") + "search_shard_size: 2\n",
                        encoding="utf-8")
    for n in range(12):
        site.entry(f"2020-01-{n + 1:02d}-byd-{n}", title=f"BYD {n}", companies="[BYD]",
                   published=f"2020-01-{n + 1:02d}", extra="tags: [batteries]")
    site.entry("2021-06-01-mover", title="Mover", companies="[Xiaomi]", published="2021-06-01")
    first = run("build", str(site.root), "-q", "--profile")
    assert first.code == 0, first.err
    shards = int(re.search(r"\((\d+) of (\d+) shards indexed", first.err).group(2))
    assert shards >= 4
    before = snapshot(site.out)
    site.entry("2021-06-01-mover", title="Mover", companies="[BYD]", published="2021-06-01",
               extra="tags: [batteries]")
    result = run("build", str(site.root), "-q", "--profile")
    assert result.code == 0, result.err
    after = snapshot(site.out)
    changed = [f for f in after if f.startswith("checks/byd-") and after[f] != before.get(f)]
    assert len(changed) == 12  # each now shows the mover among its related checks
    assert re.search(r"\(1 of \d+ shards indexed", result.err), result.err
    assert snapshot(site.out) == from_nothing(run, site, tmp_path, "fresh")


@pytest.mark.parametrize("edit", ["body", "verdict and companies", "removed entry",
                                  "template"])
def test_a_preview_build_publishes_its_pages_before_the_search_index(site, run, tmp_path,
                                                                     monkeypatch, edit):
    """serve's builds (``published``) put every page in place (and take the stale ones
    away) before Pagefind indexes the changed shards (the last build's index is served
    whole meanwhile), then end as
    any build does: with the site a build from nothing makes. Six shards, and pages
    rendered on forks from the first on (as a large site's are when many change): the
    shards to index wait for the end (``defer``), their pages read again then."""
    monkeypatch.setattr(pipeline, "PARALLEL_RENDER_MIN", 1)
    site.write("content/site.yaml", SITE_YAML + "search_shard_size: 4\n")
    corpus(site)
    assert run("build", str(site.root), "-q").code == 0
    before = snapshot(site.out)
    EDITS[edit](site)
    seen: list[tuple[list[str], dict[str, bytes]]] = []

    def bundle(files: dict[str, bytes], inside: bool = True) -> dict[str, bytes]:
        return {name: data for name, data in files.items()
                if name.startswith("pagefind/") == inside}

    options = BuildOptions(site_dir=site.root, now=dt.datetime.fromisoformat(NOW),
                           cache_dir=site.root / CACHE_DIR)
    result = build(options, published=lambda stats, _: seen.append(
        (stats.changed, snapshot(site.out))))
    [(changed, then)] = seen
    after = snapshot(site.out)
    assert after == from_nothing(run, site, tmp_path, "fresh")
    assert bundle(then) == bundle(before)
    pages = bundle(after, inside=False)
    assert bundle(then, inside=False) == pages  # stale pages gone at once, too
    assert set(changed) == {name for name in {*pages, *bundle(before, inside=False)}
                            if before.get(name) != pages.get(name)}
    assert set(result.stats.changed) >= set(changed)
    if edit == "body":
        assert bundle(after) != bundle(before)


def test_a_rebuild_reports_claim_review_findings_as_a_build_from_nothing(site, run):
    """A rebuild renders the changed search shards first; its ClaimReview warnings still
    come in the order of a build from nothing (by source file), whichever check was
    edited."""
    site.write("content/site.yaml", SITE_YAML + "search_shard_size: 2\n")

    def write(n: int, body: str) -> None:  # claims long enough to be warned about
        site.entry(f"2021-0{n + 1}-01-long-{n}", title=f"Long {n}", claim="A claim " * (10 + n),
                   published=f"2021-0{n + 1}-01", body=body)

    def warnings(result) -> list[str]:
        assert result.code == 0, result.err
        return [line for line in result.err.splitlines() if "ClaimReview" in line]

    for n in range(6):
        write(n, "First words.")
    first = warnings(run("build", str(site.root)))
    assert len(first) == 6 and first == sorted(first)
    for n in range(6):
        write(n, f"Edited words {n}.")
        assert warnings(run("build", str(site.root))) == first


def test_unchanged_search_shards_stay_as_they_are_in_the_output(site, run, tmp_path,
                                                                monkeypatch):
    """A shard that is not indexed again, whose files the output folder holds as the
    last build left them, is kept as it is: its bundle is not even read from the cache
    to be compared with them. A file of one changed by hand is put back."""
    settings = site.root / "content" / "site.yaml"
    settings.write_text(settings.read_text(encoding="utf-8") + "search_shard_size: 3\n",
                        encoding="utf-8")
    corpus(site)
    rebuild(run, site)
    bundle = {path: (path.stat().st_mtime_ns, path.stat().st_ino)
              for path in (site.out / "pagefind").rglob("*") if path.is_file()}
    looked_up: list[str] = []
    get = DiskCache.get

    def counting_get(self, key):
        looked_up.append(key)
        return get(self, key)

    monkeypatch.setattr(DiskCache, "get", counting_get)
    EDITS["body"](site)
    result = run("build", str(site.root), "-q", "--profile")
    assert result.code == 0, result.err
    indexed, shards = map(int, re.search(r"\((\d+) of (\d+) shards", result.err).groups())
    assert indexed == 1 and shards >= 4
    # The edited shard's slot only: the others were kept without reading theirs.
    assert len([key for key in looked_up if key.startswith("pagefind-shard:")]) == 1
    untouched = [path for path, seen in bundle.items()
                 if path.is_file() and (path.stat().st_mtime_ns, path.stat().st_ino) == seen]
    # Every shard's files but the edited one's (and the root's shared script and wasm).
    assert len(untouched) > len(bundle) // 2, (len(untouched), len(bundle))
    assert snapshot(site.out) == from_nothing(run, site, tmp_path, "fresh")
    tampered = next(p for p in untouched if p.suffix == ".pf_fragment")
    good = tampered.read_bytes()
    tampered.write_bytes(b"tampered")
    EDITS["verdict and companies"](site)  # an edit elsewhere: the build is not skipped
    rebuild(run, site)
    assert tampered.read_bytes() == good
    assert snapshot(site.out) == from_nothing(run, site, tmp_path, "fresh-again")


def test_a_failed_build_still_finds_template_errors_and_spoils_no_cache(site, run):
    """A build with a content error renders only pages whose inputs changed (into
    nothing), so a template broken at the same time is still reported; after the fix,
    the search shards of the last good build are reused, not indexed again."""
    corpus(site)
    assert run("build", str(site.root)).code == 0
    good = (site.root / "content/entries/2020-01-06-check-5.md").read_text(encoding="utf-8")
    site.write("content/entries/2020-01-06-check-5.md", good.replace("verdict: ", "verdict: x"))
    site.write("templates/tag.html", '{% extends "!theme/tag.html" %}{% block main %}'
               '{{ tag.no_such_thing }}{% endblock %}')
    failed = run("build", str(site.root))
    assert failed.code == 1
    assert "content/entries/2020-01-06-check-5.md:4: unknown verdict" in failed.err
    assert "tag.html" in failed.err and "no_such_thing" in failed.err
    site.remove("templates/tag.html")
    site.write("content/entries/2020-01-06-check-5.md", good)
    again = run("build", str(site.root), "-q", "--profile")
    assert again.code == 0, again.err
    assert re.search(r"\(0 of \d+ shards indexed", again.err), again.err
