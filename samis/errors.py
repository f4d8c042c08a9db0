"""One error family, so the command line can show a clear message instead of a traceback.

Every error a user can cause (bad data, bad definition, bad checkpoint) is a ``SamisError``
whose message names the file and says how to fix it.
"""


class SamisError(Exception):
    """A problem the user can fix; the message names the file and the fix."""


class DataError(SamisError):
    """A dataset or prediction file is missing, unreadable or inconsistent."""


class ConfigError(SamisError):
    """An experiment definition or a command-line option is invalid."""


class CheckpointError(SamisError):
    """Model weights are missing, corrupt or of the wrong variant."""
