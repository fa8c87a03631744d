"""A self-signed certificate for the fixture domain, the body of the `certificate` fixture imported into ACM."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone


def self_signed(domain: str, days: int = 7) -> tuple[bytes, bytes]:
    """(certificate PEM, private key PEM) for `domain` and `*.domain`: RSA 2048, valid from now for `days` days.

    ACM imports RSA 2048 certificates and marks them ISSUED; a listener or distribution accepts its ARN as it
    accepts an Amazon-issued one. Nobody trusts it, which a sandbox does not need.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, domain)])
    now = datetime.now(timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - timedelta(minutes=5))
            .not_valid_after(now + timedelta(days=days))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(domain), x509.DNSName(f"*.{domain}")]),
                           critical=False)
            .sign(key, hashes.SHA256()))
    return (cert.public_bytes(serialization.Encoding.PEM),
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                              serialization.NoEncryption()))
