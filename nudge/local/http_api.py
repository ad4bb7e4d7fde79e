"""API Gateway's HTTP API, played by the local runtime: a request finds its route (``topology.HTTP_ROUTES``)
and the route's function gets the v2 payload, with the verified JWT claims on authorized routes."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from nudge.local.account import ACCOUNT, API_URL
from shared.deployment import topology


def route_matches(template: str, path: str) -> bool:
    """Whether ``path`` fits a route's ``template`` (a ``{name}`` part matches any one non-empty part)."""
    parts, actual = template.strip("/").split("/"), path.strip("/").split("/")
    return len(parts) == len(actual) and all(
        p == a or (p.startswith("{") and p.endswith("}") and a) for p, a in zip(parts, actual, strict=True)
    )


def request(
    runtime: Any,
    method: str,
    path: str,
    *,
    user_id: str | None = None,
    query: Mapping[str, str] | None = None,
    body: str | None = None,
) -> dict[str, Any]:
    """Call the HTTP API as API Gateway would: the route's function gets a v2 payload, with the
    verified JWT claims for ``user_id`` on authorized routes (no claims when ``user_id`` is None)."""
    route = next(
        (r for r in topology.HTTP_ROUTES if r.method == method and route_matches(r.path, path)),
        None,
    )
    if route is None:
        return {"statusCode": 404, "body": "no route"}
    if route.authorized and user_id is None:
        return {"statusCode": 401, "body": '{"message":"Unauthorized"}'}
    now = runtime.clock.now()
    context: dict[str, Any] = {
        "accountId": ACCOUNT,
        "apiId": "local",
        "domainName": API_URL.removeprefix("https://"),
        "http": {
            "method": method,
            "path": path,
            "protocol": "HTTP/1.1",
            "sourceIp": "127.0.0.1",
            "userAgent": "t",
        },
        "requestId": str(uuid.uuid4()),
        "routeKey": f"{method} {route.path}",
        "stage": "$default",
        "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
        "timeEpoch": int(now.timestamp() * 1000),
    }
    if route.authorized:
        context["authorizer"] = {"jwt": {"claims": {"sub": user_id}, "scopes": None}}
    event = {
        "version": "2.0",
        "routeKey": f"{method} {route.path}",
        "rawPath": path,
        "rawQueryString": "&".join(f"{k}={v}" for k, v in (query or {}).items()),
        "headers": {"content-type": "application/x-www-form-urlencoded"} if body else {},
        "queryStringParameters": dict(query) if query else None,
        "requestContext": context,
        "body": body,
        "isBase64Encoded": False,
    }
    response: dict[str, Any] = runtime.invoke(route.function, event)
    return response
