"""Exceptions with messages a user can act on (name the key, list allowed values)."""


class ConfigError(ValueError):
    """A configuration value is missing, of the wrong type or out of range."""

    def __init__(self, key: str, message: str):
        self.key = key
        self.message = message
        super().__init__(f"config key '{key}': {message}")


class ArtifactError(RuntimeError):
    """An input artifact is missing, incomplete or does not match what a job expects."""


class FingerprintError(RuntimeError):
    """The code a job depends on cannot be found, so its fingerprint cannot be taken."""
