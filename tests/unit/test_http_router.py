"""The HTTP API's router (shared/platform/http.py) answers every request as Powertools'
``APIGatewayHttpResolver`` answered it: the same events through both, the same responses back."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from aws_lambda_powertools.event_handler import Response as PowertoolsResponse
from aws_lambda_powertools.event_handler.exceptions import NotFoundError, ServiceError, UnauthorizedError

from shared.platform.auth import signed_in_user
from shared.platform.http import HttpError, NotFound, Request, Response, Router, Unauthorized

HTML = "text/html; charset=utf-8"


def _outcome(query: dict[str, str], key: str | None) -> tuple[str, Any]:
    """What a route does, whichever router runs it: a dict, a page, or an error."""
    kind = query.get("kind", "dict")
    if kind == "page":
        return "page", (int(query.get("status", "200")), f"<p>{key or 'page'} ☃</p>")
    if kind in {"401", "403", "404"}:
        return "error", (int(kind), f"refused {key} ✗")
    if kind == "boom":
        return "boom", None
    return "dict", {"key": key, "none": None, "price": Decimal("59.90"), "nan": Decimal("NaN"), "é": [1, 2.5]}


def powertools_router() -> APIGatewayHttpResolver:
    app = APIGatewayHttpResolver()

    def run(key: str | None) -> Any:
        kind, value = _outcome(dict(app.current_event.query_string_parameters), key)
        if kind == "page":
            return PowertoolsResponse(status_code=value[0], content_type=HTML, body=value[1])
        if kind == "error":
            status, message = value
            raise {401: UnauthorizedError, 404: NotFoundError}.get(status, lambda m: ServiceError(status, m))(
                message
            )
        if kind == "boom":
            raise RuntimeError("boom")
        return value

    app.get("/inbox")(lambda: run(None))
    app.post("/inbox/<message_key>/read")(lambda message_key: run(message_key))
    app.delete("/me")(lambda: run("me"))
    return app


def our_router() -> Router:
    app = Router()

    def run(request: Request, key: str | None) -> Any:
        kind, value = _outcome(dict(request.event.get("queryStringParameters") or {}), key)
        if kind == "page":
            return Response(value[0], value[1], HTML)
        if kind == "error":
            status, message = value
            raise {401: Unauthorized, 404: NotFound}.get(status, lambda m: HttpError(status, m))(message)
        if kind == "boom":
            raise RuntimeError("boom")
        return value

    app.get("/inbox")(lambda request: run(request, None))
    app.post("/inbox/<message_key>/read")(
        lambda request: run(request, request.path_parameters["message_key"])
    )
    app.delete("/me")(lambda request: run(request, "me"))
    return app


def event(
    method: str, path: str, query: dict[str, str] | None = None, stage: str = "$default"
) -> dict[str, Any]:
    return {
        "version": "2.0",
        "routeKey": f"{method} {path}",
        "rawPath": path if stage == "$default" else f"/{stage}{path}",
        "rawQueryString": "&".join(f"{k}={v}" for k, v in (query or {}).items()),
        "headers": {"accept-encoding": "gzip"},
        "queryStringParameters": query,
        "requestContext": {
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "1.2.3.4"},
            "stage": stage,
            "requestId": "r-1",
        },
        "body": None,
        "isBase64Encoded": False,
    }


REQUESTS = [
    event("GET", "/inbox"),
    event("get", "/inbox"),
    event("GET", "/inbox", {"kind": "page", "status": "403"}),
    event("GET", "/inbox", {"kind": "401"}),
    event("GET", "/inbox", {"kind": "403"}),
    event("GET", "/inbox/"),
    event("GET", "/Inbox"),
    event("POST", "/inbox"),
    event("GET", "/nowhere"),
    event("POST", "/inbox/20261202T143728Z-a5c4e51ee0e21abe6cb3/read"),
    event("POST", "/inbox/m-1/read", {"kind": "404"}),
    event("POST", "/inbox/m-1/read", {"kind": "page"}),
    *(
        event("POST", f"/inbox/{key}/read")
        for key in ("a b", "a%20b", "ä", "[x]{y}|^<>", "-._~()'!*:@,;=+&$", "a/b", "a?b", "a#b", "")
    ),
    event("DELETE", "/me"),
    event("DELETE", "/me", {"kind": "401"}),
    event("DELETE", "/me", stage="prod"),
    event("DELETE", "/inbox", stage="prod"),
]


@pytest.mark.parametrize(
    "request_event",
    REQUESTS,
    ids=lambda e: f"{e['requestContext']['http']['method']} {e['rawPath']} {e['queryStringParameters']}",
)
def test_the_router_answers_as_powertools_did(request_event: dict[str, Any]) -> None:
    assert our_router().resolve(request_event) == powertools_router().resolve(request_event, None)


def test_an_unexpected_error_propagates_from_both() -> None:
    boom = event("GET", "/inbox", {"kind": "boom"})
    with pytest.raises(RuntimeError, match="boom"):
        powertools_router().resolve(boom, None)
    with pytest.raises(RuntimeError, match="boom"):
        our_router().resolve(boom)


def test_a_value_json_cannot_hold_fails_the_request() -> None:
    app = Router()
    app.get("/inbox")(lambda request: {"when": object()})
    with pytest.raises(TypeError, match="not JSON serializable"):
        app.resolve(event("GET", "/inbox"))


def _claims(claims: Any, authorizer: Any = "jwt") -> Request:
    context: dict[str, Any] = {}
    if authorizer == "jwt":
        context["authorizer"] = {"jwt": {"claims": claims, "scopes": None}}
    elif authorizer is not None:
        context["authorizer"] = authorizer
    return Request({"requestContext": context})


def test_the_signed_in_user_is_the_tokens_subject() -> None:
    assert signed_in_user(_claims({"sub": "u-1", "email": "x@example.com"})) == "u-1"
    assert signed_in_user(_claims({"sub": "u-1", "custom:id": "c-9"}), claim="custom:id") == "c-9"


@pytest.mark.parametrize(
    "request_",
    [
        _claims({}),
        _claims(None),
        _claims({"sub": ""}),
        _claims({"sub": 7}),
        _claims(None, None),
        _claims(None, {}),
    ],
    ids=["no-sub", "no-claims", "empty-sub", "number-sub", "no-authorizer", "empty-authorizer"],
)
def test_a_request_without_a_subject_is_unauthorized(request_: Request) -> None:
    with pytest.raises(Unauthorized) as refused:
        signed_in_user(request_)
    assert (refused.value.status_code, refused.value.message) == (401, "the token has no 'sub' claim")


def test_a_subject_in_a_reserved_key_space_is_forbidden() -> None:
    with pytest.raises(HttpError) as refused:
        signed_in_user(_claims({"sub": "anon:visitor-7"}))
    assert refused.value.status_code == 403
    assert refused.value.message.startswith("the token's 'sub' claim cannot name a shopper: ")
