"""Strict CI mode: warnings and links into nothing fail `build --strict` and `check`."""

from __future__ import annotations

import pytest


@pytest.fixture
def linked(site):
    """A site whose one check links to a missing page and a missing anchor."""
    site.entry("2021-01-01-one", title="One")
    site.entry(
        "2021-01-02-two",
        title="Two",
        body="See [the other check](../one/) and [its verdict](../one/#no-such-part).\n\n"
        "Also [a lost page](/checks/gone/) and [a good anchor](#what-we-found).\n\n"
        "## What we found\n\nText.",
    )
    return site


def test_plain_build_does_not_check_links(linked, run):
    result = run("build", str(linked.root))
    assert result.code == 0, result.err
    assert "broken link" not in result.err


@pytest.mark.parametrize("command", [["build", "--strict"], ["check"]])
def test_strict_fails_on_a_broken_link_and_anchor(linked, run, command):
    result = run(command[0], str(linked.root), *command[1:])
    assert result.code == 1
    lines = [line for line in result.err.splitlines() if "broken link" in line]
    assert lines == [
        "content/entries/2021-01-02-two.md:11: broken link to '../one/#no-such-part' on "
        "/checks/two/: no element with id 'no-such-part' on /checks/one/",
        "content/entries/2021-01-02-two.md:13: broken link to '/checks/gone/' on "
        "/checks/two/: no page at /checks/gone/",
    ]
    assert "Traceback" not in result.err


def test_strict_build_leaves_the_previous_output(linked, run):
    linked.remove("content/entries/2021-01-02-two.md")
    assert run("build", str(linked.root), "--strict").code == 0
    before = linked.snapshot()
    linked.entry("2021-01-02-two", title="Two", body="[lost](/checks/gone/)")
    assert run("build", str(linked.root), "--strict").code == 1
    assert linked.snapshot() == before


def test_strict_passes_a_clean_site_under_a_sub_path(site, run):
    site.write("content/site.yaml", "title: T\nbase_url: https://example.org/desk/\n")
    site.entry("2021-01-01-one", title="One", body="[home](/desk/) and [top](#top)")
    result = run("check", str(site.root))
    assert result.code == 0, result.err


def test_github_annotations_for_broken_links(linked, run, monkeypatch):
    monkeypatch.chdir(linked.root)
    result = run("check", ".", "--format", "github")
    assert result.code == 1
    assert (
        "::error file=content/entries/2021-01-02-two.md,line=13::broken link to '/checks/gone/' "
        "on /checks/two/: no page at /checks/gone/"
    ) in result.err.splitlines()
