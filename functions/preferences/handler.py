"""HTTP API (public, signed links) → one-click unsubscribe.

``GET /unsubscribe`` shows a confirmation page with a button (link scanners follow GETs, so a GET
alone never unsubscribes); ``POST /unsubscribe`` — the button, or a mailbox provider's RFC 8058
one-click request with ``List-Unsubscribe=One-Click`` — suppresses the channel. A link that was
altered gets 403 and changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from html import escape
from typing import Any
from urllib.parse import urlencode

from aws_lambda_powertools import Logger

from shared.core.clock import Clock
from shared.core.vocabulary import Channel
from shared.delivery.links import InvalidLink, LinkSigner
from shared.delivery.preferences import unsubscribe
from shared.platform.http import Request, Response, Router
from shared.platform.metrics import CHANNELS, UNSUBSCRIBES, FunctionMetrics, bounded, record_http
from shared.platform.wiring import Wiring, snapstart
from shared.privacy.erasure import Erasures
from shared.profiles.ports import LedgerStore

logger = Logger(service="nudge-preferences")
metrics = FunctionMetrics("preferences")
app = Router()
HTML = "text/html; charset=utf-8"
PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1"><title>{title}</title></head>
<body style="font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem">
<h1 style="font-size:1.4rem">{title}</h1>{body}</body></html>"""


@dataclass(frozen=True)
class PreferencesPorts:
    signer: LinkSigner
    ledgers: LedgerStore
    clock: Clock
    erasures: Erasures | None = None


def build_ports(w: Wiring) -> PreferencesPorts:
    """This function's ports from the one wiring (Lambda's, or the local runtime's)."""
    return PreferencesPorts(w.link_signer(), w.ledger_store(), w.clock, w.erasures())


@cache
def default_ports() -> PreferencesPorts:
    return build_ports(Wiring.for_lambda())


snapstart(default_ports)  # SnapStart: built before the snapshot, built again after each restore


_ports: list[PreferencesPorts] = []


def _params(request: Request) -> dict[str, str | None]:
    return {k: request.query(k) for k in ("u", "ch", "c", "t")}


def _page(title: str, body: str, status: int = 200) -> Response:
    return Response(status, PAGE.format(title=escape(title), body=body), HTML)


@app.get("/unsubscribe")
def confirm(http: Request) -> Response:
    params = _params(http)
    try:
        request = _ports[-1].signer.verify(params)
    except InvalidLink:
        return _page("This link is not valid", "<p>Please use the link from your latest email.</p>", 403)
    action = escape("/unsubscribe?" + urlencode({k: v for k, v in params.items() if v}))
    what = "emails" if request.channel == Channel.EMAIL else f"{request.channel.replace('_', '-')} messages"
    return _page(
        "Unsubscribe",
        f'<p>Stop receiving marketing {escape(what)} from us?</p><form method="post" action="{action}">'
        '<input type="hidden" name="List-Unsubscribe" value="One-Click">'
        '<button type="submit">Unsubscribe</button></form>',
    )


@app.post("/unsubscribe")
def one_click(http: Request) -> Response:
    ports = _ports[-1]
    try:
        request = unsubscribe(_params(http), ports.signer, ports.ledgers, ports.clock.now(), ports.erasures)
    except InvalidLink as error:
        logger.warning("unsubscribe refused", extra={"reason": str(error)})
        return _page("This link is not valid", "<p>Please use the link from your latest email.</p>", 403)
    metrics.add(UNSUBSCRIBES, channel=bounded(request.channel, CHANNELS))
    logger.info("unsubscribed", extra={"channel": request.channel, "campaign_id": request.campaign_id})
    return _page("You are unsubscribed", "<p>You will not receive these messages any more.</p>")


@logger.inject_lambda_context(log_event=False)
@metrics.log_metrics
def handler(event: dict[str, Any], context: Any, ports: PreferencesPorts | None = None) -> dict[str, Any]:
    _ports[:] = [ports or default_ports()]
    response = app.resolve(event)
    record_http(metrics, response)
    return response
