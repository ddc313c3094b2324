"""Send one report by SMTP: STARTTLS or TLS with a verified certificate, the password from the
environment (never from the config file, never logged)."""

from __future__ import annotations

import os
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from jobs.errors import UsageError
from jobs.settings.model import ReportEmailSettings

DEFAULT_PORTS = {"starttls": 587, "tls": 465, "none": 25}


def build_message(
    settings: ReportEmailSettings, subject: str, text: str, html: str, attachment_name: str
) -> EmailMessage:
    """A plain-text summary, the HTML report as the rich body, and the same report attached (mail
    clients that do not draw inline SVG, such as Outlook, still open it in a browser)."""
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = settings.sender or ""
    message["To"] = ", ".join(settings.to)
    # RFC 5322 asks for both (3.6: Date is required, Message-ID should be there); mail systems
    # score a message without them as spam (admin review E01).
    message["Date"] = formatdate(localtime=True)
    sender_domain = (settings.sender or "").rpartition("@")[2] or None
    message["Message-ID"] = make_msgid(domain=sender_domain)
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    message.add_attachment(
        html.encode("utf-8"), maintype="text", subtype="html", filename=attachment_name
    )
    return message


def _password(settings: ReportEmailSettings) -> str | None:
    if not settings.password_env:
        return None
    value = os.environ.get(settings.password_env)
    if value is None:
        raise UsageError(
            f"report.email.password_env names {settings.password_env}, which is not set"
        )
    return value


def send(settings: ReportEmailSettings, message: EmailMessage) -> None:
    """Send ``message``; raise OSError, smtplib.SMTPException or UsageError on failure."""
    password = _password(settings)
    host = settings.smtp_host or ""
    port = settings.smtp_port or DEFAULT_PORTS[settings.security]
    context = ssl.create_default_context(cafile=settings.ca_file)
    timeout = settings.timeout_seconds
    client: smtplib.SMTP
    if settings.security == "tls":
        client = smtplib.SMTP_SSL(host, port, timeout=timeout, context=context)
    else:
        client = smtplib.SMTP(host, port, timeout=timeout)
    with client:
        if settings.security == "starttls":
            client.starttls(context=context)
        if settings.username and password is not None:
            client.login(settings.username, password)
        client.send_message(message)
