"""The engine's TLS certificate: self-signed for 127.0.0.1, made once, trusted through AWS_CA_BUNDLE.

LocalStack's own certificate names `localhost.localstack.cloudIP:127.0.0.1` (a missing comma), so clients
cannot verify https://127.0.0.1. Serving TLS lets the bucket policy's `aws:SecureTransport` condition be
evaluated truthfully. Run with LocalStack's Python (it has `cryptography`):
`python -m longtask_engine.host.certificate KEY_AND_CERT CERT`.
"""

from __future__ import annotations

import datetime
import ipaddress
import sys
from pathlib import Path


def write_certificate(server_pem: Path, ca_bundle: Path) -> None:
    """Write the key and a self-signed certificate for 127.0.0.1 and localhost (LocalStack's
    CUSTOM_SSL_CERT_PATH) and the certificate alone (the clients' AWS_CA_BUNDLE)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "longtask local engine")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                serialization.NoEncryption())  # fmt: skip
    certificate_pem = certificate.public_bytes(serialization.Encoding.PEM)
    for file, content in ((server_pem, key_pem + certificate_pem), (ca_bundle, certificate_pem)):
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_bytes(content)


if __name__ == "__main__":
    write_certificate(Path(sys.argv[1]), Path(sys.argv[2]))
