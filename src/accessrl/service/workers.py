"""The decision service as several processes on one PostgreSQL database (extra ``[serve]``).

``accessrl serve --workers N`` starts uvicorn's process manager with N worker processes
sharing one listening socket.  Each worker builds the same application from the same
options (:class:`ServeOptions`, handed over as JSON in :data:`OPTIONS_ENV`, since uvicorn
starts workers by importing :func:`app_from_environment`), and the database keeps them
consistent:

* exactly-once writes: each API call is one transaction; two processes that receive the
  same idempotency key both find no stored reply, both decide, and the unique key lets one
  commit — the other's transaction fails, is retried, and returns the stored reply
  (:meth:`~accessrl.service.decisions.DecisionService.open_request`); the events of one
  request are serialised by a row lock;
* deployments: recorded once by the parent before the workers start; a promotion written
  by ``accessrl promote`` is picked up by every worker within its reload interval;
* a worker killed mid-request loses only unacknowledged work (its transaction never
  committed); uvicorn's manager starts a replacement.

SQLite is refused with more than one worker: it admits one writer at a time, so extra
processes would only queue on its lock.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from fastapi import FastAPI

from accessrl.errors import ParameterError
from accessrl.service.decisions import DecisionService, ServiceConfig
from accessrl.service.http import bounded_protocol, create_app
from accessrl.service.policy import serve_policy

OPTIONS_ENV = "ACCESSRL_SERVE_OPTIONS"
"""The environment variable that carries :class:`ServeOptions` (JSON) to worker processes."""

MAX_WORKERS = 64
"""The most worker processes ``--workers`` accepts."""


@dataclass(frozen=True)
class ServeOptions:
    """What ``accessrl serve`` was asked to serve, in a form every worker can rebuild from."""

    model: str
    policy: str
    db: str
    shadow: str | None = None
    epsilon: float = 0.0
    token_hashes: tuple[str, ...] = ()
    seed: int | None = None
    host: str = "127.0.0.1"
    worker_seed: bool = False
    """Seed each process's sampling generator from ``seed`` and its process id (several workers)."""
    reload_every: float = 2.0
    """Seconds between checks for a promotion, rollback or shadow."""

    def to_json(self) -> str:
        """The options as JSON text (for :data:`OPTIONS_ENV`)."""
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> ServeOptions:
        """Options written by :meth:`to_json`."""
        data = json.loads(text)
        data["token_hashes"] = tuple(data.get("token_hashes", ()))
        return cls(**data)


def service_config(options: ServeOptions) -> ServiceConfig:
    """Load the model and policies named by ``options`` into a :class:`ServiceConfig`."""
    from accessrl.specfile import load_model_ref, resolve_policy

    mdp = load_model_ref(options.model)
    deployed = resolve_policy(mdp, options.policy)
    served = serve_policy(mdp, deployed.probabilities, deployed.policy_id, epsilon=options.epsilon)
    shadow = None
    if options.shadow:
        shadowed = resolve_policy(mdp, options.shadow)
        shadow = serve_policy(mdp, shadowed.probabilities, shadowed.policy_id)
    seed = options.seed
    if options.worker_seed:  # one stream per process: the same seed in every worker would repeat its draws
        seed = int(np.random.SeedSequence([options.seed or 0, os.getpid()]).generate_state(1)[0])
    return ServiceConfig(mdp=mdp, policy=served, shadow=shadow, db_url=options.db, token_hashes=options.token_hashes,
                         seed=seed, record_deployment=f"accessrl serve --policy {options.policy}", host=options.host,
                         reload_every=options.reload_every)


def record_once(config: ServiceConfig) -> None:
    """Record the configured deployment before any worker starts (the workers then find it current)."""
    DecisionService(config).close()


def check_workers(workers: int, db_url: str) -> int:
    """A worker count in [1, :data:`MAX_WORKERS`], more than one only on PostgreSQL."""
    if isinstance(workers, bool) or not isinstance(workers, int) or not 1 <= workers <= MAX_WORKERS:
        raise ParameterError(f"--workers: expected a whole number in [1, {MAX_WORKERS}], got {workers!r}")
    if workers > 1 and not db_url.startswith(("postgresql", "postgres")):
        raise ParameterError(f"--workers {workers}: several service processes need a PostgreSQL --db "
                             "(SQLite admits one writer at a time); got " + db_url.split("://")[0])
    return workers


def app_from_environment() -> FastAPI:
    """The application of one worker process, from :data:`OPTIONS_ENV` (uvicorn's app factory)."""
    text = os.environ.get(OPTIONS_ENV)
    if not text:
        raise ParameterError(f"{OPTIONS_ENV} is not set: start workers with accessrl serve --workers N")
    from accessrl.web.server import watch_parent

    watch_parent(os.getppid())  # a worker whose manager was killed (SIGKILL) stops by itself
    return create_app(service_config(ServeOptions.from_json(text)))


def __getattr__(name: str) -> Any:
    """``BoundedHttpToolsProtocol``, importable by name so uvicorn's workers can load it."""
    if name == "BoundedHttpToolsProtocol":
        return bounded_protocol()
    raise AttributeError(name)


__all__ = ["MAX_WORKERS", "OPTIONS_ENV", "ServeOptions", "app_from_environment", "check_workers", "record_once",
           "service_config"]
