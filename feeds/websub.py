"""WebSub publish pings: tell each configured hub which feeds changed in a build.

A ping is a form POST `hub.mode=publish&hub.url=<feed URL>`, one per changed file (RSS,
Atom and JSON Feed are separate topics), sent only for files a build rewrote, so an
unchanged build pings nobody. A hub is a third party: a failure is logged and retried a
couple of times with a growing pause, and never raised. A hub that stays unreachable is
skipped for the rest of the build (its first failure already cost the retries), so a dead
hub delays a build by one URL's worth of attempts, not one per feed. Hubs are pinged in
parallel, each on its own thread.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import httpx

from feeds.build import BuildReport
from feeds.site import SiteInfo

log = logging.getLogger("rassegna.websub")

USER_AGENT = "rassegna-websub/1"


@dataclass(slots=True)
class HubReport:
    """What one hub was told: URLs it accepted, and those that failed (with why)."""

    hub: str
    accepted: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)


def changed_urls(site: SiteInfo, report: BuildReport) -> list[str]:
    """The absolute URLs of the feed files a build rewrote (archives excluded: they are
    new documents nobody subscribes to, reached from the current feed)."""
    written = set(report.written)
    return [
        site.url(path) for spec in report.changed_feeds for path in spec.paths if path in written
    ]


def _retryable(status: int) -> bool:
    return status == 429 or status >= 500


def _ping_one_hub(
    hub: str,
    urls: Sequence[str],
    *,
    attempts: int,
    backoff: float,
    timeout: float,
    sleep: Callable[[float], None],
) -> HubReport:
    result = HubReport(hub)
    with httpx.Client(timeout=timeout, headers={"User-Agent": USER_AGENT}) as client:
        for index, url in enumerate(urls):
            problem = ""
            for attempt in range(attempts):
                if attempt:
                    sleep(backoff * 2 ** (attempt - 1))
                try:
                    response = client.post(hub, data={"hub.mode": "publish", "hub.url": url})
                except httpx.HTTPError as exc:
                    problem = f"{type(exc).__name__}: {exc}"
                    continue
                if response.is_success:
                    problem = ""
                    break
                problem = f"HTTP {response.status_code}"
                if not _retryable(response.status_code):
                    break
            if not problem:
                result.accepted.append(url)
                continue
            result.failed[url] = problem
            log.warning("websub hub %s: publish ping for %s failed: %s", hub, url, problem)
            if problem.startswith(("ConnectError", "ConnectTimeout")):
                for skipped in urls[index + 1 :]:
                    result.failed[skipped] = "skipped: hub unreachable"
                log.warning(
                    "websub hub %s: unreachable, %d more pings skipped", hub, len(urls) - index - 1
                )
                break
    if result.accepted:
        log.info("websub hub %s: %d feed(s) announced", hub, len(result.accepted))
    return result


def ping_hubs(
    hubs: Sequence[str],
    urls: Sequence[str],
    *,
    attempts: int = 3,
    backoff: float = 1.0,
    timeout: float = 5.0,
    sleep: Callable[[float], None] = time.sleep,
) -> list[HubReport]:
    """Send a publish ping for every URL to every hub; never raises for a hub's failure."""
    if not hubs or not urls:
        return []

    def one(hub: str) -> HubReport:
        try:
            return _ping_one_hub(
                hub, urls, attempts=attempts, backoff=backoff, timeout=timeout, sleep=sleep
            )
        except Exception as exc:  # a hub must never break a build, whatever goes wrong
            log.warning("websub hub %s: ping failed: %s", hub, exc)
            return HubReport(hub, failed={url: str(exc) for url in urls})

    with ThreadPoolExecutor(max_workers=len(hubs), thread_name_prefix="websub") as pool:
        return list(pool.map(one, hubs))


def announce(
    site: SiteInfo,
    report: BuildReport,
    *,
    attempts: int = 3,
    backoff: float = 1.0,
    timeout: float = 5.0,
) -> list[HubReport]:
    """Ping the site's hubs about the feeds a build changed (nothing when none did)."""
    return ping_hubs(
        site.hubs, changed_urls(site, report), attempts=attempts, backoff=backoff, timeout=timeout
    )
