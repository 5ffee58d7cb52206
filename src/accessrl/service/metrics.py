"""The service's Prometheus metrics through ``prometheus_client`` (layer 2).

One :class:`Metrics` per application, each with its own ``CollectorRegistry`` (two apps
in one process, as in the tests, never share or collide).  Labels are bounded: an event
``kind`` outside the known kinds is counted as ``"other"``, a status outside 100-599 as
``"other"``, a decision mode other than live/shadow as ``"other"``; so a client cannot
grow the number of series by inventing names.

Metrics exposed (text format 0.0.4 at ``GET /metrics``):

* ``accessrl_decisions_total{mode}`` — decisions logged (``live``, ``shadow``);
* ``accessrl_events_total{kind}`` — outcome events logged;
* ``accessrl_http_responses_total{status}`` — responses by HTTP status;
* ``accessrl_idempotent_replays_total`` — retries answered from the stored reply;
* ``accessrl_write_latency_seconds`` — histogram of decision and event calls.
"""

from __future__ import annotations

from collections.abc import Iterable

from accessrl._optional import dependency_error

try:
    from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
    from prometheus_client.exposition import CONTENT_TYPE_LATEST
except ImportError as exc:  # the [serve] extra
    raise dependency_error("prometheus_client", "serve", "the decision service's metrics", exc,
                           package="prometheus-client") from exc

LATENCY_BUCKETS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1.0)
"""Upper bounds (seconds) of the write-latency histogram's buckets."""

SERVICE_EVENT_KINDS = ("evidence_received", "abandoned", "review_outcome", "approval_reversed")
"""Event kinds the service itself names; a model's outcome ``events`` labels add to them."""

OTHER = "other"
"""The label every value outside a metric's known set is counted under."""

MODES = ("live", "shadow")
CONTENT_TYPE = CONTENT_TYPE_LATEST
"""The ``Content-Type`` of :meth:`Metrics.render`'s text."""


class Metrics:
    """Counters and a latency histogram in a registry of their own (see the module docstring).

    ``inc(name, label)`` counts one ``decisions`` (label: mode), ``events`` (kind),
    ``status`` (HTTP status) or ``replays`` (no label).  ``counts[(name, label)] += n``
    does the same, the form the service's call sites use.
    """

    def __init__(self, event_kinds: Iterable[str] = ()) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.kinds = frozenset(SERVICE_EVENT_KINDS) | {k for k in event_kinds if k}
        self.decisions = Counter("accessrl_decisions", "Decisions logged, by mode.", ["mode"], registry=r)
        self.events = Counter("accessrl_events", f"Outcome events logged, by kind (unknown kinds count as {OTHER!r}).",
                              ["kind"], registry=r)
        self.responses = Counter("accessrl_http_responses", "Responses, by status.", ["status"], registry=r)
        self.replays = Counter("accessrl_idempotent_replays", "Retries answered from the stored response.", registry=r)
        self.latency = Histogram("accessrl_write_latency_seconds", "Latency of decision and event calls.",
                                 buckets=LATENCY_BUCKETS, registry=r)
        for mode in MODES:
            self.decisions.labels(mode=mode)
        for kind in sorted(self.kinds):
            self.events.labels(kind=kind)
        self.counts = _Counts(self)

    def label(self, name: str, value: str) -> str:
        """The bounded label ``value`` is counted under for metric ``name``."""
        if name == "events":
            return value if value in self.kinds else OTHER
        if name == "status":
            return value if value.isdigit() and 100 <= int(value) <= 599 else OTHER
        if name == "decisions":
            return value if value in MODES else OTHER
        return value

    def inc(self, name: str, label: str = "", amount: float = 1.0) -> None:
        """Count ``amount`` under metric ``name`` and (bounded) ``label``."""
        if name == "replays":
            self.replays.inc(amount)
            return
        counter, key = {"decisions": (self.decisions, "mode"), "events": (self.events, "kind"),
                        "status": (self.responses, "status")}[name]
        counter.labels(**{key: self.label(name, label)}).inc(amount)

    def value(self, name: str, label: str = "") -> float:
        """The current count of ``name`` under (bounded) ``label`` (0 if never counted)."""
        metric = {"decisions": "accessrl_decisions_total", "events": "accessrl_events_total",
                  "status": "accessrl_http_responses_total", "replays": "accessrl_idempotent_replays_total"}[name]
        key = {"decisions": "mode", "events": "kind", "status": "status"}.get(name)
        labels = {key: self.label(name, label)} if key else {}
        got = self.registry.get_sample_value(metric, labels)
        return 0.0 if got is None else got

    def observe(self, seconds: float) -> None:
        """Record one write call's latency."""
        self.latency.observe(seconds)

    def render(self) -> str:
        """The registry in Prometheus text format."""
        text: str = generate_latest(self.registry).decode()
        return text


class _Counts:
    """``metrics.counts[(name, label)] += n`` as :meth:`Metrics.inc` (reads give the current count)."""

    def __init__(self, metrics: Metrics) -> None:
        self._metrics = metrics

    def __getitem__(self, key: tuple[str, str]) -> float:
        return self._metrics.value(*key)

    def __setitem__(self, key: tuple[str, str], new: float) -> None:
        grown = new - self._metrics.value(*key)
        if grown < 0:
            raise ValueError(f"metrics: counter {key} can only grow, got {new}")
        if grown:
            self._metrics.inc(key[0], key[1], grown)


__all__ = ["CONTENT_TYPE", "LATENCY_BUCKETS", "OTHER", "SERVICE_EVENT_KINDS", "Metrics"]
