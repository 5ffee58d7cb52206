"""Layer 0: named models.

* :mod:`~accessrl.catalog.lesson` — the lesson's two workflows (:func:`access_review`,
  :func:`access_review_abandonment`) and its discount factor :data:`LESSON_GAMMA`;
* :mod:`~accessrl.catalog.components` — the same workflow in named reward components,
  and the deny exercise's model;
* :mod:`~accessrl.catalog.workflows` — the factored access-review workflow generator at
  any size, and pymdptoolbox-style random models (:func:`rand`).

:data:`CATALOG` maps each name a command line accepts (``catalog:NAME``) to its factory.

>>> tuple(sorted(CATALOG)[:2])
('access-review', 'access-review-abandonment')
>>> load("access-review-abandonment", p_abandon=0.1).n_states
4
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from accessrl.catalog.components import (
    COMPONENTS,
    OUTCOME_AWARE,
    SPEED_ONLY,
    access_review_components,
    access_review_components_spec,
    access_review_deny,
    access_review_deny_spec,
)
from accessrl.catalog.lesson import (
    LESSON_GAMMA,
    access_review,
    access_review_abandonment,
    access_review_abandonment_spec,
    access_review_spec,
)
from accessrl.catalog.workflows import WorkflowParams, access_review_workflow, rand
from accessrl.errors import ParameterError
from accessrl.model.mdp import MDP


def access_review_workflow_cyclic(params: WorkflowParams | None = None, **kw: Any) -> MDP:
    """The generated workflow whose last day bucket loops (no expiry): ``access_review_workflow(cyclic=True)``."""
    return access_review_workflow(params, cyclic=True, **kw)


CATALOG: Mapping[str, Callable[..., MDP]] = MappingProxyType({
    "access-review": access_review,
    "access-review-abandonment": access_review_abandonment,
    "access-review-components": access_review_components,
    "access-review-deny": access_review_deny,
    "access-review-workflow": access_review_workflow,
    "access-review-workflow-cyclic": access_review_workflow_cyclic,
})
"""Every catalog model by name (read-only)."""


def load(name: str, **params: Any) -> MDP:
    """A catalog model by name, with its parameters."""
    try:
        factory = CATALOG[name]
    except KeyError:
        raise ParameterError(f"catalog: unknown model {name!r}; expected one of {sorted(CATALOG)}") from None
    return factory(**params)


__all__ = [
    "CATALOG",
    "COMPONENTS",
    "LESSON_GAMMA",
    "OUTCOME_AWARE",
    "SPEED_ONLY",
    "WorkflowParams",
    "access_review",
    "access_review_abandonment",
    "access_review_abandonment_spec",
    "access_review_components",
    "access_review_components_spec",
    "access_review_deny",
    "access_review_deny_spec",
    "access_review_spec",
    "access_review_workflow",
    "access_review_workflow_cyclic",
    "load",
    "rand",
]
