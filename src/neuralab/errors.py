"""The one exception type users see.

Anything the user can fix (missing data, a corrupt file, a malformed ``--set``) raises
:class:`NeuralabError` with a one-line message that says what is wrong and how to fix it.
The CLI prints that line and exits with code 2. So it does for an ``OSError`` that names a
path (a folder that cannot be made, no permission, a full disk): the machine refused, the code
did not fail. Everything else is a bug and keeps its traceback.
"""


class NeuralabError(Exception):
    """A user-facing error: its message is a single line that names the problem and the fix."""

    exit_code = 2


class DataError(NeuralabError):
    """Missing, corrupt or unreadable data, and missing pretrained weights: what a run needs
    from outside and cannot make itself (``neuralab reproduce`` skips such an experiment and
    goes on). A weights file that is there but unreadable or wrong stays a NeuralabError."""
