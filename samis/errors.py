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


class OutputError(SamisError):
    """An output file or folder cannot be written (disk full, read-only, a file in the way)."""


WRITE_FIXES = {
    "ENOSPC": "the disk is full: free some space or choose another output folder",
    "EDQUOT": "the disk quota is used up: free some space or choose another output folder",
    "EROFS": "the file system is read-only: choose a writable output folder",
    "EACCES": "permission denied: make the folder writable or choose another output folder",
    "EPERM": "permission denied: make the folder writable or choose another output folder",
    "ENOTDIR": "a regular file stands where a folder is needed: move it away or choose another output folder",
    "EEXIST": "a regular file stands where a folder is needed: move it away or choose another output folder",
    "EISDIR": "a folder stands where a file is needed: move it away or choose another output path",
    "ENAMETOOLONG": "the path is too long: choose a shorter output path",
}


def output_error(path, exc: OSError) -> OutputError:
    """A clear ``OutputError`` for an ``OSError`` raised while writing ``path``; what was written before stays."""
    import errno as _errno

    name = _errno.errorcode.get(exc.errno or 0, "")
    fix = WRITE_FIXES.get(name, "check that the output folder is writable and has free space, or choose another one")
    where = exc.filename if exc.filename and str(path) not in str(exc.filename) else path
    return OutputError(f"cannot write {where}: {exc.strerror or exc}; {fix} (files written before are kept)")
