"""``omnicart staff add|list``: staff accounts for the store tablets."""

from __future__ import annotations

import sys
from enum import StrEnum
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from server.commands.console import console, in_transaction, load_settings
from server.models import utcnow
from server.signin import password_hashing
from server.staff import add_staff, list_staff

staff_app = typer.Typer(help="Staff accounts for the store tablets.", no_args_is_help=True)


class RoleChoice(StrEnum):
    """What a staff account may do: work in one store, or for every store."""

    staff = "staff"
    admin = "admin"


@staff_app.command("add")
def staff_add(
    email: Annotated[str, typer.Option(help="Email address to sign in with.")],
    name: Annotated[str, typer.Option(help="The person's name.")],
    role: Annotated[RoleChoice, typer.Option(help="staff (one store) or admin (every store).")],
    store: Annotated[
        str | None, typer.Option(help="The store's code (required for staff).")
    ] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
) -> None:
    """Add a staff account; asks for the password unless --password-stdin is given."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    settings = load_settings()
    record = in_transaction(
        settings,
        lambda session: add_staff(
            session,
            email=email,
            name=name,
            role=role.value,
            store_code=store,
            password=password,
            hashing=password_hashing(settings.password_hash_profile),
            now=utcnow(),
        ),
    )
    where = f"store {record.store_code}" if record.store_code else "every store"
    console.print(f"Added {record.role} {record.id} {record.name} <{record.email}> for {where}.")


@staff_app.command("list")
def staff_list() -> None:
    """List the staff accounts."""
    records = in_transaction(load_settings(), list_staff)
    table = Table("id", "email", "name", "role", "store", "added", "disabled")
    for r in records:
        table.add_row(
            str(r.id),
            r.email,
            r.name,
            r.role,
            r.store_code or "all",
            r.created_at.strftime("%Y-%m-%d %H:%M"),
            r.disabled_at.strftime("%Y-%m-%d %H:%M") if r.disabled_at else "",
        )
    Console().print(table)
