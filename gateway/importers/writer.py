"""Writing an imported config, and importing again over one that was edited by hand.

The file an importer writes is the integrator's to edit. A copy of what was generated is
kept beside it (``NAME.yaml.imported``); on the next import each tool is compared three
ways: a tool nobody edited takes the new version, a hand-edited one is kept as it is (and
reported when the WSDL changed it too), new operations are added and vanished ones removed
unless edited.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from gateway.importers.yaml_text import dump

_TOOL_LINE = re.compile(r"^  ([a-z][a-z0-9_]*):\s*$")
_REVIEW = "   # guessed from the operation's name: review"


def _dump(value: dict[str, Any]) -> str:
    return dump(value)


def tool_block(name: str, config: dict[str, Any], notes: list[str]) -> str:
    body = _dump({name: config})
    lines = []
    for line in body.splitlines():
        review = _REVIEW if line.startswith("  effect: ") else ""
        lines.append("  " + line + review)
    comments = [f"  # {note}" for note in notes]
    return "\n".join([*comments, *lines]) + "\n"


def render(header: list[str], backends: dict[str, Any], blocks: dict[str, str]) -> str:
    text = "".join(f"# {line}\n" for line in header)
    text += _dump({"backends": backends})
    text += "tools:\n" if blocks else "tools: {}\n"
    return text + "".join(blocks.values())


def split_blocks(text: str) -> tuple[str, dict[str, str]]:
    """(everything before ``tools:``, tool name -> its text block with leading comments)."""
    lines = text.splitlines(keepends=True)
    try:
        start = next(i for i, line in enumerate(lines) if line.rstrip() in ("tools:", "tools: {}"))
    except StopIteration:
        return text, {}
    blocks: dict[str, str] = {}
    pending: list[str] = []
    current: str | None = None
    for line in lines[start + 1 :]:
        match = _TOOL_LINE.match(line)
        if match:
            current = match.group(1)
            blocks[current] = "".join(pending) + line
            pending = []
        elif line.startswith("  #") and current is not None and not line.startswith("    "):
            pending.append(line)  # comments above the next tool belong to it
        elif current is not None:
            blocks[current] += "".join(pending) + line
            pending = []
    return "".join(lines[: start + 1]), blocks


def _parsed(block: str) -> Any:
    return YAML(typ="safe", pure=True).load(block)


@dataclass
class MergeReport:
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    kept_edited: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = []
        for label, names in (
            ("added", self.added),
            ("removed", self.removed),
            ("changed", self.changed),
            ("changed in the source but edited by hand, kept", self.kept_edited),
        ):
            if names:
                out.append(f"{label}: {', '.join(names)}")
        return out or ["no changes"]


def write_config(path: Path, text: str, blocks: dict[str, str]) -> MergeReport:
    """Write ``text`` to ``path``, merging with a previous import; report what changed."""
    baseline = path.with_name(path.name + ".imported")
    report = MergeReport()
    if not path.exists() or not baseline.exists():
        report.added = list(blocks)
        result = text
    else:
        current_head, current = split_blocks(path.read_text(encoding="utf-8"))
        _, base = split_blocks(baseline.read_text(encoding="utf-8"))
        merged: dict[str, str] = {}
        for name, block in current.items():
            edited = name not in base or _parsed(block) != _parsed(base[name])
            if name in blocks:
                new_changed = name in base and _parsed(blocks[name]) != _parsed(base[name])
                if edited and new_changed:
                    report.kept_edited.append(name)
                elif not edited and new_changed:
                    report.changed.append(name)
                merged[name] = block if edited else blocks[name]
            elif name in base and not edited:
                report.removed.append(name)
            else:
                merged[name] = block  # added by hand, or edited and gone upstream: kept
                if name in base:
                    report.kept_edited.append(name)
        for name, block in blocks.items():
            if name not in current and name not in base:
                merged[name] = block
                report.added.append(name)
        if merged and current_head.endswith("tools: {}\n"):
            current_head = current_head[: -len("tools: {}\n")] + "tools:\n"
        result = current_head + "".join(merged.values())
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(result, encoding="utf-8")
    baseline.write_text(text, encoding="utf-8")
    return report
