"""WS-Security for SOAP backends: a UsernameToken, an X.509 signature with a timestamp, or both.

Hosts behind WS-Security (WCF, DataPower, WebSphere, SAP PI) demand signed messages: a
``wsu:Timestamp`` and the ``soap:Body``, each signed (exclusive C14N) with the gateway's
private key, and the certificate that verifies them sent along as a ``BinarySecurityToken``.

    wsse:
      username: ${CRM_USER}                     # UsernameToken, optional
      password: ${CRM_PASSWORD}
      signature:                                # X.509 signature, optional
        key_file: /run/secrets/signing.key      # PEM private key (RSA or EC)
        certificate_file: /run/secrets/signing.crt
        password: ${file:/run/secrets/signing.pass}   # passphrase of key_file, if any
        algorithm: sha256                       # or sha1, for hosts that know nothing newer
        timestamp_ttl_s: 300                    # wsu:Expires - wsu:Created

zeep signs (``zeep.wsse.signature``, on ``xmlsec``); this module checks the key and the
certificate when the config loads, so a missing file, a wrong passphrase, a key that is not
the certificate's, or an expired certificate is a config issue naming its key rather than
a failed call. The key's passphrase is used once, at load; the decrypted key stays in memory
only. Signatures are public: the record keeps the signed envelope as sent.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any, Literal

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from lxml import etree
from pydantic import Field, SecretStr, ValidationInfo, field_validator, model_validator

from adapters.base import BackendSetupError
from gateway.errors import DependencyMissing
from gateway.mapping.spec import StrictModel

WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
SIGNATURE_KEY = ("wsse", "signature")


class X509Signature(StrictModel):
    """Sign each request's Body and Timestamp with this key; send its certificate along."""

    key_file: str = Field(description="PEM private key (RSA or EC), relative to the YAML file.")
    certificate_file: str = Field(description="PEM X.509 certificate of key_file.")
    password: SecretStr | None = Field(None, description="Passphrase of key_file.")
    algorithm: Literal["sha256", "sha1"] = Field(
        "sha256", description="Digest and signature hash; sha1 only for hosts that demand it."
    )
    timestamp_ttl_s: int = Field(
        300, ge=10, le=86400, description="How long the signed wsu:Timestamp is valid."
    )

    @field_validator("key_file", "certificate_file")
    @classmethod
    def _resolve(cls, value: str, info: ValidationInfo) -> str:
        base = (info.context or {}).get("base_dir")
        path = Path(value) if base is None or Path(value).is_absolute() else Path(base) / value
        if not path.is_file():
            raise ValueError(f"file not found: {path}")
        return str(path.resolve())


class WsSecurity(StrictModel):
    """WS-Security header of every request: a UsernameToken and/or an X.509 signature."""

    username: str | None = None
    password: SecretStr | None = None
    digest: bool = Field(False, description="PasswordDigest instead of PasswordText.")
    signature: X509Signature | None = None

    @model_validator(mode="after")
    def _something_to_send(self) -> WsSecurity:
        if (self.username is None) != (self.password is None):
            raise ValueError("a UsernameToken needs both username and password")
        if self.username is None and self.signature is None:
            raise ValueError("give username and password, a signature, or both")
        return self


def ws_security_plugins(settings: WsSecurity | None) -> list[Any] | None:
    """zeep's wsse plugins for the backend, in the order they apply to each envelope."""
    if settings is None:
        return None
    from zeep.wsse.username import UsernameToken

    plugins: list[Any] = []
    if settings.username is not None and settings.password is not None:
        secret = settings.password.get_secret_value()
        plugins.append(UsernameToken(settings.username, secret, use_digest=settings.digest))
    if settings.signature is not None:
        plugins.append(SignedTimestamp(settings.signature))
    return plugins


