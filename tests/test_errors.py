"""Bad input through the real command line: every mistake is reported as ``path:line:
message`` (with a hint where one helps), the run exits 1 without a traceback, and a
failed build leaves the previous output byte for byte as it was.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from dataclasses import dataclass

import pytest
from conftest import NOW, REPO, SITE_YAML, entry_text

KNOWN_VERDICTS = "(known: true, mostly-true, mixed, misleading, false, unproven)"
DATE_HINT = "expected YYYY-MM-DD or an ISO 8601 date-time like 2020-12-15T09:30:00+08:00"
URL_HINT = "write it as https://…"
GOOD = "content/entries/2020-12-15-good.md"


# -- reading what the user sees --------------------------------------------------------


@dataclass
class Problem:
    """One reported problem: its ``path:line: message`` line, hint and quoted source."""

    headline: str
    hint: str | None = None
    source: str | None = None


def problems(err: str) -> list[Problem]:
    """The problems printed on stderr, in order (the closing summary line left out)."""
    found: list[Problem] = []
    for line in err.splitlines():
        if line.startswith("factsite: "):
            continue
        if line.startswith("    hint: "):
            found[-1].hint = line.removeprefix("    hint: ")
        elif line.startswith("    ") and " | " in line:
            found[-1].source = line.split(" | ", 1)[1]
        else:
            found.append(Problem(line))
    return found


def problem(err: str, headline: str) -> Problem:
    """The one problem whose first line is exactly ``headline``."""
    matches = [p for p in problems(err) if p.headline == headline]
    assert len(matches) == 1, f"expected once: {headline!r}\n--- stderr ---\n{err}"
    return matches[0]


def errors(err: str) -> list[Problem]:
    return [p for p in problems(err) if ": warning: " not in p.headline]


def no_traceback(result) -> None:
    assert "Traceback" not in result.err and "Traceback" not in result.out, result.err


@pytest.fixture
def good(site, run) -> dict[str, bytes]:
    """Build the site with one valid check; returns the output's bytes to compare with."""
    site.entry("2020-12-15-good", title="A good check")
    result = run("build", str(site.root))
    assert result.code == 0, result.err
    before = site.snapshot()
    assert "checks/good/index.html" in before
    return before


def fails(site, run, before: dict[str, bytes], *args: str) -> str:
    """Build and check the broken site: both exit 1 cleanly and report the same
    problems, and the output stays exactly ``before``. Returns the build's stderr."""
    built = run("build", str(site.root), *args)
    assert built.code == 1, built.err
    no_traceback(built)
    assert built.err.splitlines()[-1].startswith("factsite: build failed with ")
    assert built.err.splitlines()[-1].endswith("; the previous output is unchanged")
    assert built.out == ""
    assert site.snapshot() == before

    checked = run("check", str(site.root), *args)
    assert checked.code == 1, checked.err
    no_traceback(checked)
    assert checked.err.splitlines()[-1].endswith("; nothing was written")
    assert problems(checked.err) == problems(built.err)
    assert site.snapshot() == before
    return built.err


def broken_entry(*lines: str) -> str:
    """An entry file whose front matter is exactly ``lines``."""
    return "\n".join(["---", *lines, "---", "", "Body.", ""])


# -- files that cannot be read as front matter -----------------------------------------

UNREADABLE = [
    pytest.param(
        broken_entry("title: A", "claim: b: c", "verdict: false", "published: 2020-12-15"),
        "3: YAML syntax error: mapping values are not allowed in this context",
        None,
        "claim: b: c",
        id="yaml-colon-in-value",
    ),
    pytest.param(
        broken_entry(
            "title: A",
            "claim: c",
            "verdict: false",
            "published: 2020-12-15",
            "sources:",
            "\t- https://a.example.org/",
        ),
        "7: YAML syntax error: found character that cannot start any token",
        None,
        "\t- https://a.example.org/",
        id="yaml-tab-indent",
    ),
    pytest.param(
        broken_entry("title: A", 'claim: "unterminated', "verdict: false", "published: 2020-12-15"),
        "6: YAML syntax error: found unexpected end of stream",
        "a quote or bracket opened on line 3 may not be closed",
        "---",
        id="yaml-unclosed-quote",
    ),
    pytest.param(
        broken_entry("title: A", "claim: [unclosed", "verdict: false", "published: 2020-12-15"),
        "4: YAML syntax error: did not find expected ',' or ']'",
        "a quote or bracket opened on line 3 may not be closed",
        "verdict: false",
        id="yaml-unclosed-bracket",
    ),
    pytest.param(
        "---\ntitle: A\nclaim: c\nverdict: false\npublished: 2020-12-15\n\nBody.\n",
        "1: front matter opened on line 1 is never closed with a '---' line",
        "add a line '---' after the last front matter field",
        "---",
        id="no-closing-fence",
    ),
    pytest.param(
        "---\n- title: A\n- claim: c\n---\n\nBody.\n",
        "2: expected a mapping of 'key: value' lines, got a list",
        None,
        "- title: A",
        id="front-matter-list",
    ),
    pytest.param(
        "---\nJust a sentence about the claim\n---\n\nBody.\n",
        "2: expected a mapping of 'key: value' lines, got text",
        None,
        "Just a sentence about the claim",
        id="front-matter-string",
    ),
    pytest.param(
        "---\n42\n---\n",
        "2: expected a mapping of 'key: value' lines, got a number",
        None,
        "42",
        id="front-matter-number",
    ),
    pytest.param(
        "",
        "1: file is empty",
        "start it with a '---' front matter block",
        None,
        id="empty-file",
    ),
    pytest.param(
        "\n  \n\n",
        "1: file is empty",
        "start it with a '---' front matter block",
        "",
        id="blank-file",
    ),
    pytest.param(
        "# A check\n\ntitle: A\n",
        "1: missing front matter: the file must start with a '---' line",
        "put the YAML fields between two '---' lines at the top of the file",
        "# A check",
        id="no-front-matter",
    ),
    pytest.param(
        entry_text(title="Café au lait").encode("latin-1"),
        "2: file is not valid UTF-8 (byte 0xe9)",
        "save the file with UTF-8 encoding",
        "title: Caf\ufffd au lait",
        id="latin-1",
    ),
]


