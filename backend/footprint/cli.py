"""``flask --app backend footprint …``: load the shipped factor library, list sets, reproduce a calculation."""

from __future__ import annotations

import json
import sys

import click
from flask import current_app
from flask.cli import AppGroup

from backend.db import atomic, read
from backend.errors import DomainError
from backend.footprint import service, store

footprint_group = AppGroup("footprint", help="Footprint calculators and the emission-factor library.")


@footprint_group.command("load")
def load() -> None:
    """Store the shipped data files as the next factor set, unless a set with this content exists."""
    now = current_app.config["CLOCK"]()
    factors, new = atomic(lambda session: store.load_packaged(session, now))
    service.forget_current_set()
    state = "loaded as" if new else "already loaded as"
    click.echo(f"factor set {state} number {factors.number} (sha256 {factors.sha256[:16]}…, {factors.summary})")


@footprint_group.command("sets")
def sets() -> None:
    """List the factor sets in the database."""
    for found in read(store.list_sets):
        click.echo(f"{found['number']}\t{found['sha256']}\t{found['loaded_at']:%Y-%m-%d %H:%M}\t{found['summary']}")


@footprint_group.command("reproduce")
@click.argument("calculation")
def reproduce(calculation: str) -> None:
    """Recompute a stored calculation against its own factor set; exit 1 if the result differs."""
    try:
        before, after = read(lambda session: service.reproduce(session, calculation))
    except DomainError as error:  # an unknown id, a retired calculator: say so, not a traceback
        raise click.ClickException(f"{error.code}: {error.message}") from None
    if before == after:
        click.echo(f"{calculation}: reproduced, total {after['total_g']} g with factor set "
                   f"{after['factor_set']['number']}")
        return
    click.echo(f"{calculation}: DIFFERS from the stored result", err=True)
    for name in sorted(set(before) | set(after)):
        if before.get(name) != after.get(name):
            click.echo(f"  {name}: stored {json.dumps(before.get(name), ensure_ascii=False)[:200]}\n"
                       f"  {' ' * len(name)}  now    {json.dumps(after.get(name), ensure_ascii=False)[:200]}",
                       err=True)
    sys.exit(1)
