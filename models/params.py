"""Parameters in and out by legacy name: a ``.npz`` whose keys are the legacy parameter names.

A file written by :func:`save_params` holds one array per parameter (``W_x_t__x_1``, ``U_rnn__rnn``,
...), so it is interchangeable with a legacy parameter dict. Loading checks that the names,
shapes and dtypes match the model's and lists every mismatch in one error.

Example
-------
>>> import numpy as np, os, tempfile
>>> from cle.utils import sharedX
>>> params = {'b_x_1': sharedX(np.ones(2), name='b_x_1')}
>>> path = os.path.join(tempfile.mkdtemp(), 'p.npz')
>>> save_params(path, params)
>>> params['b_x_1'].set_value(np.zeros(2, dtype=params['b_x_1'].dtype))
>>> load_params(path, params)
>>> params['b_x_1'].get_value().tolist()
[1.0, 1.0]
"""
import logging

import numpy as np

log = logging.getLogger(__name__)

__all__ = ["save_params", "load_params", "set_param_values", "check_param_values"]


def save_params(path, params):
    """Write the current values of ``params`` (name -> shared variable) to the ``.npz`` ``path``."""
    arrays = {name: np.asarray(p.get_value()) for name, p in params.items()}
    with open(path, "wb") as handle:
        np.savez(handle, **arrays)
    log.info("saved %d parameters to %s", len(arrays), path)


def check_param_values(values, params, cast=False):
    """Mismatches between ``values`` (name -> array) and ``params`` (name -> shared), as text lines.

    Missing and unexpected names, wrong shapes and (unless ``cast``) wrong dtypes are reported.
    """
    problems = []
    missing = [n for n in params if n not in values]
    extra = [n for n in values if n not in params]
    if missing:
        problems.append(f"missing parameters: {', '.join(missing)}")
    if extra:
        problems.append(f"unexpected parameters: {', '.join(extra)}")
    for name, shared in params.items():
        if name not in values:
            continue
        value = np.asarray(values[name])
        current = shared.get_value(borrow=True)
        if value.shape != current.shape:
            problems.append(f"{name}: shape {value.shape}, model expects {current.shape}")
        if not cast and value.dtype != current.dtype:
            problems.append(f"{name}: dtype {value.dtype}, model expects {current.dtype}")
    return problems


def set_param_values(values, params, cast=False, source="values"):
    """Set ``params`` (name -> shared) from ``values`` (name -> array) after checking them all.

    Parameters
    ----------
    values : mapping name -> ndarray
    params : mapping name -> shared variable
    cast : bool
        Convert each array to the parameter's dtype instead of reporting a dtype mismatch.
    source : str
        Where the values come from, for the error message.

    Raises
    ------
    ValueError
        Listing every missing / unexpected name and every shape or dtype mismatch.
    """
    problems = check_param_values(values, params, cast=cast)
    if problems:
        raise ValueError(f"parameters from {source} do not fit the model:\n  " + "\n  ".join(problems))
    for name, shared in params.items():
        shared.set_value(np.asarray(values[name], dtype=shared.dtype))


def load_params(path, params, cast=False):
    """Load the ``.npz`` ``path`` (written by :func:`save_params` or from a legacy dict) into ``params``."""
    with np.load(path, allow_pickle=False) as data:
        values = {name: data[name] for name in data.files}
    set_param_values(values, params, cast=cast, source=str(path))
    log.info("loaded %d parameters from %s", len(values), path)
