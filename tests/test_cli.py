"""The ``factsite`` command line: init, new, check and build as an author runs them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from bs4 import BeautifulSoup
from conftest import REPO, entry_text

from generator import __version__


def tree(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` and its bytes (what a command must leave alone)."""
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def page(out: Path, relpath: str) -> BeautifulSoup:
    return BeautifulSoup((out / relpath).read_text(encoding="utf-8"), "html.parser")


def test_init_then_build(run, tmp_path):
    site = tmp_path / "desk"
    result = run("init", str(site))
    assert result.code == 0, result.err
    assert f"factsite build {site}" in result.out

    result = run("build", str(site))
    assert result.code == 0, result.err
    assert "warning" not in result.err
    out = site / "output"
    check = page(out, "checks/example-motors-giveaway/index.html")
    assert check.find("h1").get_text(strip=True).startswith("Did Example Motors")
    assert [a["href"] for a in check.select(".check-companies a")] == ["/companies/example-motors/"]
    company = page(out, "companies/example-motors/index.html")
    assert company.find("h1").get_text(strip=True) == "Example Motors"
    assert "/checks/example-motors-giveaway/" in [
        a["href"] for a in company.select(".check-list .card-title a")
    ]
    about = page(out, "about/index.html")
    assert about.find("h1").get_text(strip=True) == "About us"
    assert "/checks/example-motors-giveaway/" in [
        a["href"] for a in page(out, "index.html").select(".card-title a")
    ]


def test_init_refuses_a_folder_that_is_not_empty(run, tmp_path):
    site = tmp_path / "desk"
    site.mkdir()
    (site / "notes.txt").write_text("mine")
    result = run("init", str(site))
    assert result.code == 2
    assert "not empty" in result.err
    assert tree(site) == {"notes.txt": b"mine"}


def test_new_entry_writes_a_dated_draft_that_check_reports(site, run):
    result = run("new", "entry", "Some Title", "--site", str(site.root))
    assert result.code == 0, result.err
    # the pinned clock is 2026-01-01
    path = site.root / "content/entries/2026/2026-01-01-some-title.md"
    assert path.is_file()
    assert str(path) in result.out
    text = path.read_text(encoding="utf-8")
    assert 'title: "Some Title"' in text
    assert "draft: true" in text

    result = run("check", str(site.root))
    assert result.code == 1
    assert "content/entries/2026/2026-01-01-some-title.md" in result.err
    assert "required field 'claim' is empty" in result.err
    assert "required field 'verdict' is empty" in result.err
    assert "nothing was written" in result.err
    assert not site.out.exists()


def test_new_entry_once_filled_in_builds_as_a_draft(site, run):
    assert run("new", "entry", "Some Title", "--site", str(site.root)).code == 0
    path = site.root / "content/entries/2026/2026-01-01-some-title.md"
    text = path.read_text(encoding="utf-8")
    text = text.replace('claim: ""', "claim: Something was said", 1)
    text = text.replace('verdict: ""', "verdict: false", 1)
    text = text.replace("companies: []", "companies: [BYD]", 1)
    path.write_text(text, encoding="utf-8")

    result = run("build", str(site.root))
    assert result.code == 0, result.err
    assert not (site.out / "checks" / "some-title").exists()  # still a draft
    result = run("build", str(site.root), "--drafts")
    assert result.code == 0, result.err
    assert (site.out / "checks" / "some-title" / "index.html").is_file()


def test_new_company_then_an_entry_naming_it_builds(site, run):
    result = run("new", "company", "Acme Corp", "--site", str(site.root))
    assert result.code == 0, result.err
    path = site.root / "content/companies/acme-corp.md"
    assert path.is_file()
    assert 'name: "Acme Corp"' in path.read_text(encoding="utf-8")

    site.entry("2021-01-01-acme-claim", title="Acme claim", companies='["Acme Corp"]')
    result = run("build", str(site.root))
    assert result.code == 0, result.err
    check = page(site.out, "checks/acme-claim/index.html")
    assert [(a["href"], a.get_text()) for a in check.select(".check-companies a")] == [
        ("/companies/acme-corp/", "Acme Corp")
    ]
    listed = page(site.out, "companies/acme-corp/index.html").select(".check-list .card-title a")
    assert [a["href"] for a in listed] == ["/checks/acme-claim/"]


def test_unknown_company_suggests_new_company(site, run):
    site.entry("2021-01-01-acme-claim", title="Acme claim", companies='["Acme Corp"]')
    result = run("check", str(site.root))
    assert result.code == 1
    assert "unknown company 'Acme Corp'" in result.err
    assert 'factsite new company "Acme Corp"' in result.err


def test_new_refuses_to_overwrite(site, run):
    assert run("new", "company", "Acme Corp", "--site", str(site.root)).code == 0
    path = site.root / "content/companies/acme-corp.md"
    path.write_text("---\nname: Acme Corp\n---\n\nEdited by hand.\n", encoding="utf-8")
    result = run("new", "company", "Acme Corp", "--site", str(site.root))
    assert result.code == 2
    assert "already exists" in result.err
    assert path.read_text(encoding="utf-8").endswith("Edited by hand.\n")

    assert run("new", "entry", "Some Title", "--site", str(site.root)).code == 0
    entry = site.root / "content/entries/2026/2026-01-01-some-title.md"
    entry.write_text("hand edited", encoding="utf-8")
    before = tree(site.root)
    result = run("new", "entry", "Some Title", "--site", str(site.root))
    assert result.code == 2
    assert "already exists" in result.err
    assert tree(site.root) == before


