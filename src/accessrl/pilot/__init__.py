"""Layer 3: the deployment loop as one runnable story (``accessrl pilot``).

* :mod:`~accessrl.pilot.world` — the hidden true model of the queue, before and after requesters change;
* :mod:`~accessrl.pilot.server` — the real decision service in a child process on loopback;
* :mod:`~accessrl.pilot.run` — the weeks: requesters through HTTP, then the team's job;
* :mod:`~accessrl.pilot.plots` — value, estimated against true, drift.
"""

from __future__ import annotations

from accessrl.pilot.run import PilotConfig, PilotResult, WeekRow, run_pilot

__all__ = ["PilotConfig", "PilotResult", "WeekRow", "run_pilot"]
