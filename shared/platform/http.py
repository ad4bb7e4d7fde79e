"""The HTTP API's router: an API Gateway HTTP API (payload 2.0) event in, its response out.

Three functions answer five routes, so this is the part of Powertools' ``APIGatewayHttpResolver``
they use and no more (its import was most of the inbox's cold start: docs/performance.md), answering
as it did — tests/unit/test_http_router.py puts the same events through both:

* a route is a method and a path whose ``<name>`` parts match one path segment of the characters
  Powertools allows; the path is ``rawPath`` (less the stage, on a named stage);
* a route returning a dict answers 200 with it as compact JSON (``Decimal`` as text); a
  :class:`Response` is sent as it is; headers come back as ``headers`` with ``cookies: []``;
* an :class:`HttpError` (401, 403, 404, ...) answers ``{"statusCode": ..., "message": ...}``; no route
  answers 404 ``Not found``; any other exception propagates (Lambda reports it, API Gateway answers 500).

No CORS headers: API Gateway answers preflights and adds them (infra/api.py).
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

JSON = "application/json"
# What a <name> matches: RFC 3986's unreserved and sub-delimiter characters, and those API Gateway
# decodes, as Powertools' resolver has it.
_SEGMENT = r"[-._~()'!*:@,;=+&$%<> \[\]{}|^\w]+"
_PARAMETER = re.compile(r"<(\w+)>")


class HttpError(Exception):
    """Answered as ``{"statusCode": status_code, "message": message}``."""

    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message


class Unauthorized(HttpError):
    def __init__(self, message: str) -> None:
        super().__init__(401, message)


class NotFound(HttpError):
    def __init__(self, message: str = "Not found") -> None:
        super().__init__(404, message)


@dataclass(frozen=True)
class Response:
    status_code: int
    body: str
    content_type: str = JSON


@dataclass(frozen=True)
class Request:
    """The parts of the event the routes read."""

    event: Mapping[str, Any]
    path_parameters: Mapping[str, str] = field(default_factory=dict)

    def query(self, name: str) -> str | None:
        return (self.event.get("queryStringParameters") or {}).get(name)

    @property
    def jwt_claims(self) -> Mapping[str, Any]:
        """The claims API Gateway's JWT authorizer verified; empty on a route without one."""
        authorizer = (self.event.get("requestContext") or {}).get("authorizer") or {}
        return (authorizer.get("jwt") or {}).get("claims") or {}


Route = Callable[[Request], "Mapping[str, Any] | Response"]


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return math.nan if value.is_nan() else str(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _json(body: Any) -> str:
    return json.dumps(body, separators=(",", ":"), default=_plain)


def _answer(status_code: int, body: str, content_type: str) -> dict[str, Any]:
    return {
        "statusCode": status_code,
        "body": body,
        "isBase64Encoded": False,
        "headers": {"Content-Type": content_type},
        "cookies": [],
    }


def _error(status_code: int, message: str) -> dict[str, Any]:
    return _answer(status_code, _json({"statusCode": status_code, "message": message}), JSON)


class Router:
    def __init__(self) -> None:
        self._routes: list[tuple[str, re.Pattern[str], Route]] = []

    def route(self, method: str, rule: str) -> Callable[[Route], Route]:
        pattern = re.compile("^" + _PARAMETER.sub(lambda name: f"(?P<{name[1]}>{_SEGMENT})", rule) + "$")

        def register(function: Route) -> Route:
            self._routes.append((method.upper(), pattern, function))
            return function

        return register

    def get(self, rule: str) -> Callable[[Route], Route]:
        return self.route("GET", rule)

    def post(self, rule: str) -> Callable[[Route], Route]:
        return self.route("POST", rule)

    def delete(self, rule: str) -> Callable[[Route], Route]:
        return self.route("DELETE", rule)

    def resolve(self, event: Mapping[str, Any]) -> dict[str, Any]:
        context = event["requestContext"]
        method = str(context["http"]["method"]).upper()
        path, stage = str(event["rawPath"]), str(context["stage"])
        if stage != "$default":
            path = path[len("/" + stage) :]
        for route_method, pattern, function in self._routes:
            found = pattern.match(path) if route_method == method else None
            if found is None:
                continue
            try:
                result = function(Request(event, found.groupdict()))
            except HttpError as error:
                return _answer(
                    error.status_code,
                    _json({"statusCode": error.status_code, "message": error.message}),
                    JSON,
                )
            if isinstance(result, Response):
                return _answer(result.status_code, result.body, result.content_type)
            return _answer(200, _json(result), JSON)
        return _error(404, "Not found")
