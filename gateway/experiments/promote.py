"""A reviewed correction made an example of its tool, in the tool's own YAML file.

The correction becomes a result example (what the tool answers) or an argument example
(what an agent should send), appended in the file that declares the tool, with its
comments and layout kept (ruamel.yaml round trip). The changed directory is loaded and
checked first, in a copy: an example that does not pass the tool's mapping or output schema
is refused with the config's own located issues, and nothing is written. A serving gateway
then loads the change like any other (``config.loaded``), and every agent's next
``tools/list`` shows the example.
"""

from __future__ import annotations

import io
import shutil
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any, Literal, Protocol

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from adapters.installed import INSTALLED
from gateway.audit.records import StoredRecord
from gateway.config.loader import load_config
from gateway.errors import CallNotFound, ConfigError, GatewayError, InvalidArguments
from gateway.experiments.reviews import FEEDBACK, RecordReader

Kind = Literal["result", "arguments"]
_KEYS: dict[Kind, str] = {"result": "result_examples", "arguments": "examples"}


class CallRecords(RecordReader, Protocol):
    def records_of(self, call_id: str) -> list[StoredRecord]: ...


def correction_of(store: CallRecords, call_id: str) -> tuple[str, Any]:
    """(tool, correction) of the call's latest judgement with a correction (a review's
    over other feedback)."""
    records = store.records_of(call_id)
    intents = [r for r in records if r.kind in ("call.intent", "call.rejected")]
    if not intents:
        raise CallNotFound(f"no call with id '{call_id}'")
    judged = [r for r in records if r.kind == FEEDBACK and r.body.get("correction") is not None]
    if not judged:
        raise InvalidArguments(
            [{"field": "call_id", "message": f"call '{call_id}' has no correction to promote"}]
        )
    reviews = [r for r in judged if r.body.get("review") is True]
    chosen = (reviews or judged)[-1]
    return str(intents[0].body["tool"]), chosen.body["correction"]


def promote(config_dir: Path, tool: str, example: Any, kind: Kind) -> Path:
    """Append ``example`` to the tool's examples of ``kind``; the file changed."""
    if not isinstance(example, dict):
        raise InvalidArguments([{"field": "correction", "message": "an example is an object"}])
    config = load_config(config_dir, INSTALLED)
    entry = config.entries.get(("tools", tool))
    if entry is None:
        raise GatewayError(f"no tool named '{tool}' in {config_dir}")
    path = entry.source.path
    yaml = YAML()
    yaml.preserve_quotes = True
    document = yaml.load(path.read_text())
    declared: CommentedMap = document["tools"][tool]
    key = _KEYS[kind]
    examples = declared.setdefault(key, CommentedSeq())
    if example in [dict(item) for item in examples]:
        raise InvalidArguments(
            [{"field": "correction", "message": f"already one of {tool}'s {key}"}]
        )
    examples.append(example)
    buffer = io.StringIO()
    yaml.dump(document, buffer)
    text = buffer.getvalue()
    _check(Path(config_dir), path, text)
    path.write_text(text)
    return path


def _check(config_dir: Path, path: Path, text: str) -> None:
    """Load the directory with ``path`` changed to ``text``, in a copy; raise its issues."""
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch) / "config"
        if config_dir.is_file():
            root.mkdir()
            (root / config_dir.name).write_text(text)
        else:
            shutil.copytree(config_dir, root)
            (root / path.relative_to(config_dir)).write_text(text)
        try:
            load_config(root, INSTALLED)
        except ConfigError as error:
            # The issues name the copy's files, which are gone when the user reads them:
            # point them at the files of the directory the example would go into.
            copy = root / config_dir.name if config_dir.is_file() else root
            raise ConfigError(
                [
                    replace(issue, file=_original(issue.file, copy, config_dir))
                    for issue in error.issues
                ]
            ) from None


def _original(file: str, copy: Path, config_dir: Path) -> str:
    """``file`` of the scratch copy as the same file of ``config_dir``."""
    try:
        return str(config_dir / Path(file).resolve().relative_to(copy.resolve()))
    except ValueError:
        return file
