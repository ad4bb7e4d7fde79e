"""Who is calling the HTTP API: the subject of the JWT that API Gateway's authorizer verified."""

from __future__ import annotations

import os

from shared.core.identity import reserved_id_problem
from shared.platform.http import HttpError, Request, Unauthorized

USER_CLAIM = os.environ.get("USER_ID_CLAIM", "sub")


def signed_in_user(request: Request, claim: str = USER_CLAIM) -> str:
    """The user id from the request's verified JWT claims; a request without one is answered 401,
    one whose subject is in a reserved key space (``anon:``) 403."""
    user_id = request.jwt_claims.get(claim)
    if not isinstance(user_id, str) or not user_id:
        raise Unauthorized(f"the token has no {claim!r} claim")
    problem = reserved_id_problem(user_id)
    if problem is not None:
        raise HttpError(403, f"the token's {claim!r} claim cannot name a shopper: {problem}")
    return user_id