@pytest.mark.parametrize(("text", "message", "hint", "source"), UNREADABLE)
def test_unreadable_entry(site, run, good, text, message, hint, source):
    site.write("content/entries/x.md", text)
    err = fails(site, run, good)
    found = problem(err, f"content/entries/x.md:{message}")
    assert (found.hint, found.source) == (hint, source)
    assert len(errors(err)) == 1


def test_unreadable_company_and_page(site, run, good):
    site.write("content/companies/tesla.md", "name: Tesla\n")
    site.write("content/pages/about.md", "---\ntitle: [About\n---\n\nWho we are.\n")
    err = fails(site, run, good)
    company = problem(
        err,
        "content/companies/tesla.md:1: missing front matter: the file must start with a '---' line",
    )
    assert company.source == "name: Tesla"
    page = problem(
        err, "content/pages/about.md:3: YAML syntax error: did not find expected ',' or ']'"
    )
    assert page.hint == "a quote or bracket opened on line 2 may not be closed"


def test_recursive_yaml_alias_is_an_error_not_a_crash(site, run, good):
    site.entry("x", extra="author: &me [Desk, *me]\ntags: &t [cars, *t]")
    err = fails(site, run, good)
    assert [p.headline for p in errors(err)] == [
        "content/entries/x.md:7: 'author' must be text, not a list",
        "content/entries/x.md:8: 'tags[2]' must be text, not a list",
    ]


# -- required fields -------------------------------------------------------------------


@pytest.mark.parametrize("field", ["title", "claim", "verdict", "published"])
def test_entry_missing_required_field(site, run, good, field):
    text = "".join(
        line for line in entry_text().splitlines(keepends=True) if not line.startswith(f"{field}:")
    )
    site.write("content/entries/x.md", text)
    err = fails(site, run, good)
    found = problem(err, f"content/entries/x.md:1: missing required field '{field}'")
    assert found.hint == f"add a line '{field}: …'"
    assert len(errors(err)) == 1


def test_entry_required_field_present_but_empty(site, run, good):
    site.entry("x", title="")
    err = fails(site, run, good)
    assert problem(err, "content/entries/x.md:2: required field 'title' is empty").source == (
        "title:"
    )


def test_entry_with_only_empty_front_matter_reports_every_required_field(site, run, good):
    site.write("content/entries/x.md", "---\n---\n\nBody.\n")
    err = fails(site, run, good)
    assert [p.headline for p in errors(err)] == [
        f"content/entries/x.md:1: missing required field '{field}'"
        for field in ("title", "claim", "verdict", "published")
    ]


def test_company_without_name(site, run, good):
    site.write("content/companies/tesla.md", "---\nindustry: Automotive\n---\n\nCars.\n")
    err = fails(site, run, good)
    found = problem(err, "content/companies/tesla.md:1: missing required field 'name'")
    assert found.hint == "add a line 'name: …'"
    assert len(errors(err)) == 1


def test_page_without_title(site, run, good):
    site.write("content/pages/about.md", "---\nmenu: 1\n---\n\nWho we are.\n")
    err = fails(site, run, good)
    found = problem(err, "content/pages/about.md:1: missing required field 'title'")
    assert found.hint == "add a line 'title: …'"


# -- field values ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("2020-13-45", "'published' is not a valid date: '2020-13-45'"),
        ("yesterday", "'published' is not a valid date: 'yesterday'"),
        ("2020-12-15T25:00:00", "'published' is not a valid date: '2020-12-15T25:00:00'"),
        ("42", "'published' must be a date, not a number"),
        ("20201215", "'published' must be a date, not a number"),
        ("[2020-12-15]", "'published' must be a date, not a list"),
    ],
)
def test_bad_published_date(site, run, good, value, message):
    site.entry("x", published=value)
    err = fails(site, run, good)
    found = problem(err, f"content/entries/x.md:5: {message}")
    assert found.hint == DATE_HINT
    assert found.source == f"published: {value}"


def test_bad_dates_in_other_fields(site, run, good):
    site.entry(
        "x",
        extra="""
        claim_date: 2020-02-30
        updated: soon
        corrections:
          - {date: 16 December 2020, type: update, note: Added a response.}
        """,
    )
    err = fails(site, run, good)
    assert [p.headline for p in errors(err)] == [
        "content/entries/x.md:7: 'claim_date' is not a valid date: '2020-02-30'",
        "content/entries/x.md:8: 'updated' is not a valid date: 'soon'",
        "content/entries/x.md:10: 'corrections[1].date' is not a valid date: '16 December 2020'",
    ]


@pytest.mark.parametrize(
    ("verdict", "guess"),
    [("flase", "false"), ("Mostly True", "mostly-true"), ("misleadng", "misleading")],
)
def test_unknown_verdict_suggests_the_closest(site, run, good, verdict, guess):
    site.entry("x", verdict=verdict)
    err = fails(site, run, good)
    found = problem(err, f"content/entries/x.md:4: unknown verdict '{verdict}' {KNOWN_VERDICTS}")
    assert found.hint == f"did you mean '{guess}'?"
    assert found.source == f"verdict: {verdict}"


def test_unknown_verdict_without_a_close_one(site, run, good):
    site.entry("x", verdict="pants-on-fire")
    err = fails(site, run, good)
    found = problem(
        err, f"content/entries/x.md:4: unknown verdict 'pants-on-fire' {KNOWN_VERDICTS}"
    )
    assert found.hint is None


def test_unknown_company_in_a_flow_list(site, run, good):
    site.entry("x", companies="[BYD, Xiaomy]")
    err = fails(site, run, good)
    found = problem(err, "content/entries/x.md:6: unknown company 'Xiaomy'")
    assert found.hint == "did you mean 'Xiaomi'? To add it, run: factsite new company \"Xiaomy\""
    assert found.source == "companies: [BYD, Xiaomy]"


