"""`accessrl rollback` (undo the last deployment) and `accessrl monitor` (live outcomes against
the deployed model), over :mod:`accessrl.service.promotion` and :mod:`accessrl.monitor`."""

from __future__ import annotations

import getpass

import typer

from accessrl.cli._common import console, print_json


def who(by: str | None, tool: str) -> str:
    """What a deployment row records as its author: ``--by`` or the user running ``tool``."""
    if by:
        return by[:128]
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no user name in a bare container
        user = "unknown user"
    return f"{user} via {tool}"[:128]


def register(app: typer.Typer) -> None:
    @app.command("rollback")
    def rollback_cmd(
        db: str = typer.Option(..., "--db", help="The service's database URL or SQLite file."),
        by: str = typer.Option(None, "--by", help="Who rolls back (recorded; default: the user running it)."),
        json_out: bool = typer.Option(False, "--json", help="Machine-readable output."),
    ) -> None:
        """Restore the deployment before the current one (a running service picks it up)."""
        from accessrl.service.promotion import rollback

        res = rollback(db, promoted_by=who(by, "accessrl rollback"))
        if json_out:
            print_json(res.__dict__)
            return
        console.print(f"rolled back: deployment {res.replaced_id} ({res.replaced_policy}) replaced by "
                      f"{res.deployment_id}, which restores {res.restored_id} ({res.restored_policy})", markup=False)
