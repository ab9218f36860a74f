"""What numbot tells its operators: /healthz's checks and /metrics' instruments, wired to
the parts of one running numbot (bot/process/runtime.py's Runtime)."""

from __future__ import annotations

from bot.config.settings import Settings
from bot.ops.health import PROBE_TIMEOUT, DatabaseProbe, Health, SlackStatus
from bot.ops.metrics import Metrics
from bot.workflow import NumbersService
from storage.probe import probe_write
from storage.stats import audit_entries, requests_by_status


def build_health(settings: Settings, slack: SlackStatus) -> Health:
    def probe() -> None:
        probe_write(settings.database(), PROBE_TIMEOUT)

    return Health(slack=slack, database=DatabaseProbe(probe), sandbox=settings.sandbox)


def build_metrics(service: NumbersService, slack: SlackStatus) -> Metrics:
    """The metrics of one running numbot: its Flowyte client and workflow report to them,
    and the request counts are read from storage at each scrape."""
    metrics = Metrics()
    service.flowyte.observer = metrics
    service.observer = metrics
    metrics.slack_contact(lambda: slack.last_ok)
    storage = service.storage

    async def read_counts(m: Metrics) -> None:
        counts = await storage.run(requests_by_status, storage.db)
        m.requests.clear()
        for status, count in counts.items():
            m.requests.labels(status).set(count)
        m.audit_entries.set(await storage.run(audit_entries, storage.db))

    metrics.on_scrape(read_counts)
    return metrics
