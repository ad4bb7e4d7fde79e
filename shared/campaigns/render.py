"""Rendering campaign content for one shopper: sandboxed Jinja2 with fallbacks.

Templates are written by marketers and filled with shopper and event data, so they run in Jinja's
immutable sandbox with bounds on what one message may cost (``shared.campaigns.template_sandbox``; a template
over a bound is a ``TemplateProblem`` naming its line, parked, never retried), HTML is
autoescaped, a missing attribute renders as empty (or the template's ``| default(...)``) instead
of failing the send, and every missing name is reported so the preview can show which fallbacks
were used.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from jinja2 import TemplateError, TemplateSyntaxError, Undefined
from jinja2.exceptions import SecurityError

from shared.campaigns.content import EmailContent, InAppContent, PushContent
from shared.campaigns.model import Campaign
from shared.campaigns.template_sandbox import (
    CampaignSandbox,
    TemplateLimitExceeded,
    message_budget,
    render_bounded,
    template_line,
)
from shared.core.errors import TemplateProblem

# Controls, and every line break str.splitlines() (so the email package's header folding) knows: CR,
# LF, VT, FF, FS/GS/RS, NEL (U+0085), LINE and PARAGRAPH SEPARATOR (U+2028, U+2029).
_HEADER_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


@dataclass
class RenderedMessage:
    campaign_id: str
    send_key: str
    channel: str
    title: str
    body_text: str
    body_html: str | None = None
    deep_link: str | None = None
    cta_label: str | None = None
    cta_url: str | None = None
    expires_after_days: int = 14
    missing: list[str] = field(default_factory=list)


_missing: ContextVar[list[str] | None] = ContextVar("nudge_render_missing", default=None)


class RecordingUndefined(Undefined):
    """Renders as empty (so ``| default(...)`` works) and notes the name for the preview."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        missing = _missing.get()
        name = self._undefined_name
        if missing is not None and name is not None and name not in missing:
            missing.append(str(name))


@lru_cache(maxsize=2)
def _environment(autoescape: bool) -> CampaignSandbox:
    return CampaignSandbox(autoescape=autoescape, undefined=RecordingUndefined)


def sandbox(autoescape: bool = True) -> CampaignSandbox:
    """The environment templates run in (the validator compiles and inspects them with it)."""
    return _environment(autoescape)


@lru_cache(maxsize=1024)
def _compile(source: str, autoescape: bool) -> Any:
    return _environment(autoescape).from_string(source)


def _render(source: str, context: Mapping[str, Any], autoescape: bool, missing: list[str]) -> str:
    token = _missing.set(missing)
    try:
        return render_bounded(_compile(source, autoescape), context)
    except (TemplateError, TypeError, ValueError, ArithmeticError, LookupError, RecursionError) as error:
        raise TemplateProblem(problem_of(error)) from None
    finally:
        _missing.reset(token)


def problem_of(error: Exception) -> str:
    """What went wrong rendering a template, with the template line it happened at when known."""
    line = template_line(error)
    at = f" (template line {line})" if line is not None else ""
    if isinstance(error, TemplateLimitExceeded):
        return f"template exceeds a limit: {error}{at}"
    if isinstance(error, SecurityError):
        return f"template blocked by the sandbox: {error}{at}"
    if isinstance(error, TemplateError):
        return f"template failed: {type(error).__name__}: {error}{at}"
    # A value of the wrong type for the template (a price sent as text to '%.2f' | format): the job
    # is parked with the reason instead of being retried until it is.
    return f"template failed on a value: {type(error).__name__}: {error}{at}"


def bound_problem(source: str, context: Mapping[str, Any]) -> tuple[int, str] | None:
    """Render ``source`` once with ``context`` (a validator's stand-in values) and return the
    (template line, message) of a bound it exceeds or a change the sandbox blocked; errors that
    depend on a shopper's real values (a missing price, text for a number) are not reported."""
    token = _missing.set([])
    try:
        with message_budget():
            render_bounded(_compile(source, True), context)
    except SecurityError as error:
        kind = (
            "template exceeds a limit"
            if isinstance(error, TemplateLimitExceeded)
            else "template blocked by the sandbox"
        )
        return (template_line(error) or 1, f"{kind}: {error}")
    except Exception:
        return None
    finally:
        _missing.reset(token)
    return None


def check_template(source: str, where: str) -> None:
    """Raise :class:`TemplateProblem` for a syntax error, naming ``where`` and the line."""
    try:
        _compile(source, True)
    except TemplateSyntaxError as error:
        raise TemplateProblem(f"{where}: line {error.lineno}: {error.message}") from None
    except RecursionError:
        raise TemplateProblem(f"{where}: nested too deeply to compile") from None


def render_message(
    campaign: Campaign, channel: str, send_key: str, context: Mapping[str, Any]
) -> RenderedMessage:
    """Render ``campaign``'s content for ``channel`` with ``context`` (user, event, campaign)."""
    with message_budget():
        return _render_message(campaign, channel, send_key, context)


def _render_message(
    campaign: Campaign, channel: str, send_key: str, context: Mapping[str, Any]
) -> RenderedMessage:
    content = campaign.channels.content(channel)
    missing: list[str] = []

    def text(source: str | None) -> str:
        return _render(source, context, False, missing).strip() if source else ""

    if isinstance(content, EmailContent):
        return RenderedMessage(
            campaign.id,
            send_key,
            channel,
            title=_HEADER_UNSAFE.sub(" ", text(content.subject)).strip(),
            body_html=_render(content.html or "", context, True, missing),
            body_text=text(content.text),
            missing=missing,
        )
    if isinstance(content, PushContent):
        return RenderedMessage(
            campaign.id,
            send_key,
            channel,
            title=text(content.title),
            body_text=text(content.body),
            deep_link=text(content.deep_link) or None,
            missing=missing,
        )
    if isinstance(content, InAppContent):
        return RenderedMessage(
            campaign.id,
            send_key,
            channel,
            title=text(content.title),
            body_text=text(content.body),
            cta_label=text(content.cta_label) or None,
            cta_url=text(content.cta_url) or None,
            expires_after_days=content.expires_after_days,
            missing=missing,
        )
    raise TemplateProblem(f"campaign {campaign.id}: no content for channel {channel!r}")
