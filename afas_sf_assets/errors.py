"""The project's one exception base; each client hangs its own tree below it."""


class AfasSfError(Exception):
    """Base of every error this project raises on purpose."""


class ConfigurationError(AfasSfError):
    """A setting is missing or malformed; the message names the setting, never its value."""
