"""The access assistant's decision service (layer 2): decide, log, promote only on evidence.

* :mod:`accessrl.service.policy` — the served distribution under guardrails and exploration;
* :mod:`accessrl.service.store` — the decision log (decision snapshots, outcome events);
* :mod:`accessrl.service.app` — the FastAPI application (needs the ``[serve]`` extra);
* :mod:`accessrl.service.promotion` — held-out evaluation and ``promote``.
"""

from __future__ import annotations

__all__: list[str] = []