def test_unknown_company_in_a_block_list_points_at_its_item(site, run, good):
    site.entry("x", companies="", extra="- BYD\n- BYD Autos\n- Acme Food")
    err = fails(site, run, good)
    autos = problem(err, "content/entries/x.md:8: unknown company 'BYD Autos'")
    assert autos.hint == (
        "did you mean 'BYD Auto'? To add it, run: factsite new company \"BYD Autos\""
    )
    assert autos.source == "- BYD Autos"
    food = problem(err, "content/entries/x.md:9: unknown company 'Acme Food'")
    assert food.hint == (
        "did you mean 'Acme Foods'? To add it, run: factsite new company \"Acme Food\""
    )
    assert len(errors(err)) == 2


def test_an_item_after_one_that_is_not_text_is_still_pointed_at(site, run, good):
    """The item that is not text is left out; the items after it keep their own lines."""
    site.entry("x", companies="", extra="- [BYD]\n- BYD Autos")
    err = fails(site, run, good)
    problem(err, "content/entries/x.md:7: 'companies[1]' must be text, not a list")
    autos = problem(err, "content/entries/x.md:8: unknown company 'BYD Autos'")
    assert autos.source == "- BYD Autos"
    assert len(errors(err)) == 2


def test_unknown_company_as_a_single_string_with_nothing_close(site, run, good):
    site.entry("x", companies="Kestrel Airlines")
    err = fails(site, run, good)
    found = problem(err, "content/entries/x.md:6: unknown company 'Kestrel Airlines'")
    assert found.hint == 'To add it, run: factsite new company "Kestrel Airlines"'


def test_duplicate_slug_from_file_names_names_both_files(site, run, good):
    site.write("content/entries/2021/2021-01-01-good.md", entry_text(title="Another"))
    err = fails(site, run, good)
    found = problem(
        err,
        "content/entries/2021/2021-01-01-good.md:1: duplicate slug 'good': "
        f"{GOOD} has the same slug",
    )
    assert found.hint == "give one of them a different 'slug:' or file name"
    assert len(errors(err)) == 1


def test_duplicate_slug_from_slug_field_points_at_the_field(site, run, good):
    site.entry("other", extra="slug: good")
    err = fails(site, run, good)
    found = problem(
        err, f"content/entries/other.md:7: duplicate slug 'good': {GOOD} has the same slug"
    )
    assert found.source == "slug: good"


@pytest.mark.parametrize(
    ("name", "extra", "message", "hint"),
    [
        ("Bad_Name", "", "1: slug 'Bad_Name' is not a plain slug", "use 'bad-name'"),
        (
            "2020-12-15-Tesla Cars",
            "",
            "1: slug 'Tesla Cars' is not a plain slug",
            "use 'tesla-cars'",
        ),
        ("ok", "slug: Not OK", "7: slug 'Not OK' is not a plain slug", "use 'not-ok'"),
        ("ok", "slug: café-claim", "7: slug 'café-claim' is not a plain slug", "use 'cafe-claim'"),
        ("ok", "slug: a--b", "7: slug 'a--b' is not a plain slug", "use 'a-b'"),
    ],
)
def test_entry_slug_not_plain(site, run, good, name, extra, message, hint):
    path = site.entry(name, extra=extra)
    err = fails(site, run, good)
    rel = path.relative_to(site.root).as_posix()
    found = problem(err, f"{rel}:{message} (lowercase a-z, 0-9, '-')")
    assert found.hint == hint


def test_company_file_name_not_plain(site, run, good):
    site.write("content/companies/Tesla_Motors.md", "---\nname: Tesla\n---\n")
    err = fails(site, run, good)
    found = problem(
        err,
        "content/companies/Tesla_Motors.md:1: company file name 'Tesla_Motors.md' "
        "is not a plain slug",
    )
    assert found.hint == "rename it to 'tesla-motors.md' (lowercase a-z, 0-9, '-')"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (
            "sources:\n  - ftp://example.org/report.pdf",
            "8: 'sources[1]' must be an absolute http(s) URL, not 'ftp://example.org/report.pdf'",
        ),
        (
            "sources:\n  - https://ok.example.org/\n  - {title: Memo, url: 'javascript:alert(1)'}",
            "9: 'sources[2].url' must be an absolute http(s) URL, not 'javascript:alert(1)'",
        ),
        (
            "sources:\n  - {url: /reports/1, archive_url: https://archive.example.org/1}",
            "8: 'sources[1].url' must be an absolute http(s) URL, not '/reports/1'",
        ),
        (
            "sources:\n  - {url: https://ok.example.org/, archive_url: 'file:///etc/passwd'}",
            "8: 'sources[1].archive_url' must be an absolute http(s) URL, not 'file:///etc/passwd'",
        ),
        (
            "claim_urls: [mailto:someone@example.org]",
            "7: 'claim_urls[1]' must be an absolute http(s) URL, not 'mailto:someone@example.org'",
        ),
    ],
)
def test_source_urls_must_be_http(site, run, good, extra, message):
    site.entry("x", extra=extra)
    err = fails(site, run, good)
    assert problem(err, f"content/entries/x.md:{message}").hint == URL_HINT
    assert len(errors(err)) == 1


@pytest.mark.parametrize(("kind", "hint"), [("erratum", None), ("updte", "did you mean 'update'?")])
def test_correction_with_unknown_type(site, run, good, kind, hint):
    site.entry("x", extra=f"corrections:\n  - {{date: 2020-12-16, type: {kind}, note: Fixed.}}")
    err = fails(site, run, good)
    found = problem(
        err,
        f"content/entries/x.md:8: unknown correction type '{kind}' "
        "(known: correction, update, clarification)",
    )
    assert found.hint == hint


# -- site.yaml -------------------------------------------------------------------------

VERDICTS_YAML = """\
verdicts:
  - {id: "true", label: "True", rating: 2, color: "#1a7f37"}
  - {id: "false", label: "False", rating: 1, color: "#cf222e"}
"""


