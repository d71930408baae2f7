"""Where the label of an image is: a template (``data.labels``) or a regex rule (``data.pairing``).

- ``data.labels``: a path relative to ``root`` with the placeholders ``{name}`` (the image's file
  name), ``{stem}`` (the name without ``.nii.gz`` / ``.nii`` / ``.h5`` / ``.hdf5``) and ``{dir}``
  (the image's folder relative to ``root``); empty: the label is in the image's own h5 file.
- ``data.pairing = {pattern = "image_(\\d+)", label = "label_\\1"}``: ``pattern`` is a Python
  regular expression searched in the image's path relative to ``root`` (``/`` separators); its
  first match is replaced by ``label``, where ``\\1`` or ``\\g<name>`` are the pattern's groups,
  and the result is the label's path relative to ``root``. So ``imagesTr/image_12.nii.gz`` gives
  ``imagesTr/label_12.nii.gz``; ``pattern = "images/(\\w+)_img"``, ``label = "labels/\\1_seg"``
  changes the folder too. A file of ``data.images`` that the pattern does not match is a label
  (when it is the label of another) or an error.

A malformed template or rule is refused with a :class:`ConfigError` before any file is read.
"""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from alstrategies.errors import ConfigError

SUFFIXES = (".nii.gz", ".nii", ".h5", ".hdf5")
PLACEHOLDERS = ("name", "stem", "dir")
PAIRING_EXAMPLE = 'data.pairing = {pattern = "image_(\\\\d+)", label = "label_\\\\1"}'
_GROUP_REFERENCE = re.compile(r"\\(?:g<([^>]*)>|(\d+))")


def split_suffix(name: str) -> tuple[str, str]:
    """``("case01", ".nii.gz")`` of ``"case01.nii.gz"``; no known suffix: ``(name, "")``."""
    for suffix in SUFFIXES:
        if name.lower().endswith(suffix):
            return name[: -len(suffix)], suffix
    return name, ""


def _not_a_template(labels: str, problem: object) -> ConfigError:
    return ConfigError(
        f"data.labels = {labels!r} is not a label template ({problem}): only {{name}}, {{stem}} and {{dir}} "
        f"are replaced, without slices or attributes; to derive label_N from image_N use {PAIRING_EXAMPLE}"
    )


def _check_template(labels: str) -> None:
    if not isinstance(labels, str):
        raise ConfigError(f"data.labels must be a path template (a string), got {labels!r}")
    try:
        fields = [field for _, field, _, _ in string.Formatter().parse(labels) if field is not None]
    except ValueError as error:
        raise _not_a_template(labels, error) from None
    for field in fields:
        if field in PLACEHOLDERS:
            continue
        if re.split(r"[.\[]", field, maxsplit=1)[0] in PLACEHOLDERS:
            raise _not_a_template(labels, f"{{{field}}}")
        raise ConfigError(
            f"data.labels = {labels!r} has an unknown placeholder {field!r}; use {{name}}, {{stem}} or {{dir}}"
        )


def _compile_rule(pairing: Any) -> tuple[re.Pattern[str], str]:
    if not isinstance(pairing, Mapping) or set(pairing) != {"pattern", "label"}:
        raise ConfigError(
            f"data.pairing must be a table with the keys pattern and label, e.g. {PAIRING_EXAMPLE}; "
            f"got {pairing!r}"
        )
    pattern, label = pairing["pattern"], pairing["label"]
    if not isinstance(pattern, str) or not pattern or not isinstance(label, str) or not label:
        raise ConfigError(
            f"data.pairing.pattern and data.pairing.label must be non-empty strings, got {pairing!r}"
        )
    try:
        compiled = re.compile(pattern)
    except re.error as error:
        raise ConfigError(
            f"data.pairing.pattern = {pattern!r} is not a regular expression ({error})"
        ) from None
    for match in _GROUP_REFERENCE.finditer(label):
        name, number = match.group(1), match.group(2)
        known = (
            int(name or number) <= compiled.groups
            if (name or number).isdigit()
            else name in compiled.groupindex
        )
        if not known:
            raise ConfigError(
                f"data.pairing.label = {label!r} refers to group {match.group(0)!r} but "
                f"data.pairing.pattern = {pattern!r} has {compiled.groups} group(s)"
                + (f" named {sorted(compiled.groupindex)}" if compiled.groupindex else "")
            )
    return compiled, label


@dataclass(frozen=True)
class LabelRule:
    """How to find the label file of an image under ``root``."""

    root: Path
    template: str = "labelsTr/{name}"
    pattern: re.Pattern[str] | None = None
    replacement: str = ""

    @classmethod
    def from_options(cls, root: Path, labels: str, pairing: Mapping[str, str] | None) -> LabelRule:
        """Validate ``data.labels`` / ``data.pairing`` (a :class:`ConfigError` when malformed)."""
        _check_template(labels)
        if pairing is None:
            return cls(root, labels)
        pattern, replacement = _compile_rule(pairing)
        return cls(root, labels, pattern, replacement)

    def describe(self) -> str:
        if self.pattern is None:
            return f"data.labels = {self.template!r}"
        return f"data.pairing = {{pattern = {self.pattern.pattern!r}, label = {self.replacement!r}}}"

    def applies_to(self, image: Path) -> bool:
        """Whether ``image`` can have a label by this rule (the regex matches its path)."""
        return self.pattern is None or self.pattern.search(self._relative(image)) is not None

    def _relative(self, image: Path) -> str:
        return image.relative_to(self.root).as_posix()

    def label_of(self, image: Path) -> Path | None:
        """The label path of ``image``; ``None`` when the label is in the image's h5 file (an empty
        template) or when the rule's pattern does not match the image."""
        if self.pattern is not None:
            relative = self._relative(image)
            match = self.pattern.search(relative)
            if match is None:
                return None
            return self.root / (
                relative[: match.start()] + match.expand(self.replacement) + relative[match.end() :]
            )
        if not self.template:
            return None
        stem, _ = split_suffix(image.name)
        folder = image.parent.relative_to(self.root).as_posix()
        return self.root / self.template.format(name=image.name, stem=stem, dir=folder)
