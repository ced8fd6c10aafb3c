"""Alerts: one message naming the flow, the run, the counts and the first failing records, sent to every
channel configured in the environment — a generic JSON webhook, Slack, Microsoft Teams, e-mail (SMTP).

Personal data is masked and the values of the project's secrets are scrubbed before anything leaves.
"""

from __future__ import annotations

import logging
import os
import smtplib
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any, Protocol

import httpx

from afas_sf_assets.privacy import mask

logger = logging.getLogger(__name__)
MAX_RECORDS = 10
SECRET_VARIABLES = (
    "AFAS_TOKEN",
    "SF_CONSUMER_SECRET",
    "SF_PASSWORD",
    "SF_SECURITY_TOKEN",
    "SF_ACCESS_TOKEN",
    "AFAS_SF_ALERT_SMTP_PASSWORD",
)


@dataclass(frozen=True)
class FailedRecord:
    key: str
    code: str
    field: str | None
    message: str


@dataclass(frozen=True)
class Alert:
    title: str
    flow: str
    run_id: str | None = None
    run_url: str | None = None
    error: str | None = None
    counts: Mapping[str, int] = field(default_factory=dict)
    records: Sequence[FailedRecord] = ()

    def lines(self) -> list[str]:
        lines = [f"Flow: {self.flow}"]
        if self.run_id:
            lines.append(f"Run: {self.run_id}" + (f" — {self.run_url}" if self.run_url else ""))
        if self.counts:
            lines.append("Counts: " + ", ".join(f"{k} {v}" for k, v in self.counts.items()))
        if self.error:
            lines.append(f"Error: {self.error}")
        for record in self.records[:MAX_RECORDS]:
            lines.append(
                f"- {record.key}: {record.code}{' on ' + record.field if record.field else ''} — {record.message}"
            )
        if len(self.records) > MAX_RECORDS:
            lines.append(f"… and {len(self.records) - MAX_RECORDS} more (afas-sf log --flow {self.flow})")
        return lines


def scrub(text: str | None, secrets: Sequence[str] | None = None) -> str | None:
    """Personal data masked; the value of every secret setting replaced, wherever it appears."""
    if text is None:
        return None
    values = secrets if secrets is not None else [os.environ.get(name, "") for name in SECRET_VARIABLES]
    for value in values:
        if value and len(value) >= 6:
            text = text.replace(value, "***")
    return mask(text)


def safe(alert: Alert) -> Alert:
    return Alert(
        title=scrub(alert.title) or "",
        flow=alert.flow,
        run_id=alert.run_id,
        run_url=alert.run_url,
        error=scrub(alert.error),
        counts=dict(alert.counts),
        records=[FailedRecord(r.key, r.code, r.field, scrub(r.message) or "") for r in alert.records],
    )


class Channel(Protocol):
    name: str

    def send(self, alert: Alert) -> None: ...


def _post(url: str, payload: Mapping[str, Any]) -> None:
    with httpx.Client(timeout=10) as client:
        client.post(url, json=payload).raise_for_status()


@dataclass(frozen=True)
class WebhookChannel:
    url: str
    name: str = "webhook"

    def send(self, alert: Alert) -> None:
        _post(
            self.url,
            {
                "title": alert.title,
                "flow": alert.flow,
                "run_id": alert.run_id,
                "run_url": alert.run_url,
                "error": alert.error,
                "counts": dict(alert.counts),
                "records": [r.__dict__ for r in alert.records[:MAX_RECORDS]],
                "records_total": len(alert.records),
            },
        )


@dataclass(frozen=True)
class SlackChannel:
    url: str
    name: str = "slack"

    def send(self, alert: Alert) -> None:
        _post(self.url, {"text": f"*{alert.title}*\n" + "\n".join(alert.lines())})


@dataclass(frozen=True)
class TeamsChannel:
    url: str
    name: str = "teams"

    def send(self, alert: Alert) -> None:
        _post(
            self.url,
            {
                "@type": "MessageCard",
                "@context": "https://schema.org/extensions",
                "summary": alert.title,
                "title": alert.title,
                "text": "<br>".join(alert.lines()),
            },
        )


@dataclass(frozen=True)
class EmailChannel:
    host: str
    port: int
    sender: str
    recipients: tuple[str, ...]
    username: str | None = None
    password: str | None = None
    starttls: bool = True
    name: str = "email"

    def send(self, alert: Alert) -> None:
        message = EmailMessage()
        message["Subject"] = f"[afas-sf] {alert.title}"
        message["From"] = self.sender
        message["To"] = ", ".join(self.recipients)
        message.set_content("\n".join(alert.lines()) + "\n")
        with smtplib.SMTP(self.host, self.port, timeout=10) as smtp:
            if self.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if self.username and self.password:
                smtp.login(self.username, self.password)
            smtp.send_message(message)


def channels_from_env(env: Mapping[str, str] | None = None) -> list[Channel]:
    env = env if env is not None else os.environ
    channels: list[Channel] = []
    if env.get("AFAS_SF_ALERT_WEBHOOK_URL"):
        channels.append(WebhookChannel(env["AFAS_SF_ALERT_WEBHOOK_URL"]))
    if env.get("AFAS_SF_ALERT_SLACK_WEBHOOK_URL"):
        channels.append(SlackChannel(env["AFAS_SF_ALERT_SLACK_WEBHOOK_URL"]))
    if env.get("AFAS_SF_ALERT_TEAMS_WEBHOOK_URL"):
        channels.append(TeamsChannel(env["AFAS_SF_ALERT_TEAMS_WEBHOOK_URL"]))
    if env.get("AFAS_SF_ALERT_SMTP_HOST") and env.get("AFAS_SF_ALERT_EMAIL_TO"):
        channels.append(
            EmailChannel(
                host=env["AFAS_SF_ALERT_SMTP_HOST"],
                port=int(env.get("AFAS_SF_ALERT_SMTP_PORT", "587")),
                sender=env.get("AFAS_SF_ALERT_EMAIL_FROM", "afas-sf@localhost"),
                recipients=tuple(a.strip() for a in env["AFAS_SF_ALERT_EMAIL_TO"].split(",") if a.strip()),
                username=env.get("AFAS_SF_ALERT_SMTP_USER"),
                password=env.get("AFAS_SF_ALERT_SMTP_PASSWORD"),
                starttls=env.get("AFAS_SF_ALERT_SMTP_STARTTLS", "true").lower() != "false",
            )
        )
    return channels


def run_url(run_id: str | None) -> str | None:
    base = os.environ.get("AFAS_SF_DAGSTER_URL")
    return f"{base.rstrip('/')}/runs/{run_id}" if base and run_id else None


def send(alert: Alert, channels: Sequence[Channel] | None = None) -> list[str]:
    """Send to every channel; a channel that fails is logged and the others still get it. Returns who got it."""
    delivered = []
    message = safe(alert)
    for channel in channels if channels is not None else channels_from_env():
        try:
            channel.send(message)
            delivered.append(channel.name)
        except (httpx.HTTPError, OSError, smtplib.SMTPException) as exc:
            logger.warning("alert to %s failed: %s", channel.name, type(exc).__name__)
    return delivered
