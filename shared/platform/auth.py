"""Who is calling the HTTP API: the subject of the JWT that API Gateway's authorizer verified."""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools.event_handler.exceptions import ServiceError, UnauthorizedError

from shared.core.identity import reserved_id_problem

USER_CLAIM = os.environ.get("USER_ID_CLAIM", "sub")


def signed_in_user(event: Any, claim: str = USER_CLAIM) -> str:
    """The user id from a Powertools ``APIGatewayProxyEventV2``'s verified JWT claims; a request
    without one is answered 401, one whose subject is in a reserved key space (``anon:``) 403."""
    authorizer = event.request_context.authorizer
    claims = authorizer.jwt_claim if authorizer is not None else None
    user_id = (claims or {}).get(claim)
    if not isinstance(user_id, str) or not user_id:
        raise UnauthorizedError(f"the token has no {claim!r} claim")
    problem = reserved_id_problem(user_id)
    if problem is not None:
        raise ServiceError(403, f"the token's {claim!r} claim cannot name a shopper: {problem}")
    return user_id