def test_new_entry_refuses_a_slug_taken_by_an_older_entry(site, run):
    site.entry("2020/2020-05-05-some-title", title="Older")
    before = tree(site.root)
    result = run("new", "entry", "Some title!", "--site", str(site.root))
    assert result.code == 2
    assert "some-title" in result.err
    assert tree(site.root) == before


def test_new_outside_a_site_is_refused(run, tmp_path):
    result = run("new", "company", "Acme Corp", "--site", str(tmp_path))
    assert result.code == 2
    assert "no content/ folder" in result.err
    assert list(tmp_path.iterdir()) == []


def test_python_dash_m_version():
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    result = subprocess.run(
        [sys.executable, "-m", "generator", "--version"],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"factsite {__version__}"


def test_check_writes_nothing(site, run):
    site.entry("2021-01-01-one", title="One")
    site.write("content/static/logo.svg", "<svg/>")
    before = tree(site.root)
    result = run("check", str(site.root))
    assert result.code == 0, result.err
    assert result.out.startswith("Checked ")
    assert tree(site.root) == before
    assert not site.out.exists()


def test_check_leaves_an_existing_output_alone(site, run):
    site.entry("2021-01-01-one", title="One")
    assert run("build", str(site.root)).code == 0
    site.entry("2021-01-02-two", title="Two")
    before = tree(site.root)
    mtimes = {p: p.stat().st_mtime_ns for p in site.out.rglob("*")}
    assert run("check", str(site.root)).code == 0
    assert tree(site.root) == before
    assert {p: p.stat().st_mtime_ns for p in site.out.rglob("*")} == mtimes


def test_check_and_build_reject_a_folder_that_is_not_a_site(run, tmp_path):
    for command in ("check", "build"):
        result = run(command, str(tmp_path))
        assert result.code == 2
        assert "no content/ folder" in result.err
    assert list(tmp_path.iterdir()) == []


def test_errors_exit_1_without_a_traceback(site, run):
    site.write("content/entries/2021-01-01-bad.md", entry_text(verdict="pants-on-fire"))
    for command in ("check", "build"):
        result = run(command, str(site.root))
        assert result.code == 1
        assert "Traceback" not in result.err
        assert "content/entries/2021-01-01-bad.md:4: unknown verdict 'pants-on-fire'" in result.err


def test_profile_lists_the_templates_by_the_time_they_took(site, run):
    for n in range(1, 4):
        site.entry(f"2021-01-0{n}-check-{n}", title=f"Check {n}", published=f"2021-01-0{n}")
    # a topics page made slow on purpose: it must come first
    site.write("templates/tags.html", '{% extends "!theme/tags.html" %}{% block main %}'
               '{% set ns = namespace(n=0) %}{% for i in range(200000) %}{% set ns.n = ns.n + i %}'
               '{% endfor %}{{ super() }}{% endblock %}')
    result = run("build", str(site.root), "--profile", "--no-cache")
    assert result.code == 0, result.err
    lines = result.err.splitlines()
    start = lines.index("    time    pages  per page  template (slowest first)") + 1
    rows = [line.split() for line in lines[start:]]
    names = [row[-1] for row in rows]
    seconds = [float(row[0]) for row in rows]
    pages = {row[-1]: int(row[2].replace(",", "")) for row in rows}
    assert names[0] == "tags.html" and pages["tags.html"] == 1
    assert seconds == sorted(seconds, reverse=True)
    assert pages["check.html"] == 3
    rendered = int(result.err.split("render pages (")[1].split(" rendered")[0])
    assert sum(pages.values()) == rendered


def test_the_workflow_restores_and_saves_the_cache_the_build_uses(tmp_path):
    """.github/workflows/site.yml, the CI set-up for a site: its cache steps name the
    folder the build keeps its cache in, under keys that a later run restores, and its
    build step, run as the workflow runs it on two fresh checkouts (the second with the
    first one's cache restored), builds the same site both times."""
    import shutil

    import yaml

    from generator.build import CACHE_DIR

    workflow = yaml.safe_load((REPO / ".github" / "workflows" / "site.yml").read_text())
    steps = {step.get("name") or step["uses"]: step for step in workflow["jobs"]["build"]["steps"]}
    restore, save = steps["Restore the build cache"]["with"], steps["Save the build cache"]["with"]
    assert restore["path"] == save["path"] == CACHE_DIR
    assert restore["key"] == save["key"]
    assert save["key"].startswith(restore["restore-keys"])  # a later commit finds it
    assert restore["restore-keys"] and "github.sha" not in restore["restore-keys"]
    assert steps["Upload the site"]["with"]["path"].rstrip("/") == "output"

    script = steps["Build (strict)"]["run"]
    env = dict(os.environ, PAGES_URL="",
               PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    builds = []
    for name in ("first", "second"):
        checkout = tmp_path / name
        for folder in ("content", "templates"):
            shutil.copytree(REPO / folder, checkout / folder)
        if builds:  # actions/cache/restore puts back what the first run saved
            shutil.copytree(tmp_path / "first" / CACHE_DIR, checkout / CACHE_DIR)
        done = subprocess.run(["bash", "-e", "-c", script], cwd=checkout, env=env,
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "::error" not in done.stdout + done.stderr
        assert (checkout / CACHE_DIR).is_dir()
        builds.append(tree(checkout / "output"))
    assert builds[0] == builds[1]
    assert any(path.startswith("pagefind/") for path in builds[0])
