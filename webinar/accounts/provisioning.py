"""Creating staff accounts from the command line and the demo, with the same rules as the back office."""

from __future__ import annotations

import sqlalchemy as sa
from databases.core import Connection
from email_validator import EmailNotValidError, validate_email

from webinar import audit
from webinar.accounts import passwords, staff
from webinar.db import DB
from webinar.settings import Settings
from webinar.tables import organisations


def staff_problems(email: str, password: str, role: str) -> dict[str, str]:
    """What is wrong with a new staff account's data, by field ('email', 'password', 'role'); empty when nothing is."""
    problems = {}
    try:
        validate_email(email, check_deliverability=False)
    except EmailNotValidError:
        problems["email"] = "the e-mail address is not valid"
    if (problem := password_problem(password)) is not None:
        problems["password"] = problem
    if role not in staff.ROLES:
        problems["role"] = "the role must be operator or organiser"
    return problems


def password_problem(password: str) -> str | None:
    """What is wrong with a staff password (a new account's, a changed or a reset one: the one rule), or None."""
    if len(password) < staff.MIN_PASSWORD_LENGTH:
        return f"the password must have at least {staff.MIN_PASSWORD_LENGTH} characters"
    if len(password) > staff.MAX_PASSWORD_LENGTH:
        return f"the password must have at most {staff.MAX_PASSWORD_LENGTH} characters"
    return None


def check_new_staff(email: str, password: str, role: str) -> list[str]:
    """What is wrong with a new staff account's data (an empty list when nothing is)."""
    return list(staff_problems(email, password, role).values())


async def organisation_id_by_slug(conn: Connection, slug: str) -> int | None:
    """The id of the organisation with this slug."""
    return await conn.fetch_val(sa.select(organisations.c.id).where(organisations.c.slug == slug))


async def create_staff_user(settings: Settings, email: str, password: str, role: str, org_slug: str | None) -> int:
    """Create a staff account; ValueError says, in words, why it cannot be created."""
    problems = check_new_staff(email, password, role)
    if role == "organiser" and not org_slug:
        problems.append("an organiser needs --organisation SLUG")
    if problems:
        raise ValueError("; ".join(problems))
    password_hash = await passwords.hash_password(password)
    db = DB(settings)
    await db.connect()
    try:
        async with db.transaction() as conn:
            org_id = await organisation_id_by_slug(conn, org_slug) if org_slug else None
            if org_slug and org_id is None:
                raise ValueError(f"there is no organisation with the slug {org_slug!r}")
            if await staff.email_taken(conn, email):
                raise ValueError(f"a staff account with the address {email} already exists")
            user_id = await staff.create(
                conn, email=email, password_hash=password_hash, role=role, organisation_id=org_id
            )
            await audit.record(
                conn,
                "staff.created",
                actor="command line",
                organisation_id=org_id,
                details={"email": email, "role": role},
            )
        return user_id
    finally:
        await db.disconnect()
