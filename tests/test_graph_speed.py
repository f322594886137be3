"""_related_checks is tuned for speed; it must rank exactly as the plain version does."""

import random
from collections import Counter
from types import SimpleNamespace

from generator import graph
from generator.cache import MemoryCache
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
    by_company, tags = _indexes(entries)
    by_company = {slug: by_company.get(slug, []) for slug in companies}
    return entries, by_company, tags


def _indexes(entries):
    """Each company's and each tag's entries, as the site graph lists them."""
    by_company, tags = {}, {}
    for e in entries:
        for slug in e.companies:
            by_company.setdefault(slug, []).append(e)
        for slug, name in {tag_slug(t): t for t in reversed(e.tags)}.items():
            tags.setdefault(slug, Tag(name, slug)).entries.append(e)
    return by_company, tags


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


def test_related_checks_are_kept_until_a_company_tag_or_place_changes(monkeypatch):
    """A cache keeps the last related checks: taken back as long as no entry's companies,
    tags or place changed (as the same entries, those of this build), found again when
    one did; always what finding them gives."""
    rng = random.Random(20261127)
    entries = _corpus(rng, 300)[0]
    found = []
    positions = graph._related_positions
    monkeypatch.setattr(graph, "_related_positions",
                        lambda *args: found.append(1) or positions(*args))
    cache = MemoryCache()

    def related(entries):
        kept = graph._kept_related_checks(entries, *_indexes(entries), cache)
        assert kept == _plain_related_checks(entries, *_indexes(entries))
        return kept

    related(entries)
    copies = [SimpleNamespace(**vars(e), title="edited") for e in entries]  # a rebuild
    again = related(copies)
    shown = {id(e) for row in again.values() for e in row}
    assert len(found) == 1 and shown <= {id(e) for e in copies}
    for change in ("companies", "tags", "place"):
        if change == "place":
            copies = copies[1:] + copies[:1]
        else:
            copies[7] = SimpleNamespace(**{**vars(copies[7]), change: ["new"]})
        before = len(found)
        related(copies)
        assert len(found) == before + 1, change
    assert len(cache) == 1  # one slot, replaced



def test_related_checks_are_found_again_only_where_an_edit_can_change_them(monkeypatch):
    """After some entries' companies or tags change (the same entries in the same places),
    only the rows of entries in a list one of them joined or left are found again; the
    result is always what finding every row gives."""
    rng = random.Random(20261128)
    found_again: list[int] = []  # entries whose rows were found again, per rebuild
    positions = graph._related_positions

    def recording(entries, by_company, tags, again=None):
        found_again.append(len(entries) if again is None else len(again[0]))
        return positions(entries, by_company, tags, again)

    monkeypatch.setattr(graph, "_related_positions", recording)
    partial = 0
    for window in (40, 3):
        monkeypatch.setattr(graph, "_RELATED_WINDOW", window)
        for _ in range(40):
            entries = _corpus(rng, rng.randint(1, 300))[0]
            cache = MemoryCache()
            graph._kept_related_checks(entries, *_indexes(entries), cache)
            copies = list(entries)  # a rebuild: unchanged entries are the same objects
            for _ in range(rng.randint(1, 4)):
                at = rng.randrange(len(copies))
                field = rng.choice(["companies", "tags"])
                taken = getattr(rng.choice(entries), field)  # another entry's list
                copies[at] = SimpleNamespace(**{**vars(copies[at]), field: list(taken)})
            found_again.clear()
            kept = graph._kept_related_checks(copies, *_indexes(copies), cache)
            plain = _plain_related_checks(copies, *_indexes(copies))
            assert list(kept) == list(plain)
            for slug in plain:
                assert [id(e) for e in kept[slug]] == [id(e) for e in plain[slug]], slug
            assert len(found_again) <= 1  # nothing changed: none found
            partial += bool(found_again) and found_again[0] < len(copies)
    assert partial > 20  # most rebuilds found only some rows again


def test_related_checks_made_by_other_code_are_never_taken_back_in_part():
    """A cached slot whose rows another factsite made (another ranking, say) is found
    again whole, even where the signatures say only one entry changed."""
    rng = random.Random(20261129)
    entries = _corpus(rng, 120)[0]
    signatures = [(e.slug, e.companies, e.tags) for e in entries]
    changed = list(signatures)
    changed[5] = (entries[5].slug, ["co0"], [])  # "the last build" had another entry 5
    wrong = [[0] for _ in entries]  # rows no ranking of this code makes
    cache = MemoryCache()
    cache.put(graph.RELATED_SLOT, ("made by other code", wrong, changed, "other code"))
    kept = graph._kept_related_checks(entries, *_indexes(entries), cache)
    plain = _plain_related_checks(entries, *_indexes(entries))
    assert {s: [id(e) for e in r] for s, r in kept.items()} == \
        {s: [id(e) for e in r] for s, r in plain.items()}
