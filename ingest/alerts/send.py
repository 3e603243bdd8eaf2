"""Sending one message to one channel, once: over HTTP to the address just resolved and checked
(the Host header and TLS name stay the channel's host), or over SMTP for e-mail.

Returns what happened as a `Sent`; never raises for a channel's failure, and never puts a
channel's secret (a Telegram token sits in its URL) in what it returns.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
import time
from dataclasses import dataclass
from email.message import EmailMessage
from urllib.parse import urlsplit, urlunsplit

from ingest.alerts.channels import REQUESTS, Outgoing, refused_by_body
from ingest.alerts.message import Message
from ingest.alerts.safety import Resolver, UnsafeTarget, check_scheme, safe_addresses
from store.alert import AlertChannel, ChannelKind

_BODY_CHARS = 2000


@dataclass
class Sent:
    ok: bool
    status_code: int | None = None
    #: The receiver's answer or the error met (truncated, secrets removed).
    response: str = ""
    #: Worth another try: a network error, 429 or 5xx (not a refusal or an unsafe address).
    retryable: bool = False


@dataclass
class Sender:
    resolver: Resolver
    allow_private: bool = False
    timeout: float = 10.0

    def __post_init__(self) -> None:
        # httpx logs each request's URL at INFO, and a Telegram token or webhook key is in it.
        quiet = logging.getLogger("httpx")
        quiet.setLevel(max(quiet.getEffectiveLevel(), logging.WARNING))

    def send(self, channel: AlertChannel, message: Message) -> Sent:
        import httpx  # at the first send: the indexer hosting a deliverer stays light till then

        try:
            if channel.kind == ChannelKind.EMAIL:
                return self._mail(channel, message)
            return self._post(channel, REQUESTS[channel.kind](channel, message, time.time()))
        except UnsafeTarget as exc:
            return Sent(False, response=_clean(str(exc), channel))
        except (httpx.HTTPError, OSError, smtplib.SMTPException) as exc:
            text = f"{type(exc).__name__}: {exc}"
            return Sent(False, response=_clean(text, channel), retryable=True)

    def _post(self, channel: AlertChannel, out: Outgoing) -> Sent:
        import httpx

        parts = urlsplit(out.url)
        host = check_scheme(out.url)
        address = safe_addresses(host, self.resolver, self.allow_private)[0]
        pinned = f"[{address}]" if ":" in address else address
        netloc = f"{pinned}:{parts.port}" if parts.port else pinned
        headers = {**out.headers, "Host": parts.netloc.rpartition("@")[2]}
        with httpx.Client(timeout=self.timeout, follow_redirects=False) as client:
            reply = client.post(
                urlunsplit(parts._replace(netloc=netloc)),
                content=out.body,
                headers=headers,
                extensions={"sni_hostname": host},
            )
        body = reply.content[:_BODY_CHARS]
        ok = reply.is_success and not refused_by_body(channel.kind, body)
        retryable = reply.status_code == 429 or reply.status_code >= 500
        text = body.decode("utf-8", "replace")
        return Sent(ok, reply.status_code, _clean(text, channel), retryable and not ok)

    def _mail(self, channel: AlertChannel, message: Message) -> Sent:
        host = check_scheme(channel.url, ("smtp", "smtps"))
        parts = urlsplit(channel.url)
        address = safe_addresses(host, self.resolver, self.allow_private)[0]
        options = channel.options
        recipients = options.get("recipients", [])
        if isinstance(recipients, str):
            recipients = [r.strip() for r in recipients.split(",") if r.strip()]
        mail = EmailMessage()
        mail["Subject"] = message.title
        mail["From"] = str(options.get("sender") or "logcenter@localhost")
        mail["To"] = ", ".join(recipients) if isinstance(recipients, list) else ""
        mail.set_content(message.text())
        smtp_cls = smtplib.SMTP_SSL if parts.scheme == "smtps" else smtplib.SMTP
        port = parts.port or (465 if parts.scheme == "smtps" else 25)
        with smtp_cls(timeout=self.timeout) as smtp:
            smtp._host = host  # type: ignore[attr-defined]  # the TLS name checked is the server's name, not the address
            smtp.connect(address, port)
            if options.get("starttls"):
                smtp.starttls(context=ssl.create_default_context())
            if options.get("username"):
                smtp.login(str(options["username"]), channel.secret or "")
            refused = smtp.send_message(mail)
        if refused:
            return Sent(False, 250, f"refused recipients: {', '.join(refused)}")
        return Sent(True, 250, "accepted")


def _clean(text: str, channel: AlertChannel) -> str:
    """`text` without the channel's secret, truncated."""
    if channel.secret:
        text = text.replace(channel.secret, "***")
    return text[:_BODY_CHARS]
