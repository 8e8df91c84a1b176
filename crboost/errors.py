"""User-facing errors: one line naming the file or key and the problem, never a traceback."""


class CrboostError(Exception):
    """An error caused by the user's input (config, mdoc, data), reported as one line."""


class ConfigError(CrboostError):
    """The project config is invalid."""


class MdocError(CrboostError):
    """An mdoc file cannot be used.

    kind: "not_tilt_series" (per-frame or montage mdoc: skipped when found by a glob),
    "incomplete" (truncated or still being written) or "invalid" (anything else).
    """

    def __init__(self, message: str, kind: str = "invalid"):
        super().__init__(message)
        self.kind = kind
