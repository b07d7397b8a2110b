"""The root of every error that is the user's to fix (bad input, a run or file not as expected).

A command-line front end prints such an error as one line and exits with status 1; any other
exception is a bug and shows its traceback. Each subclass names what is wrong and where:

- ``nips2015_vrnn.datasets.errors.DataError``: a data file or folder (path, problem);
- ``cle.train.checkpoint.CheckpointError``: a checkpoint directory or file;
- ``cle.train.ext.MonitoringError``: a monitored channel diverged;
- ``nips2015_vrnn.models.app.rundir.RunError``: a run directory;
- ``nips2015_vrnn.models.config.ConfigError``: a configuration key or value.

Example
-------
>>> issubclass(UserError, ValueError)
True
"""

__all__ = ["UserError"]


class UserError(ValueError):
    """Bad input from the user: the message says what was given and what was expected."""
