#!/usr/bin/env python3
"""A real SMTP server on loopback for linkledger's alert tests (aiosmtpd).

Each accepted message is written to OUT/NNNN.eml (with X-Envelope-From,
X-Envelope-To, X-Peer-TLS and X-Received-At headers added in front), so a test can read
what arrived. With --tls, a test CA and a server certificate for 127.0.0.1
are made with trustme (the CA written to OUT/ca.pem) and STARTTLS is
required (--implicit-tls: TLS from the first byte instead); with --auth USER:PASS, logins are checked (only over TLS).
Prints "READY <port>" once listening; runs until killed.
"""

import argparse
import logging
import os
import signal
import ssl
import sys
import time

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


class Sink:
    def __init__(self, out):
        self.out = out
        self.n = 0

    async def handle_DATA(self, server, session, envelope):
        self.n += 1
        head = (
            f"X-Envelope-From: {envelope.mail_from}\r\n"
            f"X-Envelope-To: {', '.join(envelope.rcpt_tos)}\r\n"
            f"X-Peer-TLS: {'yes' if session.ssl else 'no'}\r\n"
            f"X-Received-At: {time.time():.3f}\r\n"
        ).encode()
        tmp = os.path.join(self.out, f".{self.n:04d}.tmp")
        with open(tmp, "wb") as f:
            f.write(head + envelope.original_content)
        os.rename(tmp, os.path.join(self.out, f"{self.n:04d}.eml"))
        return "250 OK queued as %04d" % self.n


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--out", required=True)
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--tls", action="store_true")
    p.add_argument("--implicit-tls", action="store_true")
    p.add_argument("--auth")
    a = p.parse_args()
    os.makedirs(a.out, exist_ok=True)
    kwargs = {}
    logging.getLogger("mail.log").setLevel(logging.ERROR)
    if a.tls or a.implicit_tls:
        import trustme

        ca = trustme.CA()
        cert = ca.issue_cert("127.0.0.1", "localhost")
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        cert.configure_cert(ctx)
        ca.cert_pem.write_to_path(os.path.join(a.out, "ca.pem"))
        if a.implicit_tls:
            kwargs.update(ssl_context=ctx)
        else:
            kwargs.update(tls_context=ctx, require_starttls=True)
    if a.auth:
        user, password = a.auth.split(":", 1)

        def check(server, session, envelope, mechanism, data):
            ok = isinstance(data, LoginPassword) and (
                data.login.decode() == user and data.password.decode() == password
            )
            return AuthResult(success=ok, handled=False)

        kwargs.update(authenticator=check, auth_required=True, auth_require_tls=a.tls)
    port = a.port
    if port == 0:
        import socket

        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        s.close()
    c = Controller(Sink(a.out), hostname="127.0.0.1", port=port, **kwargs)
    c.start()
    print(f"READY {port}", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        signal.pause()
    except KeyboardInterrupt:
        pass
    finally:
        c.stop()


if __name__ == "__main__":
    sys.exit(main())
