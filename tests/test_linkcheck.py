"""The link checker: internal links, #anchors and assets that point nowhere."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import yaml

from generator import linkcheck
from generator.build import BuildOptions, build
from generator.linkcheck import BrokenLink, LinkChecker, scan, scan_exact, strip_raw_text
from generator.urls import Urls

REPO = Path(__file__).resolve().parent.parent
NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
SITE_BASE_URL = yaml.safe_load((REPO / "content" / "site.yaml").read_text("utf-8"))["base_url"]


def page(body: str, head: str = "") -> str:
    """A page shaped like factsite's: a head with meta names, then the body."""
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f'<meta name="description" content="A page.">\n{head}</head>\n'
        f'<body>\n<main id="main-content">\n{body}\n</main>\n</body>\n</html>\n'
    )


def checker(base_url: str = "https://checks.example.org/") -> LinkChecker:
    """A checker that already knows two pages: /checks/y/ (ids sec and fn1) and /about/."""
    links = LinkChecker(Urls(base_url))
    prefix = Urls(base_url).prefix
    links.add_page(
        "/checks/y/",
        page(f'<h2 id="sec">Section</h2><p id="fn1">Note</p><a href="{prefix}/">Home</a>'),
        "content/entries/y.md",
    )
    links.add_page("/about/", page("<p>About</p>"), "content/pages/about.md")
    links.add_page("/", page("<p>Home</p>"))
    return links


def broken_targets(links: LinkChecker, on: str = "/checks/x/") -> dict[str, str]:
    return {b.target: b.reason for b in links.broken() if b.page == on}


def test_a_link_to_a_missing_page_is_broken() -> None:
    links = checker()
    links.add_page(
        "/checks/x/",
        page('<a href="/companies/nope/">Nope</a> <a href="/checks/y/">Y</a>'),
        "content/entries/x.md",
    )
    assert links.broken() == [
        BrokenLink(
            page="/checks/x/",
            source="content/entries/x.md",
            target="/companies/nope/",
            reason="no page at /companies/nope/",
        )
    ]


def test_anchors_on_the_same_page() -> None:
    links = checker()
    links.add_page(
        "/checks/x/",
        page(
            '<h2 id="here">Here</h2><a href="#here">ok</a> <a href="#gone">broken</a>'
            ' <a href="#">top</a> <a href="#top">top</a> <a href="#main-content">skip</a>'
        ),
    )
    assert broken_targets(links) == {"#gone": "no element with id 'gone' on /checks/x/"}


def test_anchors_on_another_page() -> None:
    links = checker()
    links.add_page(
        "/checks/x/",
        page(
            '<a href="/checks/y/#sec">ok</a> <a href="/checks/y/#fn1">ok</a> '
            '<a href="/checks/y/#nope">broken</a> <a href="/about/#sec">broken</a>'
        ),
    )
    assert broken_targets(links) == {
        "/checks/y/#nope": "no element with id 'nope' on /checks/y/",
        "/about/#sec": "no element with id 'sec' on /about/",
    }


def test_an_anchor_may_be_declared_after_the_link_to_it() -> None:
    links = LinkChecker(Urls("https://checks.example.org/"))
    links.add_page("/checks/x/", page('<a href="/checks/y/#later">later</a>'))
    links.add_page("/checks/y/", page('<h2 id="later">Later</h2>'))
    assert links.broken() == []


def test_relative_links_resolve_against_the_page() -> None:
    links = checker()
    links.add_page(
        "/checks/x/",
        page(
            '<a href="../y/">sibling</a> <a href="../y/#sec">sibling anchor</a>'
            ' <a href="../../about/">up</a> <a href="./">itself</a> <a href="?page=2">query</a>'
            ' <a href="../nope/">broken</a> <a href="sub/">broken</a>'
        ),
    )
    assert broken_targets(links) == {
        "../nope/": "no page at /checks/nope/",
        "sub/": "no page at /checks/x/sub/",
    }


def test_a_site_under_a_sub_path() -> None:
    links = checker("https://example.org/factdesk/")
    links.add_page(
        "/checks/x/",
        page(
            '<a href="/factdesk/checks/y/#sec">ok</a> <a href="/factdesk/">home</a>'
            ' <a href="/factdesk">home without slash</a> <a href="../y/">relative</a>'
            ' <a href="/checks/y/">forgot the prefix</a> <a href="../../../y/">climbs out</a>'
            ' <a href="/factdesk/nope/">broken</a>'
        ),
    )
    outside = "outside the site, whose pages are under /factdesk/"
    assert broken_targets(links) == {
        "/checks/y/": outside,
        "../../../y/": outside,
        "/factdesk/nope/": "no page at /nope/",
    }