class SignedTimestamp:
    """A zeep wsse plugin: add a timestamp, sign it and the Body, lay the header out strictly."""

    def __init__(self, settings: X509Signature) -> None:
        key_pem, certificate_pem, key = _load_pair(settings)
        try:
            import xmlsec
            from zeep.wsse.signature import BinarySignature, MemorySignature
        except Exception as exc:  # missing, or a wheel built against another libxml2 than lxml's
            raise DependencyMissing(
                f"WS-Security signatures need xmlsec: pip install xmlsec ({exc})"
            ) from exc

        class _Signer(BinarySignature):  # type: ignore[misc]
            """zeep's BinarySecurityToken signer, from the key already decrypted at load."""

            def __init__(self, signature_method: Any, digest_method: Any) -> None:
                MemorySignature.__init__(
                    self, key_pem, certificate_pem, None, signature_method, digest_method
                )

        transforms = xmlsec.constants
        if settings.algorithm == "sha256":
            digest = transforms.TransformSha256
            rsa_method, ec_method = transforms.TransformRsaSha256, transforms.TransformEcdsaSha256
        else:
            digest = transforms.TransformSha1
            rsa_method, ec_method = transforms.TransformRsaSha1, transforms.TransformEcdsaSha1
        method = rsa_method if isinstance(key, rsa.RSAPrivateKey) else ec_method
        self._signer = _Signer(method, digest)
        self._ttl = dt.timedelta(seconds=settings.timestamp_ttl_s)
        try:  # one signature now, so that a key xmlsec cannot use fails at load, not per call
            self.apply(_probe_envelope(), {})
        except xmlsec.Error as exc:
            raise BackendSetupError(
                (*SIGNATURE_KEY, "key_file"), f"xmlsec cannot sign with this key: {exc}"
            ) from exc

    def apply(self, envelope: Any, headers: Any) -> tuple[Any, Any]:
        from zeep.wsse.utils import get_security_header

        security = get_security_header(envelope)
        now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        timestamp = etree.SubElement(security, f"{{{WSU}}}Timestamp", nsmap={"wsu": WSU})
        etree.SubElement(timestamp, f"{{{WSU}}}Created").text = _zulu(now)
        etree.SubElement(timestamp, f"{{{WSU}}}Expires").text = _zulu(now + self._ttl)
        envelope, headers = self._signer.apply(envelope, headers)
        # zeep puts the Signature first and the token after it. WS-SecurityPolicy's strict
        # layout, which WCF enforces, wants the timestamp first and each token before the
        # signature that refers to it. Moving siblings changes no signed digest.
        order = {
            f"{{{WSU}}}Timestamp": 0,
            f"{{{WSSE}}}BinarySecurityToken": 1,
            "{http://www.w3.org/2000/09/xmldsig#}Signature": 3,
        }
        children = sorted(security, key=lambda child: order.get(child.tag, 2))
        security[:] = children
        return envelope, headers


def _probe_envelope() -> etree._Element:
    soap = "http://schemas.xmlsoap.org/soap/envelope/"
    envelope = etree.Element(f"{{{soap}}}Envelope", nsmap={"soap-env": soap})
    etree.SubElement(envelope, f"{{{soap}}}Body")
    return envelope


def _zulu(moment: dt.datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _load_pair(settings: X509Signature) -> tuple[bytes, bytes, Any]:
    """The unencrypted PEM of the key, the certificate's PEM, and the key, all checked."""
    password = settings.password.get_secret_value().encode() if settings.password else None
    try:
        key = serialization.load_pem_private_key(
            Path(settings.key_file).read_bytes(), password=password
        )
    except (TypeError, ValueError) as exc:
        raise BackendSetupError(
            (*SIGNATURE_KEY, "key_file"), f"cannot read the private key: {_key_problem(exc)}"
        ) from None
    if not isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey):
        raise BackendSetupError(
            (*SIGNATURE_KEY, "key_file"),
            f"the key is {type(key).__name__.removeprefix('_')}; WS-Security signing takes RSA "
            "or EC keys",
        )
    try:
        certificate = x509.load_pem_x509_certificate(Path(settings.certificate_file).read_bytes())
    except ValueError as exc:
        raise BackendSetupError(
            (*SIGNATURE_KEY, "certificate_file"), f"not a PEM certificate: {exc}"
        ) from None
    if _public(certificate.public_key()) != _public(key.public_key()):
        raise BackendSetupError(
            (*SIGNATURE_KEY, "key_file"),
            f"the private key does not belong to the certificate "
            f"({certificate.subject.rfc4514_string()}); a host would refuse every signature",
        )
    expires = certificate.not_valid_after_utc
    if expires <= dt.datetime.now(dt.UTC):
        raise BackendSetupError(
            (*SIGNATURE_KEY, "certificate_file"),
            f"the certificate ({certificate.subject.rfc4514_string()}) expired on "
            f"{expires:%Y-%m-%d %H:%M} UTC",
        )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return key_pem, certificate.public_bytes(serialization.Encoding.PEM), key


def _public(key: Any) -> bytes:
    return bytes(
        key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )


def _key_problem(exc: BaseException) -> str:
    """cryptography's reasons, said in terms of the config's keys."""
    text = str(exc)
    if "Password was not given" in text:
        return "the key is encrypted; set wsse.signature.password"
    if "not encrypted" in text:
        return "the key is not encrypted; remove wsse.signature.password"
    if "Bad decrypt" in text or "Incorrect password" in text:
        return "wrong passphrase (wsse.signature.password)"
    return text
