"""_related_checks is tuned for speed; it must rank exactly as the plain version does."""

import random
from collections import Counter
from types import SimpleNamespace

from generator import graph
from generator.graph import RELATED_CHECKS, Tag, _related_checks
from generator.urls import tag_slug


def _plain_related_checks(entries, by_company, tags):
    """The straightforward version, kept as the reference."""
    position = {id(e): i for i, e in enumerate(entries)}
    lists = {("c", slug): lst for slug, lst in by_company.items()}
    lists.update({("t", slug): tag.entries for slug, tag in tags.items()})
    index_in = {key: {id(e): i for i, e in enumerate(lst)} for key, lst in lists.items()}
    related = {}
    for entry in entries:
        keys = [(("c", s), 2) for s in entry.companies]
        keys += [(("t", tag_slug(t)), 1) for t in entry.tags]
        scores, candidates = Counter(), {}
        for key, weight in keys:
            lst, at = lists[key], index_in[key][id(entry)]
            window = lst[max(0, at - graph._RELATED_WINDOW) : at + graph._RELATED_WINDOW + 1]
            for other in window:
                if other is not entry:
                    scores[id(other)] += weight
                    candidates[id(other)] = other
        best = sorted(scores, key=lambda k: (-scores[k], position[k]))[:RELATED_CHECKS]
        related[entry.slug] = [candidates[k] for k in best]
    return related


def _corpus(rng: random.Random, size: int):
    companies = [f"co{i}" for i in range(12)]
    tag_names = ["AI", "ai", "Privacy", "privacy ", "cars", "Food", "food", "ünïcode", "x_y"]
    entries = [
        SimpleNamespace(
            slug=f"e{i}",
            # Repeats on purpose: a company named twice, "AI" and "ai" on one entry.
            companies=rng.choices(companies, k=rng.randint(0, 3)),
            tags=rng.choices(tag_names, k=rng.randint(0, 4)),
        )
        for i in range(size)
    ]
    by_company = {slug: [] for slug in companies}
    tags = {}
    for e in entries:
        for slug in e.companies:
            by_company[slug].append(e)
        for slug, name in {tag_slug(t): t for t in reversed(e.tags)}.items():
            tags.setdefault(slug, Tag(name, slug)).entries.append(e)
    return entries, by_company, tags


def test_related_checks_match_the_plain_version(monkeypatch):
    rng = random.Random(20261126)
    for size, window in [(0, 40), (1, 40), (7, 40), (300, 40), (300, 3)]:
        monkeypatch.setattr(graph, "_RELATED_WINDOW", window)
        entries, by_company, tags = _corpus(rng, size)
        fast = _related_checks(entries, by_company, tags)
        plain = _plain_related_checks(entries, by_company, tags)
        assert list(fast) == list(plain)
        for slug in plain:
            assert [id(e) for e in fast[slug]] == [id(e) for e in plain[slug]], slug