@pytest.mark.parametrize(
    ("text", "message", "hint"),
    [
        pytest.param(
            SITE_YAML.replace("description: Test site.", "description: Test: site."),
            "4: YAML syntax error: mapping values are not allowed in this context",
            None,
            id="syntax",
        ),
        pytest.param(
            SITE_YAML + "verdicts: [{id: a, label: A\n",
            "8: YAML syntax error: did not find expected ',' or '}'",
            "a quote or bracket opened on line 7 may not be closed",
            id="unclosed-flow",
        ),
        pytest.param(
            "- title: Test Desk\n",
            "1: expected a mapping of 'key: value' lines, got a list",
            None,
            id="not-a-mapping",
        ),
        pytest.param(
            SITE_YAML.replace("https://checks.example.org/", "checks.example.org"),
            "2: 'base_url' must be an absolute http(s) URL, not 'checks.example.org'",
            "for example https://factdesk.example.org/",
            id="base-url-no-scheme",
        ),
        pytest.param(
            SITE_YAML.replace("https://checks.example.org/", "ftp://checks.example.org/"),
            "2: 'base_url' must be an absolute http(s) URL, not 'ftp://checks.example.org/'",
            "for example https://factdesk.example.org/",
            id="base-url-ftp",
        ),
        pytest.param(
            SITE_YAML.replace("base_url: https://checks.example.org/\n", ""),
            "1: missing required field 'base_url'",
            "add a line 'base_url: …'",
            id="base-url-missing",
        ),
        pytest.param(
            SITE_YAML + "timezone: Asia/Shangai\n",
            "7: unknown timezone 'Asia/Shangai'",
            "did you mean 'Asia/Shanghai'?",
            id="timezone-typo",
        ),
        pytest.param(
            SITE_YAML + "timezone: Mars/Olympus\n",
            "7: unknown timezone 'Mars/Olympus'",
            "use an IANA name like Europe/Paris",
            id="timezone-unknown",
        ),
        pytest.param(
            SITE_YAML + VERDICTS_YAML.replace('"#cf222e"', "red"),
            "9: verdict color must be a hex colour like '#cf222e', not 'red'",
            None,
            id="verdict-colour-name",
        ),
        pytest.param(
            SITE_YAML + VERDICTS_YAML.replace('"#1a7f37"', '"#1a7f3"'),
            "8: verdict color must be a hex colour like '#cf222e', not '#1a7f3'",
            None,
            id="verdict-colour-short",
        ),
        pytest.param(
            SITE_YAML + VERDICTS_YAML.replace("rating: 2", "rating: two"),
            "8: verdict rating must be a whole number ≥ 1, not 'two'",
            "leave 'rating' out for a verdict without one",
            id="rating-text",
        ),
        pytest.param(
            SITE_YAML + VERDICTS_YAML.replace("rating: 2", "rating: 2.5"),
            "8: verdict rating must be a whole number ≥ 1, not 2.5",
            "leave 'rating' out for a verdict without one",
            id="rating-float",
        ),
        pytest.param(
            SITE_YAML + VERDICTS_YAML.replace("rating: 1", "rating: 0"),
            "9: verdict rating must be a whole number ≥ 1, not 0",
            "leave 'rating' out for a verdict without one",
            id="rating-zero",
        ),
        pytest.param(
            SITE_YAML.replace("per_page: 3", "per_page: ten"),
            "6: 'per_page' must be a whole number ≥ 1, not 'ten'",
            None,
            id="per-page-text",
        ),
        pytest.param(
            ("title: Café\n" + SITE_YAML.split("\n", 1)[1]).encode("latin-1"),
            "1: file is not valid UTF-8 (byte 0xe9)",
            "save the file with UTF-8 encoding",
            id="latin-1",
        ),
    ],
)
def test_broken_site_yaml(site, run, good, text, message, hint):
    site.write("content/site.yaml", text)
    err = fails(site, run, good)
    found = problem(err, f"content/site.yaml:{message}")
    assert found.hint == hint
    assert len(errors(err)) == 1


def test_missing_site_yaml(site, run, good):
    site.remove("content/site.yaml")
    err = fails(site, run, good)
    found = problem(err, "content/site.yaml: site settings file is missing")
    assert found.hint == (
        "create content/site.yaml with at least 'title:' and 'base_url:' (or run 'factsite init')"
    )


# -- templates -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("template", "message", "source"),
    [
        pytest.param(
            "<!doctype html>\n<h1>{{ entry.title }}</h1>\n<p>{{ entry.claim ) }}</p>\n",
            "3: template error: unexpected ')'",
            "<p>{{ entry.claim ) }}</p>",
            id="syntax",
        ),
        pytest.param(
            "<!doctype html>\n<h1>{{ entry.title }}</h1>\n{% if entry.claim %}\n<p>x</p>\n",
            "4: template error: Unexpected end of template. Jinja was looking for the following "
            "tags: 'elif' or 'else' or 'endif'. The innermost block that needs to be closed "
            "is 'if'.",
            "<p>x</p>",
            id="unclosed-block",
        ),
        pytest.param(
            "<!doctype html>\n<h1>{{ entry.title }}</h1>\n<p>{{ no_such_thing }}</p>\n",
            "3: template error: undefined value: 'no_such_thing' is undefined",
            "<p>{{ no_such_thing }}</p>",
            id="undefined-variable",
        ),
        pytest.param(
            "<!doctype html>\n\n<h1>{{ entry.title }}</h1>\n<p>{{ entry.no_such_field }}</p>\n",
            "4: template error: undefined value: 'generator.model.Entry object' "
            "has no attribute 'no_such_field'",
            "<p>{{ entry.no_such_field }}</p>",
            id="undefined-attribute",
        ),
    ],
)
def test_broken_site_template(site, run, good, template, message, source):
    site.write("templates/check.html", template)
    err = fails(site, run, good)
    found = problem(err, f"templates/check.html:{message} (while rendering /checks/good/)")
    assert found.source == source
    assert len(errors(err)) == 1


