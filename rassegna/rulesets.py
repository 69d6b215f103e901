"""From the configuration's `[[rules]]` and `[[rewrite]]` tables to the compiled objects
the ingest pipelines apply (`ingest.rules`, `ingest.rewrite`); labels such as `rules[3]`
(or `rules[3] "name"`) name each rule in logs and in `rassegna rules test`."""

from __future__ import annotations

from datetime import timedelta

from ingest.rewrite import Rewrite, Rewriter, compile_replace
from ingest.rules import Rule, RuleSet, SourceRules, make_rule
from rassegna.config import RewriteConfig, RuleConfig, Settings


def rule_label(index: int, rule: RuleConfig) -> str:
    return f'rules[{index}] "{rule.name}"' if rule.name else f"rules[{index}]"


def compile_rule(index: int, rule: RuleConfig) -> Rule:
    return make_rule(
        rule_label(index, rule),
        rule.action,
        sources=rule.sources,
        patterns=rule.patterns(),
        languages=rule.language,
        older_than=timedelta(seconds=rule.older_than) if rule.older_than else None,
    )


def rule_set(settings: Settings) -> RuleSet:
    return RuleSet(tuple(compile_rule(i, rule) for i, rule in enumerate(settings.rules)))


def source_rules(settings: Settings, source: str | None) -> SourceRules | None:
    """The keep/block rules of one source (None: no rule applies to it)."""
    if not settings.rules:
        return None
    found = rule_set(settings).for_source(source)
    return found if found else None


def compile_rewrite(index: int, table: RewriteConfig) -> Rewrite:
    return Rewrite(
        label=f"rewrite[{index}]",
        remove=tuple(table.remove),  # checked when the configuration loaded
        replace=tuple((compile_replace(r.pattern), r.replacement) for r in table.replace),
        sources=frozenset(table.sources) if table.sources is not None else None,
    )


def source_rewriter(settings: Settings, source: str | None) -> Rewriter | None:
    """The rewrites of one source (None: none applies to it)."""
    if not settings.rewrite:
        return None
    rewrites = [compile_rewrite(i, t) for i, t in enumerate(settings.rewrite)]
    found = Rewriter.for_source(rewrites, source)
    return found if found else None
