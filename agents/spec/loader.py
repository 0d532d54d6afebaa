"""Loading a spec file: read, parse YAML with positions, validate, check the rules.

Every problem of a file is reported at once, as :class:`SpecErrors` sorted by position;
bad input never escapes as any other exception.
"""

from __future__ import annotations

from pathlib import Path as FilePath

from pydantic import ValidationError

from sagacrew.agents.spec.advice import advise
from sagacrew.agents.spec.errors import SpecError, SpecErrors
from sagacrew.agents.spec.model import DomainSpec
from sagacrew.agents.spec.model_errors import translate_validation_error
from sagacrew.agents.spec.rules import check_data
from sagacrew.agents.spec.violation import Violation
from sagacrew.agents.spec.yaml_source import SourceMap, load_yaml

__all__ = ["MAX_SPEC_BYTES", "load_spec", "locate_violations", "parse_spec"]

MAX_SPEC_BYTES = 1024 * 1024
"""Spec files larger than 1 MiB are refused."""

_START = "start the file with `system: my_system`, then `contexts:` and `sagas:`"


def load_spec(path: str | FilePath, warnings: list[SpecError] | None = None) -> DomainSpec:
    """Read, validate and rule-check the spec at ``path``.

    Raises :class:`SpecErrors` listing every problem (a missing file, a directory, a file
    over 1 MiB or not UTF-8 each give one error). With ``warnings``, the spec's
    warnings (see :mod:`~sagacrew.agents.spec.advice`), positioned, are appended to it.
    """
    file = str(path)
    raw = _read(FilePath(path), file)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        before = raw[: error.start].decode("utf-8", errors="replace")
        line = before.count("\n") + 1
        column = len(before) - (before.rfind("\n") + 1) + 1
        raise SpecErrors(
            [
                SpecError(
                    file,
                    line,
                    column,
                    f"the file is not UTF-8 (byte 0x{raw[error.start]:02x})",
                    "save the file as UTF-8",
                )
            ]
        ) from None
    return parse_spec(text, file, warnings)


def parse_spec(
    text: str, file: str = "<spec>", warnings: list[SpecError] | None = None
) -> DomainSpec:
    """Validate and rule-check spec ``text``; ``file`` names it in error messages.

    Raises :class:`SpecErrors` listing every problem, sorted by position. With
    ``warnings``, the spec's warnings, positioned and sorted, are appended to it.
    """
    size = len(text.encode("utf-8", errors="surrogatepass"))
    if size > MAX_SPEC_BYTES:
        raise SpecErrors([_too_large(file, size)])
    data, source, problems = load_yaml(text.removeprefix("\ufeff"), file)
    if data is None:
        raise SpecErrors([_at_start(file, "the spec is empty", _START)])
    if not isinstance(data, dict):
        kind = "a list" if isinstance(data, list) else f"the value {data!r}"[:60]
        raise SpecErrors(
            [_at_start(file, f"the spec must be a mapping at the top level, not {kind}", _START)]
        )
    violations: list[Violation] = []
    spec: DomainSpec | None = None
    try:
        spec = DomainSpec.model_validate(data)
    except ValidationError as error:
        violations.extend(translate_validation_error(error, data))
    violations.extend(check_data(data))
    errors = problems + [_positioned(file, source, violation) for violation in violations]
    if errors or spec is None:
        raise SpecErrors(errors)
    if warnings is not None:
        found = [_positioned(file, source, violation) for violation in advise(spec)]
        warnings.extend(sorted(found, key=SpecError.sort_key))
    return spec


def locate_violations(path: str | FilePath, violations: list[Violation]) -> list[SpecError]:
    """``violations`` of the spec at ``path`` (a valid one: it was loaded before), each at
    its line and column; at the file's start when the file cannot be read again."""
    file = str(path)
    try:
        _, source, _ = load_yaml(FilePath(path).read_text("utf-8-sig"), file)
    except (OSError, UnicodeDecodeError, SpecErrors):
        source = SourceMap()
    return [_positioned(file, source, violation) for violation in violations]


def _read(target: FilePath, file: str) -> bytes:
    """The file's bytes; one :class:`SpecError` for anything but a readable file ≤ 1 MiB."""
    try:
        if target.is_dir():
            raise SpecErrors(
                [_at_start(file, "this is a directory, not a spec file", "pass a .yaml file")]
            )
        if target.exists() and not target.is_file():
            raise SpecErrors([_at_start(file, "this is not a regular file", "pass a .yaml file")])
        with target.open("rb") as stream:
            raw = stream.read(MAX_SPEC_BYTES + 1)
    except FileNotFoundError:
        raise SpecErrors(
            [_at_start(file, "no such file", "check the path, e.g. `examples/my_spec.yaml`")]
        ) from None
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise SpecErrors(
            [_at_start(file, f"cannot read the file ({reason})", "check its permissions")]
        ) from None
    if len(raw) > MAX_SPEC_BYTES:
        size = max(len(raw), _size_of(target))
        raise SpecErrors([_too_large(file, size)])
    return raw


def _size_of(target: FilePath) -> int:
    try:
        return target.stat().st_size
    except OSError:
        return 0


def _positioned(file: str, source: SourceMap, violation: Violation) -> SpecError:
    line, column = source.locate(violation.path, at_key=violation.at_key, offset=violation.offset)
    return SpecError(file, line, column, violation.message, violation.fix)


def _at_start(file: str, message: str, fix: str) -> SpecError:
    return SpecError(file, 1, 1, message, fix)


def _too_large(file: str, size: int) -> SpecError:
    return SpecError(
        file,
        1,
        1,
        f"the spec is {size} bytes, over the limit of {MAX_SPEC_BYTES} bytes (1 MiB)",
        "split it into several specs, e.g. one per group of bounded contexts",
    )