def test_template_error_in_a_first_build_leaves_no_output(site, run):
    site.entry("2020-12-15-good")
    site.write("templates/check.html", "<p>{{ no_such_thing }}</p>\n")
    result = run("build", str(site.root))
    assert result.code == 1
    no_traceback(result)
    problem(
        result.err,
        "templates/check.html:1: template error: undefined value: 'no_such_thing' is undefined "
        "(while rendering /checks/good/)",
    )
    assert not site.out.exists()


# -- warnings: exit 0, or 1 under --strict ---------------------------------------------


def test_unknown_entry_key_is_a_warning(site, run, good):
    site.entry("x", extra="verdcit: true")
    result = run("build", str(site.root))
    assert result.code == 0, result.err
    no_traceback(result)
    found = problem(result.err, "content/entries/x.md:7: warning: unknown entry field 'verdcit'")
    assert found.hint == "did you mean 'verdict'?"
    assert found.source == "verdcit: true"
    assert errors(result.err) == []
    assert (site.out / "checks" / "x" / "index.html").is_file()
    assert "warning(s)" in result.out


def test_unknown_key_fails_under_strict(site, run, good):
    site.entry("x", extra="verdcit: true")
    site.write("content/companies/xiaomi.md", "---\nname: Xiaomi\nwebsit: https://mi.com\n---\n")
    err = fails(site, run, good, "--strict")
    assert err.splitlines()[-1] == (
        "factsite: build failed with 2 warning(s) under --strict; the previous output is unchanged"
    )
    websit = problem(err, "content/companies/xiaomi.md:3: warning: unknown company field 'websit'")
    assert websit.hint == "did you mean 'website'?"
    problem(err, "content/entries/x.md:7: warning: unknown entry field 'verdcit'")


def test_unknown_site_yaml_key_is_a_warning(site, run, good):
    site.write("content/site.yaml", SITE_YAML + "timezon: Asia/Shanghai\n")
    result = run("build", str(site.root))
    assert result.code == 0, result.err
    found = problem(result.err, "content/site.yaml:7: warning: unknown site.yaml field 'timezon'")
    assert found.hint == "did you mean 'timezone'?"

    before = site.snapshot()
    site.entry("x")  # the strict build must not publish it
    err = fails(site, run, before, "--strict")
    problem(err, "content/site.yaml:7: warning: unknown site.yaml field 'timezon'")
    assert errors(err) == []


def test_unknown_nested_keys_are_warnings(site, run, good):
    site.write(
        "content/site.yaml",
        SITE_YAML + "publisher: {name: Desk, logo_url: /x.png}\n"
        "verdicts:\n  - {id: 'false', label: 'False', colour: '#cf222e'}\n",
    )
    site.entry(
        "x",
        extra="sources:\n  - {title: A, link: https://a.example.org/, url: https://a.example.org/}",
    )
    result = run("build", str(site.root))
    assert result.code == 0, result.err
    assert (
        problem(result.err, "content/site.yaml:7: warning: unknown publisher field 'logo_url'").hint
        == "did you mean 'logo'?"
    )
    assert (
        problem(result.err, "content/site.yaml:9: warning: unknown verdict field 'colour'").hint
        == "did you mean 'color'?"
    )
    problem(result.err, "content/entries/x.md:8: warning: unknown source field 'link'")


# -- many warnings of one kind: the first ten, then a count ----------------------------

NO_CLAIM_URLS = "ClaimReview: 'itemReviewed' has no 'appearance' or 'firstAppearance'"
LONG_CLAIM = re.compile(r"ClaimReview: 'claimReviewed' is \d+ characters")


def archive(site, old: int, long: int, unknown: int) -> None:
    """Checks as a migrated archive has them: ``old`` without claim URLs, ``long`` with
    claims of different lengths over 75 characters, ``unknown`` each with its own
    unknown field."""
    for n in range(old):
        site.write(f"content/entries/2019-01-{n + 1:02d}-old-{n}.md", broken_entry(
            f"title: Old {n}", "claim: Said", "verdict: false", "published: 2019-01-01",
            "companies: [BYD]", "claimant: Someone"))
    for n in range(long):
        site.entry(f"2019-02-{n + 1:02d}-long-{n}", title=f"Long {n}", claim="x" * (76 + n))
    for n in range(unknown):
        site.entry(f"2019-03-{n + 1:02d}-field-{n}", title=f"Field {n}", extra=f"legacy_{n}: 1")


def warning_lines(err: str, pattern: str | re.Pattern[str]) -> list[str]:
    return [line for line in err.splitlines()
            if ": warning: " in line and re.search(pattern, line)]


def test_repeated_warnings_are_counted_past_ten_of_a_kind(site, run, good):
    archive(site, old=13, long=12, unknown=11)
    every = run("build", str(site.root), "--all-warnings")
    assert every.code == 0, every.err
    assert len(warning_lines(every.err, NO_CLAIM_URLS)) == 13
    assert len(warning_lines(every.err, LONG_CLAIM)) == 12
    assert len(warning_lines(every.err, "unknown entry field 'legacy_")) == 11
    assert not any(line.startswith("factsite: ") for line in every.err.splitlines())
    assert "36 warning(s)" in every.out

    result = run("build", str(site.root))
    assert result.code == 0, result.err
    assert "36 warning(s)" in result.out  # the count is of all of them
    # The first ten of a kind, as found; claims of other lengths are the same kind,
    # fields of other names are not.
    assert warning_lines(result.err, NO_CLAIM_URLS) == warning_lines(every.err, NO_CLAIM_URLS)[:10]
    assert warning_lines(result.err, LONG_CLAIM) == warning_lines(every.err, LONG_CLAIM)[:10]
    assert len(warning_lines(result.err, "unknown entry field 'legacy_")) == 11
    # Then a count for each kind left out, the commonest first, each named by the first
    # one left out.
    lines = result.err.splitlines()
    start = lines.index("factsite: 5 more warning(s) not shown (only the first 10 of each "
                        "kind are; --all-warnings prints every one):")
    first_old = warning_lines(every.err, NO_CLAIM_URLS)[10].replace("warning: ", "")
    first_long = warning_lines(every.err, LONG_CLAIM)[10].replace("warning: ", "")
    assert lines[start + 1:] == [f"  3 like {first_old}", f"  2 like {first_long}"]


