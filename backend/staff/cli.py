"""``flask --app backend users …``: bootstrap and scripts. The first admin is made here; after that people join
by invitation. Passwords are read from standard input (a second, confirming line may follow), never from
arguments, which other users of the machine can see in the process list.
"""

from __future__ import annotations

import getpass
import sys

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from sqlalchemy import select
from sqlmodel import Session

from backend.db import atomic, read
from backend.errors import DomainError
from backend.staff import passwords, service, tokens
from backend.staff.models import StaffAccount
from backend.staff.roles import ORG_ROLES, PLATFORM_ROLES

users_group = AppGroup("users", help="Staff accounts: create, roles, tokens, disable.")
ROLE = click.Choice(PLATFORM_ROLES + ORG_ROLES)


def _actor() -> str:
    return f"cli:{getpass.getuser()}"[:64]


def _now():
    return current_app.config["CLOCK"]()


def _fail(error: DomainError) -> None:
    click.echo(f"error: {error.message}", err=True)
    sys.exit(1)


def _read_password() -> str:
    """The password from stdin: prompted twice on a terminal; otherwise the first line, and the second if given
    must repeat it."""
    stream = sys.stdin  # click's test runner swaps it for its input
    if stream.isatty():
        first = getpass.getpass("password: ")
        again = getpass.getpass("again: ")
    else:
        first = stream.readline().rstrip("\r\n")
        again = stream.readline().rstrip("\r\n") or first
    if first != again:
        click.echo("error: the two passwords differ", err=True)
        sys.exit(1)
    return first


def _account(session: Session, username: str):
    account = service.find_account(session, username)
    if account is None:
        raise click.ClickException(f"no account named {username!r}")
    return account


@users_group.command("create")
@click.argument("username")
@click.option("--role", type=ROLE, required=True, help="Platform role, or organisation role with --org.")
@click.option("--org", "organisation_id", type=int, default=None, help="The organisation, for an organisation role.")
@click.option("--display-name", default=None, help="The person's name (default: the username).")
@click.option("--no-password", is_flag=True, help="An account for scripts: API tokens only, no web sign-in.")
def create(username: str, role: str, organisation_id: int | None, display_name: str | None, no_password: bool):
    """Create an account with one role; the password is read from standard input."""
    try:
        username = service.normalise_username(username)
        password_hash = None if no_password else passwords.new_hash(_read_password(), username=username)

        def work(session: Session):
            account = service.create_account(session, _now(), username=username,
                                             display_name=display_name or username, password_hash=password_hash,
                                             actor=_actor())
            service.grant(session, _now(), account=account, role=role, organisation_id=organisation_id,
                          actor=_actor())
            return account.id
        account_id = atomic(work)
    except DomainError as error:
        _fail(error)
    scope = "the platform" if organisation_id is None else f"organisation {organisation_id}"
    click.echo(f"created {username} (account {account_id}): {role} of {scope}")


@users_group.command("grant")
@click.argument("username")
@click.option("--role", type=ROLE, required=True)
@click.option("--org", "organisation_id", type=int, default=None)
def grant(username: str, role: str, organisation_id: int | None):
    """Give an existing account a role (in an organisation it replaces the role held there)."""
    try:
        atomic(lambda s: service.grant(s, _now(), account=_account(s, username), role=role,
                                       organisation_id=organisation_id, actor=_actor()))
    except DomainError as error:
        _fail(error)
    click.echo(f"{username}: {role}" + (f" of organisation {organisation_id}" if organisation_id else ""))


@users_group.command("revoke")
@click.argument("username")
@click.option("--role", type=ROLE, default=None, help="The platform role to take away.")
@click.option("--org", "organisation_id", type=int, default=None, help="Or: the organisation to remove them from.")
def revoke(username: str, role: str | None, organisation_id: int | None):
    """Take a platform role away, or remove the account from an organisation."""
    if (role is None) == (organisation_id is None):
        raise click.UsageError("give --role (a platform role) or --org (an organisation)")
    try:
        atomic(lambda s: service.revoke_membership(s, _now(), account=_account(s, username),
                                                   organisation_id=organisation_id, role=role, actor=_actor()))
    except DomainError as error:
        _fail(error)
    click.echo(f"{username}: revoked")


@users_group.command("token")
@click.argument("username")
@click.option("--days", default=None, type=int, help="Lifetime in days (default STAFF_TOKEN_DAYS, at most 366).")
@click.option("--name", "token_name", default="cli", show_default=True, help="What the token is for.")
def token(username: str, days: int | None, token_name: str):
    """Make a personal API token and print it (once; the last word printed is the token)."""
    days = current_app.config["STAFF_TOKEN_DAYS"] if days is None else days  # --days 0 is refused, not 90
    try:
        made, secret = atomic(lambda s: tokens.issue(s, _now(), account=_account(s, username), name=token_name,
                                                     days=days, actor=_actor()))
    except DomainError as error:
        _fail(error)
    click.echo(f"token {made.id} '{made.name}' for {username}, valid {days} days (shown once):", err=True)
    click.echo(secret)


@users_group.command("password")
@click.argument("username")
def set_password(username: str):
    """Set a new password (read from standard input); every web session of the account ends."""
    password = _read_password()
    try:
        account = read(lambda s: _account(s, username))
        password_hash = passwords.new_hash(password, username=account.username)
        atomic(lambda s: service.change_password(s, _now(), account_id=account.id, password_hash=password_hash,
                                                 actor=_actor()))
    except DomainError as error:
        _fail(error)
    click.echo(f"{username}: password set")


def _set_disabled(username: str, disabled: bool) -> None:
    try:
        atomic(lambda s: service.set_disabled(s, _now(), account_id=_account(s, username).id, disabled=disabled,
                                              actor=_actor()))
    except DomainError as error:
        _fail(error)
    click.echo(f"{username}: {'disabled' if disabled else 'enabled'}")


@users_group.command("disable")
@click.argument("username")
def disable(username: str):
    """Stop the account: no sign-in, its sessions end, its tokens stop working."""
    _set_disabled(username, True)


@users_group.command("enable")
@click.argument("username")
def enable(username: str):
    _set_disabled(username, False)


@users_group.command("totp-reset")
@click.argument("username")
def totp_reset(username: str):
    """Remove the account's second factor (a lost phone); they set up a new one at their next sign-in."""
    atomic(lambda s: service.reset_totp(s, _now(), account_id=_account(s, username).id, actor=_actor()))
    click.echo(f"{username}: second factor removed")


@users_group.command("list")
def list_accounts():
    """Every account with its roles."""
    def rows(session: Session):
        found = []
        for account in session.execute(select(StaffAccount).order_by(StaffAccount.username)).scalars():
            roles = [m.role if m.organisation_id is None else f"{m.role}@org:{m.organisation_id}"
                     for m in service.memberships(session, account.id)]
            found.append(f"{account.username:<24} {account.display_name:<16} {' '.join(roles) or '-'}"
                         f"{'  (disabled)' if account.disabled else ''}")
        return found
    for line in read(rows):
        click.echo(line)


def init_app(app: Flask) -> None:
    app.cli.add_command(users_group)
