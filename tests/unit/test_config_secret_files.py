"""``${file:/run/secrets/name}``: secrets read from files, never put in the record or errors."""

from __future__ import annotations

import tempfile
from pathlib import Path

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.installed import INSTALLED
from gateway.config.loader import load_config
from gateway.errors import ConfigError
from gateway.mapping.redaction import Commitments
from gateway.tools import build_registry
from tests.unit.test_config import BACKEND, only_issue, write

WITH_PASSWORD = BACKEND + "    wsse:\n      username: app\n      password: {ref}\n"


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def config_with(tmp_path: Path, ref: str) -> Path:
    return write(tmp_path, **{"b.yaml": WITH_PASSWORD.format(ref=ref)})


def password_of(directory: Path) -> str:
    crm = load_config(directory, INSTALLED).backends["crm"]
    return crm.wsse.password.get_secret_value()  # type: ignore[attr-defined, no-any-return]


def test_a_secret_file_is_read_without_its_final_line_break(tmp_path: Path) -> None:
    secret = tmp_path / "secrets" / "crm_password"
    secret.parent.mkdir()
    secret.write_text("s3cret-from-file\n")
    (tmp_path / "config").mkdir()
    directory = config_with(tmp_path / "config", f'"${{file:{secret}}}"')
    assert password_of(directory) == "s3cret-from-file"


def test_a_relative_secret_path_is_from_the_yaml_file(tmp_path: Path) -> None:
    (tmp_path / "crm.secret").write_text("relative-secret")
    assert password_of(config_with(tmp_path, '"${file:crm.secret}"')) == "relative-secret"


def test_the_record_and_the_version_hold_the_reference_not_the_secret(tmp_path: Path) -> None:
    secret = tmp_path / "crm.secret"
    secret.write_text("first-secret")
    config = load_config(config_with(tmp_path, '"${file:crm.secret}"'), INSTALLED)
    canonical = orjson.dumps(config.canonical).decode()
    assert "first-secret" not in canonical
    assert "${file:crm.secret}" in canonical
    secret.write_text("rotated-secret")
    assert (
        load_config(tmp_path, INSTALLED).version == config.version
    )  # rotating a secret is no new config


def test_a_missing_secret_file_is_named_with_its_line(tmp_path: Path) -> None:
    issue = only_issue(config_with(tmp_path, '"${file:/run/secrets/nowhere_to_be_found}"'))
    assert (issue.line, issue.key) == (8, "backends.crm.wsse.password")
    assert "cannot read secret file /run/secrets/nowhere_to_be_found" in issue.message
    assert "No such file" in issue.message


def test_a_secret_file_reference_can_be_escaped(tmp_path: Path) -> None:
    assert password_of(config_with(tmp_path, '"$${file:/x}"')) == "${file:/x}"


@settings(max_examples=40, deadline=None)
@given(secret=st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="\r\n"),
                      min_size=8, max_size=60).filter(lambda s: not _number(s)))  # fmt: skip
def test_any_secret_comes_through_unchanged_and_stays_out_of_errors(secret: str) -> None:
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        (root / "crm.secret").write_text(secret + "\n", encoding="utf-8")
        assert password_of(config_with(root, '"${file:crm.secret}"')) == secret
        # The secret in a field that rejects it: the error names the field, never the value.
        broken = BACKEND.replace(
            "adapter: soap", 'adapter: soap\n    timeout_s: "${file:crm.secret}"'
        )
        (root / "b.yaml").write_text(broken)
        with pytest.raises(ConfigError) as caught:
            build_registry(load_config(root, INSTALLED), Commitments.throwaway())
        (issue,) = caught.value.issues
        assert issue.key == "backends.crm.timeout_s"
        assert secret not in orjson.dumps([caught.value.message, caught.value.details]).decode()