def test_absolute_urls_on_the_site_are_checked() -> None:
    links = checker("https://example.org/factdesk/")
    links.add_page(
        "/checks/x/",
        page(
            '<a href="https://example.org/factdesk/checks/y/">ok</a>'
            ' <a href="https://EXAMPLE.org:443/factdesk/about/">ok</a>'
            ' <a href="//example.org/factdesk/checks/y/#sec">ok</a>'
            ' <a href="https://example.org/factdesk/checks/gone/">broken</a>'
            ' <a href="https://example.org/factdesk/checks/y/#gone">broken</a>',
            head='<link rel="canonical" href="https://example.org/factdesk/checks/x/">',
        ),
    )
    assert broken_targets(links) == {
        "https://example.org/factdesk/checks/gone/": "no page at /checks/gone/",
        "https://example.org/factdesk/checks/y/#gone": "no element with id 'gone' on /checks/y/",
    }


def test_other_hosts_and_schemes_are_ignored() -> None:
    links = checker("https://example.org/factdesk/")
    links.add_page(
        "/checks/x/",
        page(
            '<a href="https://elsewhere.example.com/nope/">other host</a>'
            ' <a href="https://example.org.evil.test/factdesk/nope/">other host</a>'
            ' <a href="//cdn.example.net/x.js">other host</a>'
            ' <a href="https://example.org/blog/nope/">same host, another site</a>'
            ' <a href="http://example.org/factdesk/nope/">another origin</a>'
            ' <a href="mailto:desk@example.org">mail</a> <a href="tel:+100">phone</a>'
            ' <img src="data:image/png;base64,AAAA" alt="">'
            ' <a href="javascript:void(0)">js</a>'
        ),
    )
    assert links.broken() == []


def test_percent_encoded_unicode_paths() -> None:
    links = checker()
    links.add_page("/tags/比亚迪/", page("<p>BYD</p>"))
    links.add_page(
        "/checks/x/",
        page(
            '<a href="/tags/%E6%AF%94%E4%BA%9A%E8%BF%AA/">encoded</a>'
            ' <a href="/tags/比亚迪/">as is</a>'
            ' <a href="/tags/%E5%B0%8F%E7%B1%B3/">broken</a>'
        ),
    )
    assert broken_targets(links) == {"/tags/%E5%B0%8F%E7%B1%B3/": "no page at /tags/小米/"}


def test_percent_encoded_unicode_anchor() -> None:
    links = checker()
    links.add_page(
        "/checks/x/", page('<h2 id="结论">结论</h2><a href="#%E7%BB%93%E8%AE%BA">ok</a>')
    )
    assert links.broken() == []


def test_assets_and_static_files() -> None:
    links = checker()
    links.add_file("/assets/style.9e75eb4414.css")
    links.add_file("logo.svg")  # a leading slash is optional
    links.add_file("/feed.xml")
    links.add_page(
        "/checks/x/",
        page(
            '<img src="/logo.svg" alt=""> <img src="/missing.png" alt="">'
            ' <a href="/feed.xml">feed</a> <a href="/feed.xml/">not a folder</a>'
            ' <a href="/icons.svg#check">sprite</a>',
            head='<link rel="stylesheet" href="/assets/style.9e75eb4414.css">\n'
            '<link rel="stylesheet" href="/assets/style.0000000000.css">\n'
            '<link rel="alternate" type="application/rss+xml" href="/feed.xml">\n'
            '<script src="/assets/search.js"></script>\n',
        ),
    )
    assert broken_targets(links) == {
        "/assets/style.0000000000.css": "no file at /assets/style.0000000000.css",
        "/assets/search.js": "no file at /assets/search.js",
        "/missing.png": "no file at /missing.png",
        "/feed.xml/": "no page at /feed.xml/",
        "/icons.svg#check": "no file at /icons.svg",
    }


def test_a_fragment_into_a_file_that_is_not_a_page_is_not_checked() -> None:
    links = checker()
    links.add_file("/icons.svg")
    links.add_page("/checks/x/", page('<svg><use href="/icons.svg#check"></use></svg>'))
    assert links.broken() == []


def test_srcset_candidates() -> None:
    links = checker()
    links.add_file("/img/a-1x.png")
    links.add_file("/img/a-2x.png")
    links.add_page(
        "/checks/x/",
        page(
            '<img src="/img/a-1x.png" srcset="/img/a-1x.png 1x, /img/a-2x.png 2x" alt="">'
            '<picture><source srcset="/img/b-480.webp 480w,/img/a-2x.png 960w"'
            ' sizes="(max-width: 600px) 480px, 960px">'
            '<img src="/img/a-1x.png" srcset="/img/c.png, /img/a-2x.png 2x" alt=""></picture>'
        ),
    )
    assert broken_targets(links) == {
        "/img/b-480.webp": "no file at /img/b-480.webp",
        "/img/c.png": "no file at /img/c.png",
    }


