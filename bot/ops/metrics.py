"""numbot's Prometheus metrics: one registry per app, named instruments, read at GET /metrics.

    metrics = Metrics()
    flowyte.observer = metrics                      # numbot_flowyte_calls_total, …
    metrics.on_scrape(read_counts)                  # async: gauges read from storage
    body, content_type = await metrics.render()

Every metric but the standard `process_…` ones is named `numbot_…`. The registry is this object's own (not prometheus_client's
global one), so tests and several apps in one process never collide. Nothing else in numbot
imports prometheus_client: the Flowyte client, the workflow and the Slack app report to this
object through small observer methods, and labels only ever take bounded values (a kind of
Slack request, a route template, an HTTP status, a request status) — never a number, a user,
an id or anything secret.

    numbot_slack_requests_total{kind,outcome}     Slack requests (command, action, view,
                                                  options, event, other) by outcome (ok,
                                                  unhandled, error)
    numbot_slack_refused_total{status}            requests to /slack/events refused before
                                                  bolt (bad signature, too large, …)
    numbot_slack_ack_seconds{kind}                 from receipt to bolt's answer (the ack)
    numbot_flowyte_calls_total{route,method,status}  every HTTP exchange with Flowyte
    numbot_flowyte_call_seconds{route,method}      and how long it took
    numbot_purchases_total{outcome}                purchase requests that ended, by status
    numbot_releases_total{outcome}                 release requests that ended, by status
    numbot_requests{status}                        requests in the database now, by status
    numbot_audit_entries                           entries in the audit log now
    numbot_sweep_seconds                           one pass of the sweep
    numbot_slack_last_contact_timestamp_seconds    unix time Slack last answered ok
    numbot_flowyte_last_contact_timestamp_seconds  unix time Flowyte last answered 2xx
    numbot_build_info{version}                     1, with numbot's version as its label
    numbot_slack_socket_connected                  1 while Socket Mode is connected, 0 not
    process_…                                      CPU seconds, resident memory, open files,
                                                  start time (prometheus_client's, on Linux)
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST

logger = logging.getLogger(__name__)


def numbot_version() -> str:
    """The installed numbot's version (pyproject.toml), "unknown" when not installed."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("numbot")
    except PackageNotFoundError:
        return "unknown"


SCRAPE_TIMEOUT = 2.0  # seconds a scrape waits for the gauges read from storage
KINDS = ("command", "action", "view", "options", "event", "other")
_FINAL = ("purchased", "released", "failed", "rejected", "expired", "cancelled")
_ACK_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0)
_CALL_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_SWEEP_BUCKETS = (0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 15.0, 60.0)

Scrape = Callable[["Metrics"], Awaitable[None]]


def outcome_of(status: int) -> str:
    if 200 <= status < 300:
        return "ok"
    return "unhandled" if status == 404 else "error"


