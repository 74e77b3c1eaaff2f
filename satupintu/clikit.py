"""What every `satupintu` command shares: the error console, logging, and the settings, profile and database
(or a clear exit)."""

from __future__ import annotations

import getpass
import logging
from dataclasses import dataclass
from typing import Annotated

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.markup import escape
from sqlalchemy import Engine
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from app.profile import Deployment, Profile, ProfileError, load_profile
from app.settings import Settings, get_settings
from app.storage.engine import engine_from_settings
from app.storage.migrate import upgrade

err = Console(stderr=True)
AgencyOption = Annotated[
    str | None,
    typer.Option(
        "--agency",
        help="Scope it to one of the profile's agencies (an agency's admin reads its Open311 requests' personal data)",
    ),
]


@dataclass(slots=True)
class GlobalOptions:
    """The options given before the command (`satupintu --debug up`); `up` hands them to its children."""

    debug: bool = False
    verbose: bool = False

    def as_args(self) -> list[str]:
        return [*(["--debug"] if self.debug else []), *(["--verbose"] if self.verbose else [])]


OPTIONS = GlobalOptions()


def examples(*commands: str) -> str:
    """A command's --help epilog: one example command a paragraph (typer's rich help keeps them apart)."""
    return "\n\n".join(["Examples:", *(escape(c) for c in commands)])


def setup_logging(level: str = "INFO") -> None:
    """Log to stderr through rich; Alembic's INFO lines (each migration step) only with --verbose."""
    logging.basicConfig(
        level=level,
        format="%(message)s",
        datefmt="%H:%M:%S",
        handlers=[RichHandler(console=err, show_path=False, rich_tracebacks=True)],
    )
    logging.getLogger("alembic").setLevel(logging.INFO if OPTIONS.verbose else logging.WARNING)


def database_failure(exc: DBAPIError, url: str) -> str:
    """One line for a database that failed: which one (password hidden) and why, in the driver's words."""
    why = "; ".join(line.strip() for line in str(exc.orig or exc).splitlines() if line.strip())
    try:
        shown = make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - an unparsable URL is shown by its scheme alone
        shown = url.split("://", 1)[0] + "://..."
    return f"The database {shown} failed: {why}"


def report_database_failure(exc: DBAPIError) -> None:
    """Print the one line of `database_failure` for the configured database, and how to see more."""
    from app.settings import get_settings

    line = escape(database_failure(exc, get_settings().database_url))
    err.print(f"[red]{line}[/red] (--debug shows the traceback)", soft_wrap=True)


def settings_or_exit() -> Settings:
    """The settings, or exit 2 saying which one is invalid."""
    try:
        return get_settings()
    except ValueError as exc:
        err.print(f"[red]Invalid settings:[/red] {exc}")
        raise typer.Exit(2) from exc


def profile_or_exit(settings: Settings) -> Profile:
    """The configured city profile, or exit 2 saying what is wrong with it."""
    try:
        return load_profile(settings.profile)
    except ProfileError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc


def deployment_or_exit(settings: Settings) -> Deployment:
    """The configured deployment (one city, a province profile or a comma list), or exit 2 saying what is wrong."""
    from app.profile import load_deployment

    try:
        return load_deployment(settings.profile)
    except ProfileError as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc


def migrated_engine(settings: Settings | None = None) -> Engine:
    """An engine on the configured database, its schema brought up to date."""
    engine = engine_from_settings(settings or settings_or_exit())
    upgrade(engine)
    return engine


def actor() -> str:
    """Who the audit log names for a change made with the CLI."""
    return f"cli:{getpass.getuser()}"


def agency_or_exit(agency: str | None, settings: Settings | None = None) -> str | None:
    """`agency` when it names one of the configured profile's agencies (or is None: city-wide); else exit 2."""
    from app.auth.scope import agency_problem

    if agency is None:
        return None
    problem = agency_problem(profile_or_exit(settings or settings_or_exit()), agency)
    if problem:
        err.print(f"[red]{escape(problem)}[/red]")
        raise typer.Exit(2)
    return agency
