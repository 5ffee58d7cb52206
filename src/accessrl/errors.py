"""One exception tree for everything accessrl refuses.

::

    AccessRLError                      base of every error accessrl raises on purpose
    ├── SpecError                      a workflow spec (file or mapping) is malformed
    │   ├── SpecFileError              missing, empty or unreadable file; not YAML/JSON
    │   ├── SpecTypeError              a field has the wrong kind (also a TypeError)
    │   └── SpecValueError             a field has the wrong value (also a ValueError)
    ├── ModelError                     a well-formed model the algorithm cannot use
    │   └── NotTerminatingError        gamma = 1 and some policy never terminates
    ├── PolicyError                    a policy names unknown states/actions or misses one
    ├── ParameterError                 an argument is out of range (also a ValueError)
    ├── DataError                      logged data is malformed or inconsistent
    │   └── UnavailableError           the database is unreachable, full or read-only for now (retry later)
    ├── InfeasibleError                a constraint no policy can meet
    ├── BackendError                   a distributed backend failed (a Ray task or worker, after its retries)
    └── DependencyError                an optional extra is not installed (also an ImportError)

Every message names *where* (file, state, action, field) and *what was expected*,
so the CLI can print it as one line and exit.  Usage mistakes (a flag's value) exit
with status 2, domain mistakes (a model, a policy, data) with status 1.
"""

from __future__ import annotations


class AccessRLError(Exception):
    """Base class of every error accessrl raises on purpose."""

    exit_code: int = 1


class SpecError(AccessRLError):
    """A workflow spec is malformed."""


class SpecFileError(SpecError):
    """A spec file is missing, empty, unreadable or not YAML/JSON."""


class SpecTypeError(SpecError, TypeError):
    """A spec field has the wrong type."""


class SpecValueError(SpecError, ValueError):
    """A spec field has the wrong value."""


class ModelError(AccessRLError, ValueError):
    """A model that is well formed but unusable for the requested computation."""


class NotTerminatingError(ModelError):
    """With gamma = 1, a policy (or every policy) fails to reach a terminal state."""

    def __init__(self, message: str, states: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.states = states


class PolicyError(AccessRLError, ValueError):
    """A policy does not fit its model."""


class ParameterError(AccessRLError, ValueError):
    """An argument is outside its allowed range."""

    exit_code = 2


class DataError(AccessRLError, ValueError):
    """Logged data is malformed or inconsistent."""


class UnavailableError(DataError):
    """The database cannot serve right now (unreachable, restarting, disk full, read-only):
    nothing was written, and the same call may succeed later.  A server answers it with 503
    and ``Retry-After``; ``reason`` is the database's own one-line explanation."""

    def __init__(self, message: str, reason: str = "") -> None:
        super().__init__(message)
        self.reason = reason or message


class InfeasibleError(AccessRLError, ValueError):
    """No policy satisfies the requested constraints."""


class BackendError(AccessRLError):
    """The backend running distributed work failed: a Ray task whose retries are exhausted, a
    worker that died, a cluster that went away.  The message names the failure in one line."""


class DependencyError(AccessRLError, ImportError):
    """An optional dependency is missing; the message names the extra to install, e.g.
    ``reading Parquet needs pyarrow: pip install "accessrl[parquet]"``
    (raised by :func:`accessrl._optional.require`)."""


__all__ = [
    "AccessRLError",
    "BackendError",
    "DataError",
    "DependencyError",
    "InfeasibleError",
    "ModelError",
    "NotTerminatingError",
    "ParameterError",
    "PolicyError",
    "SpecError",
    "SpecFileError",
    "SpecTypeError",
    "SpecValueError",
    "UnavailableError",
]