class Metrics:
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self.registry = CollectorRegistry()
        r = self.registry
        # CPU, memory, open files, start time (Linux): process_…, the names every Prometheus
        # dashboard and alert expects of a process.
        ProcessCollector(registry=r)
        self.build_info = Gauge(
            "numbot_build_info", "Always 1; its label is numbot's version", ["version"], registry=r
        )
        self.build_info.labels(numbot_version()).set(1)
        self.slack_requests = Counter(
            "numbot_slack_requests",
            "Slack requests by kind and outcome",
            ["kind", "outcome"],
            registry=r,
        )
        self.refused = Counter(
            "numbot_slack_refused",
            "Requests to /slack/events the ingress refused before bolt, by HTTP status",
            ["status"],
            registry=r,
        )
        self.ack_seconds = Histogram(
            "numbot_slack_ack_seconds",
            "Seconds from a Slack request's receipt to its acknowledgement",
            ["kind"],
            buckets=_ACK_BUCKETS,
            registry=r,
        )
        self.flowyte_calls = Counter(
            "numbot_flowyte_calls",
            "HTTP exchanges with Flowyte by route template, method and status",
            ["route", "method", "status"],
            registry=r,
        )
        self.flowyte_seconds = Histogram(
            "numbot_flowyte_call_seconds",
            "Seconds one HTTP exchange with Flowyte took",
            ["route", "method"],
            buckets=_CALL_BUCKETS,
            registry=r,
        )
        self.purchases = Counter(
            "numbot_purchases", "Purchase requests that ended, by outcome", ["outcome"], registry=r
        )
        self.releases = Counter(
            "numbot_releases", "Release requests that ended, by outcome", ["outcome"], registry=r
        )
        self.requests = Gauge(
            "numbot_requests", "Requests in the database, by status", ["status"], registry=r
        )
        self.audit_entries = Gauge("numbot_audit_entries", "Entries in the audit log", registry=r)
        self.sweep_seconds = Histogram(
            "numbot_sweep_seconds",
            "Seconds one pass of the sweep took",
            buckets=_SWEEP_BUCKETS,
            registry=r,
        )
        self.slack_last_contact = Gauge(
            "numbot_slack_last_contact_timestamp_seconds",
            "Unix time Slack last answered a Web API call with ok (0: never)",
            registry=r,
        )
        self.flowyte_last_contact = Gauge(
            "numbot_flowyte_last_contact_timestamp_seconds",
            "Unix time Flowyte last answered with a 2xx (0: never)",
            registry=r,
        )
        self.in_flight = Gauge(
            "numbot_in_flight",
            "Commands and clicks being worked on now (NUMBOT_MAX_IN_FLIGHT bounds them)",
            registry=r,
        )
        self.loop_lag = Gauge(
            "numbot_loop_lag_seconds",
            "How late the event loop ran at its latest measure (new work is turned away "
            "while it stays over 0.05 s)",
            registry=r,
        )
        self.busy = Counter(
            "numbot_busy",
            "Commands and clicks answered 'numbot is busy' instead of being started",
            registry=r,
        )
        self._scrapes: list[Scrape] = []

    # -- what the parts of numbot report ---------------------------------------------------

    def slack_request(self, kind: str, status: int, seconds: float) -> None:
        kind = kind if kind in KINDS else "other"
        self.slack_requests.labels(kind, outcome_of(status)).inc()
        self.ack_seconds.labels(kind).observe(seconds)

    def slack_refused(self, status: int) -> None:
        self.refused.labels(str(status)).inc()

    def flowyte_call(self, route: str, method: str, status: str, seconds: float) -> None:
        self.flowyte_calls.labels(route, method, status).inc()
        self.flowyte_seconds.labels(route, method).observe(seconds)
        if status.startswith("2"):
            self.flowyte_last_contact.set(self._clock())

    def request_moved(self, kind: str, status: str) -> None:
        """A request reached `status`; a final one counts as a purchase's or release's end."""
        if status not in _FINAL:
            return
        if kind == "purchase":
            self.purchases.labels(status).inc()
        elif kind == "release":
            self.releases.labels(status).inc()

    def sweep(self, seconds: float) -> None:
        self.sweep_seconds.observe(seconds)

    def workload(self, in_flight: Callable[[], int], lag: Callable[[], float]) -> None:
        """Where the work in progress and the loop's lag are read from at each scrape."""
        self.in_flight.set_function(in_flight)
        self.loop_lag.set_function(lag)

    def turned_away(self) -> None:
        self.busy.inc()

    def socket_mode(self, connected: Callable[[], bool]) -> None:
        """In Socket Mode: numbot_slack_socket_connected, read from `connected` at scrape."""
        gauge = Gauge(
            "numbot_slack_socket_connected",
            "1 while the Socket Mode connection is up, 0 while it is down",
            registry=self.registry,
        )
        gauge.set_function(lambda: 1.0 if connected() else 0.0)

    def slack_contact(self, read: Callable[[], float | None]) -> None:
        """Where the last successful Slack contact is read from at each scrape."""
        self.slack_last_contact.set_function(lambda: read() or 0.0)

    # -- GET /metrics ------------------------------------------------------------------

    def on_scrape(self, scrape: Scrape) -> None:
        """Run `scrape(metrics)` before each render, to set gauges read from elsewhere."""
        self._scrapes.append(scrape)

    async def render(self) -> tuple[bytes, str]:
        for scrape in self._scrapes:
            try:
                await asyncio.wait_for(scrape(self), SCRAPE_TIMEOUT)
            except TimeoutError:
                logger.warning("reading metrics took over %gs; served as last read", SCRAPE_TIMEOUT)
            except Exception:  # a gauge left stale is better than no metrics at all
                logger.exception("reading a metric at scrape time failed")
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
