"""Site settings: ``content/site.yaml`` read into a :class:`~generator.model.SiteConfig`."""

from __future__ import annotations

import re
import zoneinfo
from pathlib import Path
from typing import Any

from .claimreview import WARNING_RULES
from .diagnostics import Report, did_you_mean
from .fields import Fields
from .frontmatter import Document, SourceError, decode, parse_yaml
from .model import Publisher, SiteConfig, Verdict

SITE_KEYS = (
    "title", "base_url", "language", "description", "publisher", "contact", "timezone",
    "per_page", "search", "search_shard_size", "allow_html", "verdicts", "ignore_warnings",
)  # fmt: skip
VERDICT_KEYS = ("id", "label", "rating", "color", "description")
PUBLISHER_KEYS = ("name", "url", "logo")

DEFAULT_VERDICTS = (
    Verdict("true", "True", "#1a7f37", 5,
            "The claim is accurate and nothing significant is missing."),
    Verdict("mostly-true", "Mostly true", "#4c9a2a", 4,
            "The claim is accurate but needs clarification or additional information."),
    Verdict("mixed", "Mixed", "#bf8700", 3, "The claim is partly accurate and partly inaccurate."),
    Verdict("misleading", "Misleading", "#d1642d", 2,
            "The claim contains some fact but leaves a false impression."),
    Verdict("false", "False", "#cf222e", 1, "The claim is not accurate."),
    Verdict("unproven", "Unproven", "#6e7781", None,
            "There is not enough evidence to confirm or refute the claim."),
)  # fmt: skip

