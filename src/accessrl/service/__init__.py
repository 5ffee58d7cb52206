"""Layer 2: the access assistant's decision service: decide, log, promote only on evidence.

* :mod:`~accessrl.service.policy` — the served distribution under guardrails and exploration;
* :mod:`~accessrl.service.decisions` — :class:`~accessrl.service.decisions.DecisionService`,
  the decide/log/replay logic, free of any web framework;
* :mod:`~accessrl.service.http` — the FastAPI application and its fast write path (the
  ``[serve]`` extra; import it directly, it is not imported here);
* :mod:`~accessrl.service.schemas` — response models that document the read endpoints' JSON;
* :mod:`~accessrl.service.metrics` — Prometheus metrics (prometheus_client, bounded labels);
* :mod:`~accessrl.service.promotion` — ``promote`` (on :mod:`accessrl.offline.heldout`'s held-out evaluation) and ``rollback``.

The decision log it writes is :mod:`accessrl.storage`'s.
"""

from __future__ import annotations

from accessrl.service.policy import ServedPolicy, StateDecision, model_fingerprint, serve_policy
from accessrl.service.promotion import Estimate, Promotion, Rollback, promote, rollback

__all__ = ["Estimate", "Promotion", "Rollback", "ServedPolicy", "StateDecision", "model_fingerprint", "promote",
           "rollback", "serve_policy"]
