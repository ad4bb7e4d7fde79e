"""Who a profile belongs to: a signed-in shopper's user id, or an anonymous visitor's ``anon:`` key.

Anonymous visitors get profiles keyed ``anon:<anonymousId>``. That prefix is reserved: a user id
that starts with it would write into a visitor's profile (an event), read its inbox or erase it (a
token's subject), so every place a user id enters refuses it with :func:`reserved_id_problem`.
"""

from __future__ import annotations

ANONYMOUS_PREFIX = "anon:"


def anonymous_profile_id(anonymous_id: str) -> str:
    return f"{ANONYMOUS_PREFIX}{anonymous_id}"


def is_anonymous(profile_id: str) -> bool:
    return profile_id.startswith(ANONYMOUS_PREFIX)


def reserved_id_problem(user_id: str) -> str | None:
    """Why ``user_id`` cannot be a shopper's id (None when it can)."""
    if is_anonymous(user_id):
        return f"'{ANONYMOUS_PREFIX}' is reserved for anonymous visitors' profiles"
    return None