def test_errors_are_never_counted_away(site, run, good):
    for n in range(12):
        site.entry(f"e{n}", verdict="flase")
    err = fails(site, run, good)
    assert len(errors(err)) == 12
    assert "not shown" not in err


def test_strict_counts_repeated_warnings_too(site, run, good):
    archive(site, old=12, long=0, unknown=0)
    every = run("check", str(site.root), "--all-warnings")
    assert len(warning_lines(every.err, NO_CLAIM_URLS)) == 12
    err = fails(site, run, good, "--strict")
    assert warning_lines(err, NO_CLAIM_URLS) == warning_lines(every.err, NO_CLAIM_URLS)[:10]
    first_hidden = warning_lines(every.err, NO_CLAIM_URLS)[10].replace("warning: ", "")
    assert err.splitlines()[-3:] == [
        "factsite: 2 more warning(s) not shown (only the first 10 of each kind are; "
        "--all-warnings prints every one):",
        f"  2 like {first_hidden}",
        "factsite: build failed with 12 warning(s) under --strict; the previous output is "
        "unchanged",
    ]
    assert run("build", str(site.root), "-q", "--strict").err == err  # fatal: shown
    assert run("build", str(site.root), "-q").err == ""  # -q still hides them all


def test_a_site_can_ignore_a_claimreview_recommendation(site, run, good, tmp_path):
    """An archive without claim URLs on its old checks: 'ignore_warnings' stops CR166
    from being reported (and failing --strict), on rendered and kept pages alike, and
    the build says how many it did not show."""
    archive(site, old=12, long=2, unknown=0)
    site.write("content/site.yaml", SITE_YAML + "ignore_warnings: [cr166]\n")
    note = "note: ClaimReview warnings not shown, as 'ignore_warnings' in site.yaml asks: CR166 12"
    result = run("build", str(site.root))
    assert result.code == 0, result.err
    assert warning_lines(result.err, NO_CLAIM_URLS) == []
    assert len(warning_lines(result.err, LONG_CLAIM)) == 2  # other rules still apply
    assert note in result.out.splitlines() and "2 warning(s)" in result.out
    site.entry("2019-02-01-long-0", title="Long 0", claim="Short now")  # the others kept
    again = run("build", str(site.root), "--strict")
    assert again.code == 1 and warning_lines(again.err, NO_CLAIM_URLS) == []
    site.entry("2019-02-02-long-1", title="Long 1", claim="Short too")
    strict = run("build", str(site.root), "--strict")
    assert strict.code == 0, strict.err
    assert strict.err == "" and note in strict.out.splitlines()
    unchanged = run("build", str(site.root), "--strict")  # nothing changed: repeated
    assert unchanged.err == "" and note in unchanged.out.splitlines()


def test_only_claimreview_warning_rules_can_be_ignored(site, run, good):
    site.write("content/site.yaml", SITE_YAML + "ignore_warnings: [CR166, CR16, CR102]\n")
    err = fails(site, run, good)
    known = "only these can be ignored: CR121, CR122, CR162, CR164, CR166"
    assert problem(err, f"content/site.yaml:7: 'CR16' is not a ClaimReview warning rule; "
                        f"{known}").hint.startswith("did you mean 'CR16")
    problem(err, f"content/site.yaml:7: 'CR102' is not a ClaimReview warning rule; {known}")
    assert len(errors(err)) == 2


# -- unsafe Markdown links -------------------------------------------------------------


def unsafe_attributes(soup) -> list[str]:
    """Every attribute value in the page that carries a script or data URL."""
    return [
        value
        for tag in soup.find_all(True)
        for value in tag.attrs.values()
        if isinstance(value, str) and re.match(r"\s*(javascript|vbscript|data):", value, re.I)
    ]


def test_unsafe_link_is_dropped_and_warned_about(site, run, good):
    site.entry("x", body="Hello [x](javascript:alert(1)) there.")
    result = run("build", str(site.root))
    assert result.code == 0, result.err
    found = problem(
        result.err,
        "content/entries/x.md:11: warning: link to 'javascript:alert(1)' dropped: "
        "only http, https, mailto and relative links are allowed",
    )
    assert found.source == "Hello [x](javascript:alert(1)) there."
    page = site.html("checks/x/index.html")
    assert unsafe_attributes(page) == []
    assert "there." in page.get_text()


def test_unsafe_links_each_warned_once_on_their_own_line(site, run, good):
    body = (
        "First paragraph.\n\n"
        "An image ![pic](javascript:alert(1)) here.\n\n"
        'A quoted [call](JavaScript:alert("hi")) there.\n\n'
        "Encoded [e](&#106;avascript:void(0)) and [d](data:text/html;base64,PHNjcmlwdD4=).\n\n"
        "A [safe link](https://example.org/) and a [relative one](/about/).\n"
    )
    site.entry("x", body=body)
    result = run("build", str(site.root))
    assert result.code == 0, result.err
    dropped = "dropped: only http, https, mailto and relative links are allowed"
    assert [p.headline for p in problems(result.err) if " link to " in p.headline] == [
        f"content/entries/x.md:13: warning: link to 'javascript:alert(1)' {dropped}",
        f"content/entries/x.md:15: warning: link to 'JavaScript:alert(%22hi%22)' {dropped}",
        f"content/entries/x.md:17: warning: link to 'javascript:void(0)' {dropped}",
        f"content/entries/x.md:17: warning: link to 'data:text/html;base64,PHNjcmlwdD4=' {dropped}",
    ]
    page = site.html("checks/x/index.html")
    assert unsafe_attributes(page) == []
    hrefs = {a["href"] for a in page.find_all("a", href=True)}
    assert {"https://example.org/", "/about/"} <= hrefs


def test_unsafe_link_fails_under_strict(site, run, good):
    site.write(
        "content/pages/about.md", "---\ntitle: About\n---\n\nMail [us](javascript:alert(1)).\n"
    )
    err = fails(site, run, good, "--strict")
    problem(
        err,
        "content/pages/about.md:5: warning: link to 'javascript:alert(1)' dropped: "
        "only http, https, mailto and relative links are allowed",
    )


