"""The project's one exception base; each client hangs its own tree below it."""

from pydantic import ValidationError


class AfasSfError(Exception):
    """Base of every error this project raises on purpose."""


class ConfigurationError(AfasSfError):
    """A setting is missing or malformed; the message names the setting, never its value."""


class UsageError(AfasSfError, ValueError):
    """Bad input on the command line (an unknown flow, a missing file, a negative number of days): the
    message says what was wrong and what to give instead."""


def settings_problem(exc: ValidationError) -> str:
    """What is wrong with the settings, in their own words (never their values)."""
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc'])}: {str(e['msg']).removeprefix('Value error, ')}"
        if e["loc"]
        else str(e["msg"]).removeprefix("Value error, ")
        for e in exc.errors()
    )
