"""Model references: ``NAME``, ``NAME@ALIAS``, ``NAME/VERSION`` (and MLflow's ``models:/`` forms)."""

from __future__ import annotations

from dataclasses import dataclass

from datamill.exceptions import ConfigError

__all__ = ["ModelRef", "parse_ref"]


@dataclass(frozen=True)
class ModelRef:
    """A model, one of its versions, or the version an alias points at.

    Examples
    --------
    >>> parse_ref("churn@champion").uri
    'models:/churn@champion'
    >>> str(parse_ref("models:/churn/3"))
    'churn/3'
    >>> parse_ref("churn").version is None
    True
    """

    name: str
    version: int | None = None
    alias: str | None = None

    def __str__(self) -> str:
        if self.alias is not None:
            return f"{self.name}@{self.alias}"
        return self.name if self.version is None else f"{self.name}/{self.version}"

    @property
    def uri(self) -> str:
        """MLflow's URI of the reference; a bare name means the latest version."""
        if self.alias is not None:
            return f"models:/{self.name}@{self.alias}"
        return f"models:/{self.name}/{'latest' if self.version is None else self.version}"


_FORMS = "NAME, NAME@ALIAS or NAME/VERSION (e.g. churn, churn@champion, churn/3)"


def parse_ref(text: str | ModelRef) -> ModelRef:
    """Read a reference; a malformed one is a :class:`ConfigError` that shows the forms."""
    if isinstance(text, ModelRef):
        return text
    raw = str(text).strip()
    body = raw.removeprefix("models:/")
    if "@" in body:
        name, _, alias = body.partition("@")
        if not name or not alias or "/" in alias or "@" in alias:
            raise ConfigError(f"model reference {raw!r}: write {_FORMS}")
        return ModelRef(name, alias=alias)
    name, slash, version = body.rpartition("/")
    if not slash:
        name, version = body, ""
    if not name:
        raise ConfigError(f"model reference {raw!r}: write {_FORMS}")
    if not slash or version == "latest":
        return ModelRef(name)
    if not version.isdigit() or int(version) < 1:
        raise ConfigError(f"model reference {raw!r}: the version after '/' must be a number from 1 "
                          f"(write {_FORMS})")
    return ModelRef(name, version=int(version))
