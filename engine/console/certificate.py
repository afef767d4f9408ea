"""The console's own TLS certificate for the clinic network: self-signed, made once per install.

The key and certificate live owner-only (0600) in the user config folder (TIDEWELL_CONFIG_DIR
overrides it). They are reused while they load, match each other, are in date and name the
current LAN address; otherwise they are made anew. The tablet checks the certificate once by its
SHA-256 fingerprint, which the engine prints beside the pairing code.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import ipaddress
import os
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import platformdirs
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tidewell.core.errors import OutputFileError
from tidewell.core.private_files import private_folder, write_private

CERT_FILE = "console-cert.pem"
KEY_FILE = "console-key.pem"
VALID_DAYS = 825  # the longest a TLS server certificate may last on Apple tablets
RENEW_BEFORE_DAYS = 30


@dataclass(frozen=True)
class ConsoleCertificate:
    cert_path: Path
    key_path: Path
    fingerprint: str  # SHA-256 of the certificate, AA:BB:... as browsers show it
    spki_sha256: str  # base64 SHA-256 of the public key (Chromium's --ignore-certificate-errors-spki-list)
    made: bool  # made now, not reused


def config_dir() -> Path:
    """TIDEWELL_CONFIG_DIR, or the platform's user config folder (~/.config/tidewell on Linux)."""
    override = os.environ.get("TIDEWELL_CONFIG_DIR")
    return Path(override) if override else platformdirs.user_config_path("tidewell", appauthor=False)


def console_certificate(
    names: list[str], folder: Path | None = None, say: Callable[[str], None] = print
) -> ConsoleCertificate:
    """The certificate for `names` (addresses and host names; the first is the LAN address)."""
    folder = folder or config_dir()
    cert_path, key_path = folder / CERT_FILE, folder / KEY_FILE
    cert = _reusable(cert_path, key_path, names)
    made = cert is None
    if made:
        key = ec.generate_private_key(ec.SECP256R1())
        cert = _self_signed(key, names)
        try:
            private_folder(folder)
            write_private(
                key_path,
                key.private_bytes(
                    serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
                ),
            )
            write_private(cert_path, cert.public_bytes(serialization.Encoding.PEM))
        except OSError as error:
            raise OutputFileError(
                f"cannot keep the console's TLS certificate in {folder}: {error.strerror or error} "
                "(TIDEWELL_CONFIG_DIR chooses another folder)"
            ) from None
    else:
        mode = stat.S_IMODE(key_path.stat().st_mode)
        if mode & 0o077:
            say(
                f"note: the console's key {key_path} can be read by others (mode {mode:04o}); "
                "tidewell leaves a mode you set alone"
            )
    return ConsoleCertificate(cert_path, key_path, fingerprint(cert), spki_sha256(cert), made)


def fingerprint(cert: x509.Certificate) -> str:
    return cert.fingerprint(hashes.SHA256()).hex(":").upper()


def spki_sha256(cert: x509.Certificate) -> str:
    spki = cert.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(hashlib.sha256(spki).digest()).decode()


def _reusable(cert_path: Path, key_path: Path, names: list[str]) -> x509.Certificate | None:
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        alt = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except (OSError, ValueError, TypeError, x509.ExtensionNotFound):
        return None  # missing or damaged
    if key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ) != cert.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo):
        return None
    if cert.not_valid_after_utc - dt.timedelta(days=RENEW_BEFORE_DAYS) < dt.datetime.now(dt.UTC):
        return None
    if names and _san(names[0]) not in list(alt):
        return None  # the clinic network gave this machine a new address
    return cert


def _san(name: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


def _self_signed(key: ec.EllipticCurvePrivateKey, names: list[str]) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, "Tidewell console"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Tidewell (self-signed, this install)"),
        ]
    )
    sans = list(dict.fromkeys(_san(n) for n in names))
    public = key.public_key()
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=VALID_DAYS))
        .add_extension(x509.SubjectAlternativeName(sans), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_encipherment=False,
                content_commitment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