# -- one run reports everything --------------------------------------------------------


def test_all_errors_of_several_files_in_one_run(site, run, good):
    site.entry("a-verdict", verdict="flase")
    site.entry("b-date-and-company", published="yesterday", companies="[BYD, Xiaomy]")
    site.write("content/entries/c-yaml.md", broken_entry("title: A", "claim: b: c"))
    site.write("content/entries/d-latin.md", entry_text(title="Café").encode("latin-1"))
    site.entry("e-source", extra="sources: [ftp://example.org/x]\nverdcit: false")
    site.write("content/companies/nameless.md", "---\nindustry: Food\n---\n")
    site.write("content/pages/about.md", "---\nmenu: 1\n---\n")
    err = fails(site, run, good)
    assert [p.headline for p in errors(err)] == [
        "content/companies/nameless.md:1: missing required field 'name'",
        f"content/entries/a-verdict.md:4: unknown verdict 'flase' {KNOWN_VERDICTS}",
        "content/entries/b-date-and-company.md:5: 'published' is not a valid date: 'yesterday'",
        "content/entries/b-date-and-company.md:6: unknown company 'Xiaomy'",
        "content/entries/c-yaml.md:3: YAML syntax error: mapping values are not allowed in "
        "this context",
        "content/entries/d-latin.md:2: file is not valid UTF-8 (byte 0xe9)",
        "content/entries/e-source.md:7: 'sources[1]' must be an absolute http(s) URL, "
        "not 'ftp://example.org/x'",
        "content/pages/about.md:1: missing required field 'title'",
    ]
    problem(err, "content/entries/e-source.md:8: warning: unknown entry field 'verdcit'")
    assert err.splitlines()[-1] == (
        "factsite: build failed with 8 error(s); the previous output is unchanged"
    )


# -- accepted input --------------------------------------------------------------------


def test_crlf_and_bom_are_accepted(site, run, good):
    crlf = entry_text(title="Windows line endings").replace("\n", "\r\n")
    site.write("content/entries/crlf.md", crlf.encode())
    site.write("content/entries/bom.md", b"\xef\xbb\xbf" + entry_text(title="With BOM").encode())
    site.write("content/entries/cr.md", entry_text(title="Old Mac").replace("\n", "\r").encode())
    site.write(
        "content/companies/tesla.md", b"\xef\xbb\xbf---\r\nname: Tesla\r\n---\r\n\r\nCars.\r\n"
    )
    site.write("content/site.yaml", b"\xef\xbb\xbf" + SITE_YAML.replace("\n", "\r\n").encode())
    result = run("build", str(site.root))
    assert result.code == 0, result.err
    assert errors(result.err) == []
    assert not [p for p in problems(result.err) if "unknown" in p.headline], result.err
    for slug, title in [("crlf", "Windows line endings"), ("bom", "With BOM"), ("cr", "Old Mac")]:
        assert site.html(f"checks/{slug}/index.html").h1.get_text(strip=True) == title
    assert (site.out / "companies" / "tesla" / "index.html").is_file()


def test_line_numbers_are_right_in_crlf_and_bom_files(site, run, good):
    crlf = entry_text(verdict="flase", companies="", extra="- BYD\n- Nokia").replace("\n", "\r\n")
    site.write("content/entries/crlf.md", crlf.encode())
    site.write(
        "content/entries/crlf-yaml.md",
        broken_entry("title: A", "claim: b: c").replace("\n", "\r\n").encode(),
    )
    bom = b"\xef\xbb\xbf" + entry_text(published="2020-13-45").replace("\n", "\r\n").encode()
    site.write("content/entries/bom.md", bom)
    err = fails(site, run, good)
    assert [(p.headline, p.source) for p in errors(err)] == [
        (
            "content/entries/bom.md:5: 'published' is not a valid date: '2020-13-45'",
            "published: 2020-13-45",
        ),
        (
            "content/entries/crlf-yaml.md:3: YAML syntax error: mapping values are not allowed "
            "in this context",
            "claim: b: c",
        ),
        (f"content/entries/crlf.md:4: unknown verdict 'flase' {KNOWN_VERDICTS}", "verdict: flase"),
        ("content/entries/crlf.md:8: unknown company 'Nokia'", "- Nokia"),
    ]


def links_to(soup, path: str) -> bool:
    return any(a["href"].rstrip("/").endswith(path) for a in soup.find_all("a", href=True))


@pytest.mark.parametrize("spelling", ["true", "True", "TRUE", "'true'"])
def test_unquoted_verdict_true(site, run, good, spelling):
    site.entry("t", verdict=spelling)
    result = run("build", str(site.root))
    assert result.code == 0, result.err
    assert links_to(site.html("verdicts/true/index.html"), "checks/t")


@pytest.mark.parametrize("spelling", ["false", "False", "FALSE", '"false"'])
def test_unquoted_verdict_false(site, run, good, spelling):
    site.entry("f", verdict=spelling)
    result = run("build", str(site.root))
    assert result.code == 0, result.err
    assert links_to(site.html("verdicts/false/index.html"), "checks/f")


def test_companies_resolve_by_slug_name_or_alias_in_any_case(site, run):
    cases = {
        "by-alias-cjk": ("比亚迪", "byd"),
        "by-alias-lower": ("byd auto", "byd"),
        "by-name-repeated": ("[BYD, byd, 比亚迪]", "byd"),
        "by-name-upper": ("XIAOMI", "xiaomi"),
        "by-alias-xiaomi": ("小米", "xiaomi"),
        "by-name-spaces": ("acme foods", "acme"),
        "by-slug": ("Acme", "acme"),
    }
    for slug, (companies, _) in cases.items():
        site.entry(slug, companies=companies)
    result = run("build", str(site.root))
    assert result.code == 0, result.err
    assert errors(result.err) == []
    for slug, (_, company) in cases.items():
        assert links_to(site.html(f"checks/{slug}/index.html"), f"companies/{company}"), slug
        assert links_to(site.html(f"companies/{company}/index.html"), f"checks/{slug}"), slug


