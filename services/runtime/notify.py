"""Notices to people: one Notifier interface, a log channel and real channels (WeCom group bot, SMTP, SMS).

Generic delivery only; what to send and when is the services' business. A channel reports failure by
raising NotifyError after its retries, so callers can keep the notice pending and try again later.

    notifier = notifier_for(community.notices)
    await notifier.send(Recipient(name="章文斌", email="..."), "议事会通知", "……", community="xueyuan")
"""

from __future__ import annotations

import asyncio
import logging
import smtplib
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Protocol

import httpx

from services.runtime.directory import Notices
from services.runtime.privacy import mask_name

log = logging.getLogger(__name__)

MAX_CONTENT = 2000  # WeCom text messages are capped at 2048 bytes of content; stay well inside


class NotifyError(RuntimeError):
    """A notice could not be delivered (after the channel's own retries); trying later may work."""


class Undeliverable(NotifyError):
    """A notice can never be delivered as addressed (no address, refused request): do not retry."""


@dataclass(frozen=True)
class Recipient:
    """Whom a notice is for; channels use the address they understand and ignore the rest."""

    name: str
    key: str = ""  # a stable id of the recipient for idempotency records, e.g. "party_org:章文斌"
    email: str | None = None
    phone: str | None = None
    wecom_id: str | None = None


class Notifier(Protocol):
    """Deliver one notice; raise NotifyError when it could not be delivered."""

    channel: str
    broadcast: bool  # True: one message reaches everybody (a group), so send it once, not per person

    async def send(self, to: Recipient, subject: str, body: str, *, community: str) -> None: ...


class LogNotifier:
    """A structured log line per notice (the default channel, and the audit trail in development)."""

    channel = "log"
    broadcast = False

    async def send(self, to: Recipient, subject: str, body: str, *, community: str) -> None:
        """Write the notice as one log line (recipient name masked)."""
        log.info(
            "notice.sent channel=log community=%s to=%s subject=%s body=%s",
            community,
            mask_name(to.name),
            subject,
            body.replace("\n", " / ")[:500],
        )


class WeComNotifier:
    """A WeCom (企业微信) group bot: POST {"msgtype":"text",...} to the bot's webhook URL."""

    channel = "wecom"
    broadcast = True

    def __init__(self, url: str, *, timeout: float = 5.0, attempts: int = 3, backoff_s: float = 0.5):
        self.url, self.timeout, self.attempts, self.backoff_s = url, timeout, max(1, attempts), backoff_s

    async def send(self, to: Recipient, subject: str, body: str, *, community: str) -> None:
        """Post the notice to the group; retry transport errors, 5xx and a non-zero errcode."""
        text: dict = {"content": f"【{subject}】\n{body}"[:MAX_CONTENT]}
        if to.wecom_id:
            text["mentioned_list"] = [to.wecom_id]
        payload = {"msgtype": "text", "text": text}
        last = "no attempt"
        async with httpx.AsyncClient(timeout=self.timeout) as client:
            for attempt in range(1, self.attempts + 1):
                try:
                    r = await client.post(self.url, json=payload)
                    if r.status_code < 300:
                        data = _json(r)
                        if not data or data.get("errcode", 0) == 0:
                            log.info("notice.sent channel=wecom community=%s subject=%s", community, subject)
                            return
                        last = f"errcode {data.get('errcode')}: {data.get('errmsg')}"
                    elif 400 <= r.status_code < 500 and r.status_code != 429:
                        raise Undeliverable(f"webhook refused the notice: HTTP {r.status_code}")
                    else:
                        last = f"HTTP {r.status_code}"
                except httpx.HTTPError as exc:
                    last = f"{type(exc).__name__}: {exc}"
                if attempt < self.attempts:
                    await asyncio.sleep(self.backoff_s * 2 ** (attempt - 1))
        raise NotifyError(f"webhook failed after {self.attempts} attempts: {last}")


def _json(r: httpx.Response) -> dict | None:
    try:
        data = r.json()
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


class SmtpNotifier:
    """E-mail through an SMTP relay (the standard library, run in a worker thread)."""

    channel = "smtp"
    broadcast = False

    def __init__(self, host: str, port: int, sender: str, *, timeout: float = 10.0):
        self.host, self.port, self.sender, self.timeout = host, port, sender, timeout

    async def send(self, to: Recipient, subject: str, body: str, *, community: str) -> None:
        """Send one e-mail; a recipient without an address is an error the caller records."""
        if not to.email:
            raise Undeliverable(f"recipient {mask_name(to.name)} has no e-mail address")
        msg = EmailMessage()
        msg["From"], msg["To"], msg["Subject"] = self.sender, to.email, subject
        msg.set_content(body)
        try:
            await asyncio.to_thread(self._deliver, msg)
        except smtplib.SMTPRecipientsRefused as exc:
            raise Undeliverable(f"smtp refused the recipient: {exc}") from exc
        except (OSError, smtplib.SMTPException) as exc:
            raise NotifyError(f"smtp failed: {type(exc).__name__}: {exc}") from exc
        log.info("notice.sent channel=smtp community=%s to=%s subject=%s", community, mask_name(to.name), subject)

    def _deliver(self, msg: EmailMessage) -> None:
        with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
            smtp.send_message(msg)


class SmsNotifier:
    """Text messages through an HTTP SMS gateway: POST {"phone", "text", "community"}; 2xx means accepted."""

    channel = "sms"
    broadcast = False

    def __init__(self, url: str, *, timeout: float = 5.0, attempts: int = 3, backoff_s: float = 0.5):
        self.url, self.timeout, self.attempts, self.backoff_s = url, timeout, max(1, attempts), backoff_s

    async def send(self, to: Recipient, subject: str, body: str, *, community: str) -> None:
        """Send one text message; retry transport errors, 429 and 5xx."""
        if not to.phone:
            raise Undeliverable(f"recipient {mask_name(to.name)} has no phone number")
        payload = {"phone": to.phone, "text": f"【{subject}】{body}"[:500], "community": community}
        last = "no attempt"
        async with httpx.AsyncClient(timeout=self.timeout) as client:
            for attempt in range(1, self.attempts + 1):
                try:
                    r = await client.post(self.url, json=payload)
                    if r.status_code < 300:
                        log.info("notice.sent channel=sms community=%s to=%s", community, mask_name(to.name))
                        return
                    if 400 <= r.status_code < 500 and r.status_code != 429:
                        raise Undeliverable(f"sms gateway refused the message: HTTP {r.status_code}")
                    last = f"HTTP {r.status_code}"
                except httpx.HTTPError as exc:
                    last = f"{type(exc).__name__}: {exc}"
                if attempt < self.attempts:
                    await asyncio.sleep(self.backoff_s * 2 ** (attempt - 1))
        raise NotifyError(f"sms gateway failed after {self.attempts} attempts: {last}")


def notifier_for(notices: Notices | None) -> Notifier:
    """The notifier a community's `notices` block configures (log when absent)."""
    if notices is None or notices.channel == "log":
        return LogNotifier()
    if notices.channel == "wecom":
        return WeComNotifier(str(notices.webhook_url))
    if notices.channel == "sms":
        return SmsNotifier(str(notices.sms_gateway_url))
    return SmtpNotifier(str(notices.smtp_host), notices.smtp_port, str(notices.smtp_sender))
