"""The one error type raised for bad input data (files, folders, caches).

A command-line front end prints ``str(error)`` as a one-line message, so every
:class:`DataError` names the offending file or folder and says what was expected.
"""
from cle.errors import UserError


class DataError(UserError):
    """Bad input data: names the file (or folder) and what was expected there.

    Parameters
    ----------
    path : str or os.PathLike
        The file or folder at fault.
    problem : str
        What is wrong and what was expected, as one sentence.

    Examples
    --------
    >>> str(DataError("/data/a.wav", "no samples; expected a non-empty WAV file"))
    '/data/a.wav: no samples; expected a non-empty WAV file'
    """

    def __init__(self, path, problem):
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")
