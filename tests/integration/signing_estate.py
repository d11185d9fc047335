"""A SOAP host behind WS-Security signatures: the estate, refusing any request whose Body and
Timestamp are not signed by the one certificate it trusts.

It checks as such hosts do, with xmlsec (libxmlsec1) directly rather than through zeep: the
signature over the references, that the references cover the Body and a Timestamp that is
current, and that the BinarySecurityToken is the trusted certificate.
"""

from __future__ import annotations

import base64
import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import xmlsec
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from lxml import etree

from estate.customers import CustomerStore
from estate.envelope import Reply, SoapFaultError, SoapVersion, fault_reply
from estate.operations import Service
from estate.soap_service import EstateApp

WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
DS = "http://www.w3.org/2000/09/xmldsig#"


@dataclass
class SigningPair:
    key: Path
    certificate: Path
    certificate_der: bytes


def signing_pair(
    directory: Path,
    name: str,
    *,
    kind: str = "rsa",
    password: bytes | None = None,
    expired: bool = False,
) -> SigningPair:
    """A private key and its self-signed certificate, as PEM files under ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey = (
        rsa.generate_private_key(public_exponent=65537, key_size=2048)
        if kind == "rsa"
        else ec.generate_private_key(ec.SECP256R1())
    )
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC) - (dt.timedelta(days=2) if expired else dt.timedelta())
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password)
        if password
        else serialization.NoEncryption()
    )
    pair = SigningPair(directory / f"{name}.key", directory / f"{name}.crt", b"")
    pair.key.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
    )
    pair.certificate.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    pair.certificate_der = certificate.public_bytes(serialization.Encoding.DER)
    return pair


class SignatureRefused(Exception):
    """Why the host refuses a request's signature (the fault's ERR_TXT)."""


def check_signature(root: etree._Element, trusted: SigningPair) -> None:
    """Raise ``SignatureRefused`` unless ``root`` is signed as a WS-Security host demands."""
    security = root.find(f"{{*}}Header/{{{WSSE}}}Security")
    signature = None if security is None else security.find(f"{{{DS}}}Signature")
    if security is None or signature is None:
        raise SignatureRefused("NO SIGNATURE")
    by_id = {element.get(f"{{{WSU}}}Id"): element for element in root.iter()}
    context = xmlsec.SignatureContext()
    signed: set[str] = set()
    for reference in signature.iterfind(f"{{{DS}}}SignedInfo/{{{DS}}}Reference"):
        target = by_id.get((reference.get("URI") or "").removeprefix("#"))
        if target is None:
            raise SignatureRefused("REFERENCE TO NOTHING")
        context.register_id(target, "Id", WSU)
        signed.add(etree.QName(target).localname)
    if not {"Body", "Timestamp"} <= signed:
        raise SignatureRefused(f"BODY AND TIMESTAMP MUST BE SIGNED, NOT {sorted(signed)}")
    token = security.findtext(f"{{{WSSE}}}BinarySecurityToken") or ""
    if base64.b64decode(token) != trusted.certificate_der:
        raise SignatureRefused("UNTRUSTED CERTIFICATE")
    expires = security.findtext(f"{{{WSU}}}Timestamp/{{{WSU}}}Expires") or ""
    if dt.datetime.fromisoformat(expires) < dt.datetime.now(dt.UTC):
        raise SignatureRefused("TIMESTAMP EXPIRED")
    context.key = xmlsec.Key.from_file(
        str(trusted.certificate), xmlsec.constants.KeyDataFormatCertPem
    )
    try:
        context.verify(signature)
    except xmlsec.Error as exc:
        raise SignatureRefused("SIGNATURE DOES NOT VERIFY") from exc


class SignatureCheckingEstate(EstateApp):
    """The demo estate, answering only requests signed by ``trusted``'s key."""

    def __init__(self, trusted: SigningPair, credentials: tuple[str, str] | None = None) -> None:
        super().__init__(CustomerStore.generated(), hostile=True, credentials=credentials)
        self.trusted = trusted
        self.verified = 0

    def dispatch(self, service: Service, body: bytes, v: SoapVersion) -> Reply:
        try:
            root = etree.fromstring(body, self._parser)
            check_signature(root, self.trusted)
        except (etree.XMLSyntaxError, SignatureRefused) as exc:
            refused = SoapFaultError("SIGNATURE REFUSED", "CM403", str(exc))
            return fault_reply(refused, v)
        self.verified += 1
        return super().dispatch(service, body, v)
