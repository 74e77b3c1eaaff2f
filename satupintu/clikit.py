"""What every `satupintu` command shares: the error console, logging, and settings, profile and database or a clear exit."""

from __future__ import annotations

import getpass
import logging

import typer
from rich.console import Console
from rich.logging import RichHandler
from sqlalchemy import Engine

from app.profile import Profile, ProfileError, load_profile
from app.settings import Settings, get_settings
from app.storage.engine import engine_from_settings
from app.storage.migrate import upgrade

err = Console(stderr=True)


def setup_logging(level: str = "INFO") -> None:
    """Log to stderr through rich."""
    logging.basicConfig(
        level=level,
        format="%(message)s",
        datefmt="%H:%M:%S",
        handlers=[RichHandler(console=err, show_path=False, rich_tracebacks=True)],
    )


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


def migrated_engine(settings: Settings | None = None) -> Engine:
    """An engine on the configured database, its schema brought up to date."""
    engine = engine_from_settings(settings or settings_or_exit())
    upgrade(engine)
    return engine


def actor() -> str:
    """Who the audit log names for a change made with the CLI."""
    return f"cli:{getpass.getuser()}"