# -- output formats and the real process -----------------------------------------------


def test_github_format(site, run, good, monkeypatch):
    monkeypatch.chdir(site.root)  # Actions runs at the repository root
    site.entry("x", verdict="flase", extra="verdcit: false")
    site.write("content/pages/about.md", "---\nmenu: 1\n---\n")
    for command in ("build", "check"):
        result = run(command, str(site.root), "--format", "github")
        assert result.code == 1
        no_traceback(result)
        *annotations, summary = result.err.splitlines()
        assert all(line.startswith(("::error ", "::warning ")) for line in annotations)
        assert [line for line in annotations if line.startswith("::error ")] == [
            "::error file=content/entries/x.md,line=4::unknown verdict 'flase' "
            f"{KNOWN_VERDICTS} (did you mean 'false'?)",
            "::error file=content/pages/about.md,line=1::missing required field 'title' "
            "(add a line 'title: …')",
        ]
        assert (
            "::warning file=content/entries/x.md,line=7::unknown entry field 'verdcit' "
            "(did you mean 'verdict'?)"
        ) in annotations
        assert summary.startswith(f"factsite: {command} failed with 2 error(s)")
    assert site.snapshot() == good


def test_github_format_counts_repeated_warnings(site, run, good, monkeypatch):
    """GitHub shows only ten warning annotations a step: the rest are counted in the log."""
    monkeypatch.chdir(site.root)
    archive(site, old=12, long=0, unknown=0)
    result = run("build", str(site.root), "--format", "github")
    assert result.code == 0, result.err
    *annotations, summary, count = result.err.splitlines()
    assert len(annotations) == 10
    assert all(line.startswith("::warning file=content/entries/2019-01-") for line in annotations)
    assert summary.startswith("factsite: 2 more warning(s) not shown")
    like = re.fullmatch(r"  2 like (content/entries/2019-01-[^:]+):1: (.*)", count)
    assert like and like[2].startswith(NO_CLAIM_URLS)
    assert not any(f"file={like[1]}," in line for line in annotations)  # the first not shown


def test_github_format_paths_are_relative_to_the_working_folder(site, run, good, monkeypatch):
    """A site in a sub-folder of the repository: annotations must name repository paths."""
    monkeypatch.chdir(site.root.parent)
    site.entry("x", verdict="flase")
    result = run("check", site.root.name, "--format", "github")
    assert result.code == 1
    assert result.err.splitlines()[0].startswith(
        f"::error file={site.root.name}/content/entries/x.md,line=4::unknown verdict 'flase'"
    )


def test_a_rendered_page_warning_names_its_file_from_inside_the_site(site, run, good,
                                                                     monkeypatch):
    """A warning found in a rendered page (its ClaimReview) names the entry's file as every
    other diagnostic does, whatever folder factsite runs from."""
    site.entry("2021-01-01-long", title="Long", claim="A claim " * 12)
    for folder in (site.root, site.root / "content", site.root / "content" / "entries"):
        monkeypatch.chdir(folder)
        result = run("build", str(site.root), "--no-cache")
        assert result.code == 0, result.err
        warnings = [line for line in result.err.splitlines() if ": warning: " in line]
        assert warnings and all(
            line.startswith("content/entries/2021-01-01-long.md:") for line in warnings
        ), warnings


def test_github_format_without_a_line(site, run, good, monkeypatch):
    monkeypatch.chdir(site.root)
    site.remove("content/site.yaml")
    result = run("check", str(site.root), "--format", "github")
    assert result.code == 1
    assert result.err.splitlines()[0] == (
        "::error file=content/site.yaml::site settings file is missing (create content/site.yaml "
        "with at least 'title:' and 'base_url:' (or run 'factsite init'))"
    )


def factsite(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run ``python -m generator`` as a separate process, clock pinned."""
    return subprocess.run(
        [sys.executable, "-m", "generator", *args],
        cwd=REPO,
        env={**os.environ, "FACTSITE_NOW": NOW},
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_subprocess_on_broken_site_exits_1_without_traceback(site, good):
    site.entry("x", verdict="flase")
    site.write("content/entries/y.md", b"---\ntitle: Caf\xe9\n---\n")
    result = factsite("build", str(site.root))
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert f"content/entries/x.md:4: unknown verdict 'flase' {KNOWN_VERDICTS}" in lines
    assert "content/entries/y.md:2: file is not valid UTF-8 (byte 0xe9)" in lines
    assert lines[-1] == "factsite: build failed with 2 error(s); the previous output is unchanged"
    assert site.snapshot() == good


def test_yaml_alias_bomb_does_not_hang(site, good):
    """Nine levels of nine aliases each would be 9**9 nodes if every use were walked."""
    levels = ["l0: &l0 [x, x, x, x, x, x, x, x, x]"]
    levels += [f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]" for i in range(1, 10)]
    site.entry("x", extra="\n".join(levels))
    result = factsite("build", str(site.root), "--quiet", timeout=30)
    assert result.returncode == 0, result.stderr  # the unknown l0…l9 keys are warnings
    assert "Traceback" not in result.stderr


def test_claimreview_warnings_point_at_the_front_matter_line(site, run) -> None:
    """Page checks run long after loading; the entry keeps the line of each front matter
    field for their messages (the claim on line 3, a missing claimant at the file)."""
    site.entry("2021-01-01-long", title="Long", claim="BYD " + "and Xiaomi " * 10)
    site.write("content/entries/2021/2021-01-02-anonymous.md",
               "---\ntitle: Anonymous\nclaim: Short\nverdict: false\npublished: 2021-01-02\n"
               "companies: [BYD]\nclaim_urls: [https://social.example.com/p/2]\n---\n\nText.\n")
    result = run("build", str(site.root))
    assert result.code == 0, result.err
    assert "2021-01-01-long.md:3: warning: ClaimReview: 'claimReviewed'" in result.err
    assert "content/entries/2021/2021-01-02-anonymous.md:1: warning: ClaimReview: " \
        "'itemReviewed.author' is missing" in result.err
