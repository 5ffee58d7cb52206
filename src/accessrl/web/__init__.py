"""Layer 2: what every HTTP server of accessrl shares — the decision service and the studio alike.

* :mod:`~accessrl.web.guards` — :class:`~accessrl.web.guards.Guard`, the ASGI middleware
  every server is built with (:func:`~accessrl.web.guards.guarded_app`): the Host
  allow-list, the Origin / ``Sec-Fetch-Site`` / content-type rules for state-changing
  requests, duplicated headers refused, the bearer token checked before the body, the body
  size and time limits, the request time limit, and one line (never a traceback) for a
  failure: 503 with ``Retry-After`` while the database is away, 500 otherwise;
* :mod:`~accessrl.web.compute` — :class:`~accessrl.web.compute.ComputePool`, a bounded pool
  of worker processes for CPU-heavy request work: the event loop never computes, and work
  past its time limit is stopped (its worker is killed) and answered with a clear error;
* :mod:`~accessrl.web.bodies` — the one strict reader of JSON request bodies;
* :mod:`~accessrl.web.server` — uvicorn's HTTP protocol with a bounded request head.

They need the ``[serve]`` or ``[studio]`` extra (FastAPI, uvicorn); import the modules directly.
"""

from __future__ import annotations

__all__: list[str] = []
