"""A real SMTP server on loopback for the notification tests (aiosmtpd)."""
from __future__ import annotations

import email
import email.policy
import socket
import threading
import time
from typing import Any


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


#: the port of the test SMTP server, chosen when the tests are collected so
#: that ``ckan_config("smtp.server", SMTP_SERVER)`` marks can name it
SMTP_PORT = free_port()
SMTP_SERVER = f"127.0.0.1:{SMTP_PORT}"


class Collector:
    """aiosmtpd handler keeping every message it receives."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.lock:
            self.messages.append({
                "from": envelope.mail_from,
                "rcpt": list(envelope.rcpt_tos),
                "to": str(message["To"]),
                "subject": str(message["Subject"]),
                "body": message.get_body(("plain",)).get_content(),
                "raw": envelope.content.decode("utf-8", "replace"),
                "message": message,
            })
        return "250 Message accepted for delivery"

    def wait(self, count: int, timeout: float = 10.0) -> list[dict[str, Any]]:
        """Wait until at least ``count`` messages arrived."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            with self.lock:
                if len(self.messages) >= count:
                    return list(self.messages)
            time.sleep(0.05)
        return list(self.messages)

    def to(self, address: str) -> list[dict[str, Any]]:
        return [m for m in self.messages if address in m["rcpt"]]
