"""`accessrl serve` (the decision service) and `accessrl promote` (deploy only on evidence)."""

from __future__ import annotations

import os
import re

import typer

from accessrl._optional import require
from accessrl.cli._common import DB_HELP, DEFAULT_DB, SPEC_HELP, console, model_option, print_json
from accessrl.cli.logs import AGREEMENT_HELP, MIN_ESS_HELP, MIN_MATCHING_HELP
from accessrl.errors import ParameterError

LOOPBACK = {"127.0.0.1", "::1", "localhost"}


def _token_hashes(values: list[str] | None) -> tuple[str, ...]:
    raw = list(values or [])
    env = os.environ.get("ACCESSRL_TOKEN_HASHES", "")
    raw += [v for v in env.replace(",", " ").split() if v]
    for h in raw:
        if not re.fullmatch(r"[0-9a-f]{64}", h):
            raise ParameterError(f"--token-hash: expected a sha256 hex digest (64 hex digits), got {h[:16]!r}...")
    return tuple(raw)


def register(app: typer.Typer) -> None:
    @app.command("serve")
    def serve_cmd(
        spec: str = typer.Argument(None, metavar="SPEC", help=SPEC_HELP),
        policy: str = typer.Option(..., "--policy", help="Policy file (state: action), 'optimal' or 'uniform'."),
        model: str = typer.Option(None, "--model", hidden=True, help="The model (older spelling of SPEC)."),
        db: str = typer.Option(DEFAULT_DB, "--db", help=DB_HELP),
        host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
        port: int = typer.Option(8000, "--port", help="Port to listen on."),
        shadow: str = typer.Option(None, "--shadow", help="A candidate policy logged beside the deployed one."),
        epsilon: float = typer.Option(0.0, "--epsilon", help="Exploration over allowed, explorable actions."),
        token_hash: list[str] = typer.Option(None, "--token-hash",
                                             help="sha256 hex of an accepted bearer token (repeatable; "
                                                  "also ACCESSRL_TOKEN_HASHES)."),
        seed: int = typer.Option(None, "--seed", help="Seed of the sampling generator."),
        log_level: str = typer.Option("warning", "--log-level", help="uvicorn log level."),
        reload_every: float = typer.Option(2.0, "--reload-every",
                                           help="Seconds between checks for a promotion, rollback or shadow."),
        workers: int = typer.Option(1, "--workers", help="Service processes sharing the port (more than one needs "
                                    "a PostgreSQL --db)."),
    ) -> None:
        """Run the decision service (FastAPI + uvicorn): decide, log, and pick up promotions."""
        require("fastapi", "serve", "accessrl serve")  # accessrl.service.http is built on it
        uvicorn = require("uvicorn", "serve", "accessrl serve")
        from accessrl.service.http import create_app
        from accessrl.service.workers import OPTIONS_ENV, ServeOptions, check_workers, record_once, service_config

        if not 0 < port < 65536:
            raise ParameterError(f"--port: expected 1-65535, got {port}")
        if not 0.0 <= epsilon <= 1.0:
            raise ParameterError(f"--epsilon: expected a probability in [0, 1], got {epsilon!r}")
        check_workers(workers, db)
        hashes = _token_hashes(token_hash)
        if not hashes and host not in LOOPBACK:
            raise ParameterError(f"--host {host}: refusing to serve beyond loopback without --token-hash")
        if not reload_every >= 0:
            raise ParameterError(f"--reload-every: expected a non-negative number of seconds, got {reload_every}")
        options = ServeOptions(model=model_option(spec, model), policy=policy, db=db, shadow=shadow, epsilon=epsilon,
                               token_hashes=hashes, seed=seed, host=host, worker_seed=workers > 1,
                               reload_every=reload_every)
        config = service_config(options)
        if not hashes:
            console.print("[yellow]no --token-hash given: serving without authentication on loopback[/]")
        console.print(f"serving {config.mdp.name} with policy {config.policy.policy_id} ({config.policy.version}) "
                      f"on http://{host}:{port} (OpenAPI at /openapi.json)"
                      + (f" in {workers} processes" if workers > 1 else ""))
        # Bounded request heads (size and time), idle keep-alive connections closed after 5 s;
        # the body time limit is the application's (ServiceConfig.body_timeout).
        limits = {"timeout_keep_alive": 5, "h11_max_incomplete_event_size": 16 * 1024}
        from accessrl.web.server import watch_parent

        watch_parent()  # started by another accessrl process (pilot): stop when it is gone
        if workers == 1:
            from accessrl.service.http import bounded_protocol

            uvicorn.run(create_app(config), host=host, port=port, log_level=log_level, access_log=False,
                        http=bounded_protocol(), **limits)
            return
        record_once(config)  # one deployment row, written before the workers race to write it
        os.environ[OPTIONS_ENV] = options.to_json()
        uvicorn.run("accessrl.service.workers:app_from_environment", factory=True, workers=workers, host=host,
                    port=port, log_level=log_level, access_log=False,
                    http="accessrl.service.workers:BoundedHttpToolsProtocol", **limits)

    @app.command("promote")
    def promote_cmd(
        candidate: str = typer.Option(..., "--candidate", help="Candidate policy file (state: action)."),
        incumbent: str = typer.Option(None, "--incumbent",
                                      help="For a log with no deployment (imported history): the incumbent's policy "
                                           "file (e.g. logs import --behavior-out), the baseline; recorded as the "
                                           "previous deployment if the candidate is promoted. With a deployment "
                                           "recorded it must be the deployed policy, or promote refuses."),
        db: str = typer.Option(DEFAULT_DB, "--db", help=DB_HELP),
        seed: int = typer.Option(0, "--seed", help="Seed of the bootstrap."),
        by: str = typer.Option(None, "--by", help="Who promotes (recorded; default: the user running it)."),
        min_matching: int = typer.Option(30, "--min-matching", help=MIN_MATCHING_HELP),
        min_ess: float = typer.Option(30.0, "--min-ess", help=MIN_ESS_HELP),
        agreement: str = typer.Option("refuse", "--agreement", help=AGREEMENT_HELP),
        json_out: bool = typer.Option(False, "--json", help="The verdict and its evidence as JSON."),
    ) -> None:
        """Deploy a candidate only if held-out evidence says it is better and it made no severe error.

        The evidence review lists every check: support, matching episodes, effective sample
        size, agreement of the estimators, severe errors, the lower bound against the deployed policy.
        On imported history (no deployment recorded), give --incumbent: the verdict is then the
        one evaluate-policy --incumbent FILE --prevent-leakage gives (promote always trains on
        what was knowable at the cutoff)."""
        from accessrl.cli.deploy import who
        from accessrl.cli.logs import evidence_rules
        from accessrl.service.promotion import promote, verdict_json
        from accessrl.storage.writepath import open_engine

        if seed < 0:
            raise ParameterError(f"--seed: expected a non-negative integer, got {seed}")
        rules = evidence_rules(min_matching, min_ess, agreement)
        open_engine(db, create=False).dispose()  # "no such database" rather than an empty one
        res = promote(db, candidate, incumbent=incumbent, seed=seed, promoted_by=who(by, "accessrl promote"), rules=rules)
        if json_out:
            print_json(verdict_json(res))
        else:
            for line in res.lines():
                console.print(line, markup=False)
        if not res.deployed:
            raise typer.Exit(1)
