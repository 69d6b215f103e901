"""Prometheus metrics of one daemon, in a registry of its own (no process-global state)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import partial

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from db.records import SourceState

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        counter = partial(Counter, registry=self.registry)
        per_source = partial(Gauge, labelnames=["source"], registry=self.registry)
        self.fetches = counter("rassegna_fetches", "Source fetches by outcome.", ["outcome"])
        self.articles = counter(
            "rassegna_articles_ingested",
            "Articles stored, by what happened to them (blocked: kept out by a rule).",
            ["change"],
        )
        self.full_text = counter(
            "rassegna_full_text_pages",
            "Article pages fetched for the full text of truncated feeds, by outcome.",
            ["outcome"],
        )
        self.builds = counter("rassegna_feed_builds", "Feed builds run by the daemon.")
        self.files_written = counter("rassegna_feed_files_written", "Feed files rewritten.")
        self.tick_seconds = Histogram(
            "rassegna_tick_duration_seconds",
            "How long one scheduler tick took.",
            buckets=(0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300),
            registry=self.registry,
        )
        self.last_success = per_source(
            "rassegna_source_last_success_timestamp_seconds",
            "Unix time of each source's last successful fetch.",
        )
        self.consecutive_errors = per_source(
            "rassegna_source_consecutive_errors", "Failed fetches in a row, per source."
        )
        self.blocked = per_source(
            "rassegna_source_blocked_entries",
            "Entries keep/block rules kept out of the store, per source.",
        )

    def observe_sources(
        self, states: Iterable[SourceState], blocked: Mapping[str, int] | None = None
    ) -> None:
        for state in states:
            if state.last_success is not None:
                self.last_success.labels(state.name).set(state.last_success.timestamp())
            self.consecutive_errors.labels(state.name).set(state.consecutive_errors)
            if blocked is not None:
                self.blocked.labels(state.name).set(blocked.get(state.name, 0))

    def render(self) -> bytes:
        return generate_latest(self.registry)