def test_character_references_in_attributes_are_decoded() -> None:
    links = checker()
    links.add_page("/tags/café/", page("<p>Café</p>"))
    links.add_page("/search/", page("<p>Search</p>"))
    links.add_page(
        "/checks/x/",
        page(
            '<h2 id="q&amp;a">Q&amp;A</h2><a href="#q&amp;a">ok</a>'
            ' <a href="/tags/caf&eacute;/">ok</a> <a href="/tags/caf&#233;/">ok</a>'
            ' <a href="/search/?q=byd&amp;page=2">ok</a>'
            ' <a href="/search/?a=1&copy=2">ok, no reference</a>'
            ' <a href="/checks/y/#&#115;ec">ok</a>'
            ' <a href="/tags/&lt;nope&gt;/">broken</a>'
        ),
    )
    assert broken_targets(links) == {"/tags/<nope>/": "no page at /tags/<nope>/"}


def test_a_folder_link_without_its_slash() -> None:
    links = checker()
    links.add_page(
        "/checks/x/",
        page(
            '<a href="/checks/y">no slash</a> <a href="/checks/y#sec">no slash, anchor</a>'
            ' <a href="/checks/y#gone">broken anchor</a> <a href="/checks/y/index.html">file</a>'
            ' <a href="/checks/nope">broken</a>'
        ),
    )
    assert broken_targets(links) == {
        "/checks/y#gone": "no element with id 'gone' on /checks/y/",
        "/checks/nope": "no page at /checks/nope",
    }


def test_the_not_found_page_is_a_file_page() -> None:
    links = checker()
    links.add_page("/404.html", page('<a href="/">Home</a> <a href="/gone/">gone</a>'))
    links.add_page("/checks/x/", page('<a href="/404.html#main-content">404</a>'))
    assert [(b.page, b.target) for b in links.broken()] == [("/404.html", "/gone/")]


def test_comments_scripts_and_styles_are_not_markup() -> None:
    links = checker()
    links.add_page(
        "/checks/x/",
        page(
            '<!-- <a href="/commented-out/">old</a> -->'
            "<script>var link = '<a href=\"/in-a-script/\">x</a>';</script>"
            '<STYLE>a[href="/in-a-style/"] { color: red }</STYLE>'
            '<script type="application/ld+json">{"url": "/not-a-link/", "id": "x"}</script>'
            '<script src="/assets/missing.js"></script>'
            '<a href="/after/">after</a>',
        ),
    )
    assert broken_targets(links) == {
        "/assets/missing.js": "no file at /assets/missing.js",
        "/after/": "no page at /after/",
    }


def test_single_quoted_unquoted_and_upper_case_attributes() -> None:
    links = checker()
    links.add_page(
        "/checks/x/",
        page(
            "<h2 id=plain>Plain</h2><h3 id='quoted'>Quoted</h3>"
            " <a href='/single/'>a</a> <a href=/unquoted/>b</a> <a href = \"/spaced/\">c</a>"
            ' <A HREF="/upper/">d</A> <a href="#plain">ok</a> <a href="#quoted">ok</a>'
            " <p>Prose: set id=5 and href=/prose/ in code.</p>"
        ),
    )
    assert broken_targets(links) == {
        "/single/": "no page at /single/",
        "/unquoted/": "no page at /unquoted/",
        "/spaced/": "no page at /spaced/",
        "/upper/": "no page at /upper/",
    }


def test_a_name_is_an_anchor_only_on_a() -> None:
    links = checker()
    links.add_page(
        "/checks/x/",
        page(
            '<a name="old-anchor"></a><a class="x" name="second"></a>'
            '<form><input name="q"></form>'
            '<a href="#old-anchor">ok</a> <a href="#second">ok</a>'
            ' <a href="#q">broken</a> <a href="#description">broken</a>'
        ),
    )
    assert set(broken_targets(links)) == {"#q", "#description"}


def readings(html: str) -> tuple[set[tuple[str, str]], set[tuple[str, str]]]:
    """What :func:`scan` and :func:`scan_exact` find: (attribute ending, value) pairs."""

    def pairs(found: set[tuple[str, str, str, str]]) -> set[tuple[str, str]]:
        return {((attr[0] or attr[1]).lower(), attr[2]) for attr in found}

    return pairs(scan(html)), pairs(scan_exact(strip_raw_text(html)))


