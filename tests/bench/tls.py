"""A self-signed certificate for 127.0.0.1, made at run time with the `openssl` CLI, so the
benchmark can put the Slack side behind HTTPS without shipping a key.

    cert, key = self_signed(workdir)
    context = server_context(cert, key)       # for tests/bench/lean.py's servers
    env = {"SSL_CERT_FILE": str(cert)}        # numbot then trusts it, and only it

numbot's connections to Slack are aiohttp's (slack_sdk's Web API client and the response_url
replies, bot/slack/outbound.py) with aiohttp's default context, `ssl.create_default_context()`:
it verifies the certificate and the host name, and finds its trust anchors through
OpenSSL's default paths, which `SSL_CERT_FILE` overrides. Verification stays on: the
benchmark trusts its certificate the way an operator trusts a private CA, it never turns
checking off.
"""

from __future__ import annotations

import shutil
import ssl
import subprocess
from pathlib import Path


def self_signed(directory: Path, name: str = "slack-local") -> tuple[Path, Path]:
    """(certificate, key) PEM files: ECDSA P-256, valid one day, for IP 127.0.0.1."""
    openssl = shutil.which("openssl")
    if openssl is None:
        raise RuntimeError("the HTTPS phase needs the openssl command line tool")
    directory.mkdir(parents=True, exist_ok=True)
    cert, key = directory / f"{name}.pem", directory / f"{name}.key"
    subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


def server_context(cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context
