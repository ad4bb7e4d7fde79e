"""What a campaign says, per channel: an email, a push, an in-app message (``channels:`` in its file)."""

from __future__ import annotations

from pydantic import Field, model_validator

from shared.campaigns.fields import Strict

__all__ = ["Channels", "EmailContent", "InAppContent", "PushContent"]


class EmailContent(Strict):
    """An email: the subject and an HTML body (inline, or ``html_file``), optionally a plain-text body.

    ``html_file`` / ``text_file`` are paths relative to the campaign file. The loader reads them and
    fills ``html`` / ``text``, so the catalog bundled with the Lambdas carries the templates themselves.
    """

    subject: str = Field(min_length=1, max_length=400)
    html: str | None = Field(default=None, min_length=1, description="Jinja template of the HTML body.")
    html_file: str | None = Field(
        default=None, description="Or: the HTML template's path, relative to the campaign file."
    )
    text: str | None = Field(default=None, description="Jinja template of the plain-text body.")
    text_file: str | None = Field(
        default=None, description="Or: the plain-text template's path, relative to the campaign file."
    )

    @model_validator(mode="after")
    def _body_given(self) -> EmailContent:
        if self.html is None:
            raise ValueError(
                "html_file is read by the campaign loader (nudge validate, cdk synth)"
                if self.html_file
                else "give the body as 'html' or 'html_file'"
            )
        if self.text is None and self.text_file:
            raise ValueError("text_file is read by the campaign loader (nudge validate, cdk synth)")
        return self


class PushContent(Strict):
    title: str = Field(min_length=1, max_length=200)
    body: str = Field(min_length=1, max_length=1000)
    deep_link: str | None = None


class InAppContent(Strict):
    title: str = Field(min_length=1, max_length=200)
    body: str = Field(min_length=1, max_length=4000)
    cta_label: str | None = None
    cta_url: str | None = None
    expires_after_days: int = Field(default=14, ge=1, le=365)


class Channels(Strict):
    email: EmailContent | None = None
    push: PushContent | None = None
    in_app: InAppContent | None = None

    def content(self, channel: str) -> EmailContent | PushContent | InAppContent | None:
        value: EmailContent | PushContent | InAppContent | None = getattr(self, channel, None)
        return value