TRICKY_BODY = (
    '<a href="/x/" id="y">x</a><a class="c" name="anchor"></a><img src="/i.png"'
    ' srcset="/i.png 1x, /j.png 2x" alt=""><svg><use xlink:href="/icons.svg#a"></use></svg>'
    '<input name="q" data-id="no"><A HREF="/upper/" ID="upper">u</A>'
    '<p data-href="/no/">a href="/x/" in text</p>'
    '<!-- <a href="/commented/"> --><script>x = \'<a href="/s/">\'</script>'
    '<a href="/after/">after</a>'
)
TRICKY_FOUND = {
    ("ef", "/x/"),
    ("id", "y"),
    ("me", "anchor"),
    ("rc", "/i.png"),
    ("et", "/i.png 1x, /j.png 2x"),
    ("ef", "/icons.svg#a"),
    ("ef", "/upper/"),
    ("id", "upper"),
    ("ef", "/after/"),
    ("ef", "/f.svg"),
    ("id", "main-content"),
}


def test_the_fast_reading_matches_the_exact_one() -> None:
    html = page(TRICKY_BODY, head='<meta name="robots"><link rel="icon" href="/f.svg">')
    assert ("EF", "", "/upper/", "") in scan(html)  # upper case: the fast reading was used
    fast, exact = readings(html)
    assert fast == exact == TRICKY_FOUND


def test_a_page_with_unquoted_lookalikes_is_read_exactly() -> None:
    html = page(
        TRICKY_BODY + '<img src="/i.png" alt="see href=/not-a-link/" title="id=nope">',
        head='<meta name="robots"><link rel="icon" href="/f.svg">',
    )
    fast, exact = readings(html)
    assert fast == exact == TRICKY_FOUND


def test_each_broken_link_once_in_a_stable_order() -> None:
    links = checker()
    for path in ("/z/", "/checks/x/", "/a/"):
        links.add_page(
            path, page('<a href="/b/">b</a> <a href="/a-gone/">a</a> <a href="/b/">b</a>')
        )
    assert [(b.page, b.target) for b in links.broken()] == [
        (path, target) for path in ("/a/", "/checks/x/", "/z/") for target in ("/a-gone/", "/b/")
    ]


# -- the example site ------------------------------------------------------------------------


def site_path(relpath: str) -> str:
    """The site path of an output file: ``checks/x/index.html`` → ``/checks/x/``."""
    if relpath == "index.html" or relpath.endswith("/index.html"):
        return "/" + relpath.removesuffix("index.html")
    return "/" + relpath


def check_output(out: Path, base_url: str) -> tuple[LinkChecker, int]:
    links = LinkChecker(Urls(base_url))
    pages = 0
    for file in sorted(out.rglob("*")):
        relpath = file.relative_to(out).as_posix()
        if not file.is_file():
            continue
        if file.suffix == ".html":
            links.add_page(site_path(relpath), file.read_text(encoding="utf-8"), relpath)
            pages += 1
        else:
            links.add_file(relpath)
    return links, pages


@pytest.mark.parametrize(
    "base_url", [None, "https://example.org/factdesk/"], ids=["site.yaml", "sub-path"]
)
def test_the_example_site_has_no_broken_links(tmp_path: Path, base_url: str | None) -> None:
    out = tmp_path / "out"
    result = build(BuildOptions(site_dir=REPO, out_dir=out, base_url=base_url, now=NOW))
    links, pages = check_output(out, base_url or SITE_BASE_URL)
    assert pages == result.pages
    assert links.broken() == []


def test_the_example_site_is_read_the_same_fast_and_exactly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    build(BuildOptions(site_dir=REPO, out_dir=out, now=NOW))
    exact = {}
    for file in sorted(out.rglob("*.html")):
        html = file.read_text(encoding="utf-8")
        exact[file] = scan_exact(strip_raw_text(html))
    # factsite's own pages never need the slow reading.
    monkeypatch.setattr(linkcheck, "scan_exact", lambda html: pytest.fail("read exactly"))
    for file, expected in exact.items():
        found = scan(file.read_text(encoding="utf-8"))
        assert found == expected, file
        assert any(attr[0] == "ef" for attr in found), file  # it did see links


def test_the_example_site_with_broken_links(tmp_path: Path) -> None:
    out = tmp_path / "out"
    build(BuildOptions(site_dir=REPO, out_dir=out, now=NOW))
    check = sorted((out / "checks").glob("*/index.html"))[0]
    html = check.read_text(encoding="utf-8")
    broken = '<a href="/companies/nope/">x</a> <a href="#nope">y</a></main>'
    check.write_text(html.replace("</main>", broken, 1), encoding="utf-8")
    links, _pages = check_output(out, SITE_BASE_URL)
    path = "/" + check.parent.relative_to(out).as_posix() + "/"
    assert [(b.page, b.target, b.reason) for b in links.broken()] == [
        (path, "#nope", f"no element with id 'nope' on {path}"),
        (path, "/companies/nope/", "no page at /companies/nope/"),
    ]