_COLOR = re.compile(r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")
_VERDICT_ID = re.compile(r"^[a-z0-9][a-z0-9-]*$")
_LANGUAGE = re.compile(r"^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{2,8})*$")
_EMAIL = re.compile(r"^[^@\s/:]+@[^@\s/]+\.[^@\s/]+$")


def verdict_key(value: Any) -> str:
    """A verdict as authored → its id; unquoted YAML ``true``/``false`` mean those verdicts."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value).strip()


def verdict_label(value: Any) -> Any:
    """An unquoted ``label: True`` is the text ``True``, as ``id: true`` is the id."""
    return ("True" if value else "False") if isinstance(value, bool) else value


def load_config(site_dir: Path, report: Report, base_url: str | None = None) -> SiteConfig | None:
    """Read ``content/site.yaml``; ``None`` (with errors in ``report``) when unusable."""
    path = site_dir / "content" / "site.yaml"
    if not path.is_file():
        report.error(
            path,
            None,
            "site settings file is missing",
            hint="create content/site.yaml "
            "with at least 'title:' and 'base_url:' (or run 'factsite init')",
        )
        return None
    try:
        text = decode(path.read_bytes())
        doc = parse_yaml(text, path)
    except SourceError as exc:
        report.error(path, exc.line, exc.message, hint=exc.hint)
        return None
    doc.text = text
    return _read_config(doc, report, base_url)


def _read_config(doc: Document, report: Report, base_url_override: str | None) -> SiteConfig | None:
    fields = Fields(doc, report, SITE_KEYS)
    fields.check_keys("site.yaml")
    title = fields.text("title", required=True)

    base_url = base_url_override or fields.text("base_url")
    if base_url is None:
        fields.missing("base_url")
    elif not re.match(r"^https?://[^/\s]+", base_url):
        fields.problem(
            ("base_url",),
            f"'base_url' must be an absolute http(s) URL, not '{base_url}'",
            hint="for example https://factdesk.example.org/",
        )
        base_url = None
    else:
        base_url = base_url.rstrip("/") + "/"

    language = fields.text("language") or "en"
    if not _LANGUAGE.match(language):
        fields.problem(
            ("language",),
            f"'language' must be a language tag like 'en' or 'zh-Hans', not '{language}'",
        )

    timezone = fields.text("timezone") or "UTC"
    try:
        zoneinfo.ZoneInfo(timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        guess = did_you_mean(timezone, zoneinfo.available_timezones())
        fields.problem(
            ("timezone",),
            f"unknown timezone '{timezone}'",
            hint=f"did you mean '{guess}'?" if guess else "use an IANA name like Europe/Paris",
        )
        timezone = "UTC"

    contact = fields.text("contact")
    if contact and not _EMAIL.match(contact):
        contact = fields.url("contact")

    # Returned even with errors (the report fails the build) so that the rest of the
    # site is still checked in the same run.
    config = SiteConfig(
        title=title or "",
        base_url=base_url or "https://example.invalid/",
        language=language,
        description=fields.text("description") or "",
        publisher=_read_publisher(fields, title or "", base_url or ""),
        contact=contact,
        timezone=timezone,
        per_page=fields.integer("per_page", 20) or 20,
        search=fields.boolean("search", True),
        search_shard_size=fields.integer("search_shard_size", None),
        allow_html=fields.boolean("allow_html", False),
        verdicts=_read_verdicts(fields),
        ignore_warnings=_read_ignored(fields),
        lines={".".join(map(str, k)): line for k, line in doc.lines.items()},
    )
    return config


def _read_ignored(fields: Fields) -> tuple[str, ...]:
    """``ignore_warnings``: ClaimReview warning rules (``CR166``) the site does not
    follow, in the order of WARNING_RULES; any other name is an error."""
    ignored: set[str] = set()
    for keys, name in fields.text_items("ignore_warnings"):
        rule = name.upper()
        if rule in WARNING_RULES:
            ignored.add(rule)
            continue
        guess = did_you_mean(rule, WARNING_RULES)
        fields.problem(
            keys,
            f"'{name}' is not a ClaimReview warning rule; only these can be ignored: "
            f"{', '.join(WARNING_RULES)}",
            hint=f"did you mean '{guess}'?" if guess else "see docs/claimreview.md",
        )
    return tuple(rule for rule in WARNING_RULES if rule in ignored)


def _read_publisher(fields: Fields, title: str, base_url: str) -> Publisher:
    value = fields.data.get("publisher")
    if value is None:
        return Publisher(name=title, url=base_url)
    if not isinstance(value, dict):
        fields.problem(("publisher",), "'publisher' must be a mapping like {name: …, url: …}")
        return Publisher(name=title, url=base_url)
    fields.check_nested_keys(("publisher",), value, PUBLISHER_KEYS, "publisher")
    name = fields.text_value(value.get("name"), ("publisher", "name")) or title
    url = fields.url_value(value.get("url"), ("publisher", "url")) if value.get("url") else base_url
    logo = fields.text_value(value.get("logo"), ("publisher", "logo"))
    return Publisher(name=name, url=url or base_url, logo=logo)


def _read_verdicts(fields: Fields) -> list[Verdict]:
    value = fields.data.get("verdicts")
    if value is None:
        return list(DEFAULT_VERDICTS)
    if not isinstance(value, list) or not value:
        fields.problem(
            ("verdicts",),
            "'verdicts' must be a non-empty list of verdicts",
            hint="each item like {id: false, label: False, rating: 1, color: '#cf222e'}",
        )
        return list(DEFAULT_VERDICTS)
    verdicts: list[Verdict] = []
    seen: set[str] = set()
    defaults = {v.id: v for v in DEFAULT_VERDICTS}
    for index, item in enumerate(value):
        keys = ("verdicts", index)
        if not isinstance(item, dict):
            fields.problem(keys, "each verdict must be a mapping like {id: …, label: …, color: …}")
            continue
        fields.check_nested_keys(keys, item, VERDICT_KEYS, "verdict")
        if item.get("id") is None:
            fields.problem(keys, "verdict is missing its 'id'")
            continue
        verdict_id = verdict_key(item["id"])
        if not _VERDICT_ID.match(verdict_id):
            fields.problem(
                (*keys, "id"),
                f"verdict id '{verdict_id}' must be lowercase letters, digits and '-'",
            )
            continue
        if verdict_id in seen:
            fields.problem((*keys, "id"), f"verdict id '{verdict_id}' is listed twice")
            continue
        seen.add(verdict_id)
        default = defaults.get(verdict_id)
        label = fields.text_value(verdict_label(item.get("label")), (*keys, "label")) or (
            default.label if default else verdict_id.replace("-", " ").capitalize()
        )
        color = fields.text_value(item.get("color"), (*keys, "color")) or (
            default.color if default else "#6e7781"
        )
        if not _COLOR.match(color):
            fields.problem(
                (*keys, "color"),
                f"verdict color must be a hex colour like '#cf222e', not '{color}'",
            )
            color = default.color if default else "#6e7781"
        rating = item.get("rating")
        if rating is not None and (
            isinstance(rating, bool) or not isinstance(rating, int) or rating < 1
        ):
            fields.problem(
                (*keys, "rating"),
                f"verdict rating must be a whole number ≥ 1, not {rating!r}",
                hint="leave 'rating' out for a verdict without one",
            )
            rating = None
        description = fields.text_value(item.get("description"), (*keys, "description")) or (
            default.description if default else ""
        )
        verdicts.append(Verdict(verdict_id, label, color, rating, description))
    return verdicts
