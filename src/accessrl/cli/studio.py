"""`accessrl studio`: the lesson as a local web app (the exercises are in :mod:`accessrl.cli.exercise`)."""

from __future__ import annotations

import socket
import webbrowser
from pathlib import Path

import typer

from accessrl._optional import require
from accessrl.cli._common import console
from accessrl.errors import ParameterError

LOOPBACK = {"127.0.0.1", "::1", "localhost"}


def register(app: typer.Typer) -> None:
    @app.command("studio")
    def studio_cmd(
        host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (loopback only)."),
        port: int = typer.Option(8765, "--port", help="Port to listen on (0: any free port)."),
        open_browser: bool = typer.Option(False, "--open", help="Open the studio in the default browser."),
        db: str = typer.Option(None, "--db", help="A decision-log database for the engineer's view."),
        log_level: str = typer.Option("warning", "--log-level", help="uvicorn log level."),
        export: str = typer.Option(None, "--export", help="Write the lab pages as static files into DIR and exit."),
    ) -> None:
        """Serve the lesson as an interactive web app on this machine (offline)."""
        if export is not None:
            require("jinja2", "studio", "accessrl studio --export")
            from accessrl.studio.export import export_site

            pages = export_site(export)
            console.print(f"wrote {len(pages)} pages to {Path(export) / 'index.html'}", markup=False)
            return
        for module in ("fastapi", "jinja2"):
            require(module, "studio", "accessrl studio")
        uvicorn = require("uvicorn", "studio", "accessrl studio")
        from accessrl.studio.app import StudioConfig, create_app

        if host not in LOOPBACK:
            raise ParameterError(f"--host {host}: the studio serves loopback only (127.0.0.1, ::1, localhost)")
        if not 0 <= port < 65536:
            raise ParameterError(f"--port: expected 0-65535, got {port}")
        if db is not None:
            from accessrl.studio.engineer import engineer_view

            engineer_view(db)  # a bad URL or an empty log fails here, in one line, not in the browser
        sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Accepted connections inherit this: a reply's headers and body go out without waiting for
        # the browser's delayed ACK (otherwise ~40 ms per call on a kept-alive connection).
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            sock.bind((host, port))
            sock.listen(128)  # connections queue from now on, so the printed URL works at once
        except OSError as exc:
            raise ParameterError(f"--port {port}: cannot listen on {host} ({exc.strerror or exc})") from None
        from accessrl.studio.labs import q_learning_lab

        q_learning_lab(episodes=10)  # compiles (or loads) the numba engine now, not on the learner's first click
        url = f"http://{'[' + host + ']' if ':' in host else host}:{sock.getsockname()[1]}/"
        console.print(f"accessrl studio at {url} (Ctrl-C to stop)", markup=False)
        if open_browser:
            webbrowser.open(url)
        from accessrl.web.server import uvicorn_options

        # The same bounded request heads (size and time) and keep-alive limit as the decision service.
        server = uvicorn.Server(uvicorn.Config(create_app(StudioConfig(db=db, host=host)), log_level=log_level,
                                               **uvicorn_options()))
        server.run(sockets=[sock])
