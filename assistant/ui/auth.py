"""Optional password login for the chat app: users come from `settings.app.auth_users` as
"user:bcrypt-hash,user2:bcrypt-hash" (make a line with `academichub hash-password USER`)."""

from __future__ import annotations

from typing import Any

import bcrypt

from assistant.core.errors import UserFacingError


class AuthConfigError(UserFacingError, ValueError):
    """ACADEMICHUB_AUTH_USERS cannot be read (the message says which entry and why)."""


def parse_auth_users(spec: str) -> dict[str, bytes]:
    """ "alice:$2b$12$...,bob:$2b$12$..." -> {"alice": b"$2b$12$...", ...}. Empty -> no login."""
    users: dict[str, bytes] = {}
    for raw in (spec or "").split(","):
        entry = raw.strip()
        if not entry:
            continue
        name, sep, hashed = entry.partition(":")
        name, hashed = name.strip(), hashed.strip()
        if not sep or not name or not hashed:
            raise AuthConfigError(f"ACADEMICHUB_AUTH_USERS entry {entry[:20]!r} is not user:bcrypt-hash")
        if not hashed.startswith(("$2a$", "$2b$", "$2y$")) or len(hashed) != 60:
            raise AuthConfigError(
                f"ACADEMICHUB_AUTH_USERS: the hash for {name!r} is not a bcrypt hash; "
                "make one with `academichub hash-password USER`"
            )
        if name in users:
            raise AuthConfigError(f"ACADEMICHUB_AUTH_USERS lists {name!r} twice")
        users[name] = hashed.encode("ascii")
    return users


def hash_password(password: str) -> str:
    if not password:
        raise AuthConfigError("the password is empty")
    return bcrypt.hashpw(password.encode("utf-8"), bcrypt.gensalt()).decode("ascii")


def check_password(users: dict[str, bytes], username: str, password: str) -> bool:
    hashed = users.get(username)
    if hashed is None or not password:
        return False
    return bcrypt.checkpw(password.encode("utf-8"), hashed)


def owner_of(user: Any) -> str:
    """The radar owner a chat session or request acts for: the signed-in user's identifier, or the no-login
    owner "" (`assistant.radar.service.NO_LOGIN`) when nobody signs in."""
    identifier = getattr(user, "identifier", None) if user is not None else None
    return str(identifier) if identifier else ""
