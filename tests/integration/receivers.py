"""Real servers on loopback for the notification channels: an SMTP server with STARTTLS and AUTH
(aiosmtpd, a certificate made for the test) and an HTTP receiver that records each POST.
The fixtures using them are in conftest.py (``certificate``, ``smtp_server``, ``receiver``)."""

from __future__ import annotations

import socket
import ssl
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from notifications.channels import Channel

SMTP_USER, SMTP_PASSWORD = "cityops", "pa55"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def make_certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and localhost, and its key."""
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    return cert, key


@dataclass
class Mailbox:
    messages: list[Any] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)

    async def handle_DATA(self, server, session, envelope) -> str:  # noqa: N802 - aiosmtpd's hook name
        self.messages.append(envelope)
        return "250 OK"


@contextmanager
def smtp_server(certificate: tuple[Path, Path]) -> Iterator[tuple[Mailbox, int]]:
    """An SMTP server that requires STARTTLS and AUTH (SMTP_USER, SMTP_PASSWORD)."""
    cert, key = certificate
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    mailbox = Mailbox()

    def authenticator(server, session, envelope, mechanism, auth_data) -> AuthResult:
        ok = (isinstance(auth_data, LoginPassword)
              and (auth_data.login, auth_data.password) == (SMTP_USER.encode(), SMTP_PASSWORD.encode()))
        if ok:
            mailbox.logins.append(auth_data.login.decode())
        return AuthResult(success=ok, handled=False)  # not handled: the server answers 535 itself

    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port, tls_context=context, require_starttls=True,
                            authenticator=authenticator, auth_require_tls=True)
    controller.start()
    try:
        yield mailbox, port
    finally:
        controller.stop()


def email_channel(port: int, certificate, **changes) -> Channel:
    values = {"id": "mail", "kind": "email", "smtp_host": "127.0.0.1", "smtp_port": port, "smtp_user": SMTP_USER,
              "smtp_password": SMTP_PASSWORD, "smtp_sender": "cityops@city.example",
              "smtp_ca_file": str(certificate[0]), "timeout_s": 30.0}
    return Channel(**{**values, **changes})


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


class Receiver:
    """A loopback HTTP server that records each POST and answers what the test says."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.answer: tuple[int, dict[str, str], bytes] = (200, {}, b'{"errcode": 0, "code": 0}')
        self.release = threading.Event()
        self.release.set()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.received.append(Received(self.path, dict(self.headers), body))
                receiver.release.wait(30)
                status, headers, answer = receiver.answer
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
