"""`rules_overhead`: a 1,000-item feed ingested with 50 keep/block rules vs with none.

The rules are the kind people write (words of the title, text, authors, tags, category,
URL, languages, ages), none matching the bench's articles, so every rule is tried on
every entry and every entry is still stored: the figure is the rules' own cost.
"""

from __future__ import annotations

from datetime import timedelta

from bench.context import Context
from bench.corpus import rss_document
from bench.feed_bench import SOURCE, timed_ingest
from bench.timing import Figure, at_most, interleaved, ratio_figure
from ingest.article import DraftRules
from ingest.remote import RemoteOptions
from ingest.rules import Rule, RuleSet, make_rule

RULE_COUNT = 50
WARM_UP_ITEMS = 50
RULES_ROUNDS = 5
"""Rounds of each ingest: the rules cost about a twentieth of an ingest, and on a shared VM
consecutive ingests of the same feed differ by up to a fifth, so the median of three
crossed the limit now and then on noise alone (1.10 and 1.12 in two runs of 2026-12-07,
1.01-1.09 in others); five, as for `topic_match_overhead`, are steadier for ~5 s more."""
_WORDS = [
    "oroscopo",
    "lotteria",
    "gratta e vinci",
    "calciomercato",
    "fantacalcio",
    "gossip",
    "televendita",
    "sponsorizzato",
    "pubbliredazionale",
    "meteo di domani",
]


def fifty_rules() -> RuleSet:
    """50 rules over every kind of condition, none of which matches the bench corpus."""
    rules: list[Rule] = []
    fields = ["title", "text", "author", "tag", "category", "url"]
    for n in range(RULE_COUNT - 5):
        field = fields[n % len(fields)]
        word = _WORDS[n % len(_WORDS)]
        pattern = rf"\b{word}\b" if field != "url" else f"/{word.replace(' ', '-')}/"
        sources = [SOURCE] if n % 3 == 0 else None
        rules.append(make_rule(f"rules[{n}]", "block", sources=sources, patterns={field: pattern}))
    rules.append(make_rule("rules[45]", "block", languages=["en", "de"]))
    rules.append(make_rule("rules[46]", "block", older_than=timedelta(days=3650 * 3)))
    rules.append(
        make_rule("rules[47]", "block", patterns={"title": "città", "text": "ristoranti stellati"})
    )
    # Keep rules of another source: looked up, never applied to this one.
    for n in (48, 49):
        rules.append(
            make_rule(f"rules[{n}]", "keep", sources=["Altra fonte"], patterns={"title": "x"})
        )
    return RuleSet(tuple(rules))


def run(ctx: Context) -> list[Figure]:
    count = ctx.sizes.feed_items
    data = rss_document(ctx.corpus, count)
    feed = ctx.root / "feed-rules.xml"
    feed.write_bytes(data)
    with_rules = RemoteOptions(rules=DraftRules(filters=fifty_rules().for_source(SOURCE)))
    # Warm-up (imports, the rules' regular expressions, every code path of an ingest with
    # rules) on a short feed: the whole one would warm nothing more.
    warm_up = ctx.root / "feed-rules-warm-up.xml"
    warm_up.write_bytes(rss_document(ctx.corpus, WARM_UP_ITEMS))
    timed_ingest(ctx, warm_up, WARM_UP_ITEMS, with_rules)
    rounds = interleaved(
        [
            lambda: timed_ingest(ctx, feed, count, with_rules),
            lambda: timed_ingest(ctx, feed, count),
        ],
        max(ctx.sizes.feed_rounds, RULES_ROUNDS),
    )
    return [
        ratio_figure(
            "rules_overhead",
            rounds,
            baseline="the same feed ingest without rules",
            target=at_most(1.1),
            details={"items": count, "rules": RULE_COUNT},
        )
    ]
