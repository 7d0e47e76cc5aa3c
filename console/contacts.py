"""Saving contacts, whether a provider found them or a person typed them in."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from clients.contacts import Contact
from console.access import EDIT_CONTACTS_ROLES, User, require_role
from console.audit import audited
from console.store import Store
from console.store.models import ContactRow
from console.store.times import utcnow

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class InvalidContact(ValueError):
    pass


def save_contacts(store: Store, domain: str, contacts: list[Contact], *,
                  application_id: str | None = None, created_by: str = "") -> int:
    """Insert contacts, skipping any (domain, e-mail) already stored; return how many were new."""
    if not contacts:
        return 0
    rows = [
        {"domain": domain, "name": c.name, "title": c.title, "email": c.email, "source": c.source,
         "linkedin_url": c.linkedin_url, "application_id": application_id,
         "created_at": utcnow(), "created_by": created_by}
        for c in contacts
    ]
    with store.session() as session:
        insert = postgresql.insert if store.dialect == "postgresql" else sqlite.insert
        statement = insert(ContactRow).values(rows).on_conflict_do_nothing(
            index_elements=["domain", "email"]).returning(ContactRow.id)
        # RETURNING counts the inserted rows on both dialects; rowcount of an
        # ORM-session insert is not reliable on PostgreSQL.
        return len(session.execute(statement).all())


def add_manual_contact(store: Store, domain: str, name: str, title: str, email: str, *,
                       created_by: str, actor: User | None = None) -> Contact:
    """Validate and store one typed-in contact, with an audit entry.

    With `actor` set, raises PermissionDenied unless they may edit contacts.
    """
    if actor is not None:
        require_role(actor, EDIT_CONTACTS_ROLES, "adding a contact")
    with audited(store, actor.name if actor is not None else created_by, "contact.add",
                 detail=f"{domain}: {email.strip().lower()}"):
        return _add_manual_contact(store, domain, name, title, email, created_by=created_by)


def _add_manual_contact(store: Store, domain: str, name: str, title: str, email: str, *,
                        created_by: str) -> Contact:
    name = " ".join(name.split())
    email = email.strip().lower()
    if not name:
        raise InvalidContact("name is empty; enter the person's full name")
    if not _EMAIL.match(email):
        raise InvalidContact(f"{email!r} is not a valid e-mail address")
    contact = Contact(name=name, title=" ".join(title.split()), email=email, source="manual")
    if save_contacts(store, domain, [contact], created_by=created_by) == 0:
        raise InvalidContact(f"{email} is already stored for {domain}")
    return contact


def contacts_for(store: Store, domain: str) -> list[ContactRow]:
    with store.session() as session:
        return list(session.scalars(select(ContactRow).where(ContactRow.domain == domain)
                                    .order_by(ContactRow.created_at)))
