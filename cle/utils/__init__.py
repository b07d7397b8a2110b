"""Small helpers shared by the whole framework (the legacy ``cle.cle.utils``).

- :func:`sharedX` / :func:`castX`: values in the current ``floatX`` (see :mod:`cle.backend`);
- :func:`init_tparams`: a dict name -> array becomes a dict name -> shared variable;
- :func:`tolist`, :func:`totuple`, :func:`unpack`: the legacy argument normalisers;
- :func:`segment_axis`: cut an array into (possibly overlapping) frames along one axis.
"""
from collections import OrderedDict

import numpy as np
import pytensor

from cle.backend import floatX

__all__ = [
    "OrderedDict",
    "sharedX",
    "castX",
    "init_tparams",
    "tolist",
    "totuple",
    "unpack",
    "segment_axis",
    "flatten",
    "predict",
]


def sharedX(value, name=None, borrow=False, dtype=None):
    """A shared variable holding ``value`` cast to ``dtype`` (default: floatX).

    >>> import numpy as np
    >>> sharedX(np.zeros(3), name="b").get_value().dtype == np.dtype(floatX())
    True
    """
    return pytensor.shared(np.asarray(value, dtype=dtype or floatX()), name=name, borrow=borrow)


def castX(value):
    """``value`` as a numpy array of floatX.

    >>> castX([1, 2]).dtype == np.dtype(floatX())
    True
    """
    return np.asarray(value, dtype=floatX())


def init_tparams(params):
    """Turn an ordered dict name -> ndarray into an ordered dict name -> shared variable.

    Each shared variable is named by its key (the legacy parameter name), keeping the order.
    """
    return OrderedDict((name, sharedX(value, name=name)) for name, value in params.items())


def tolist(arg):
    """``arg`` as a list: lists stay, tuples become lists, anything else is wrapped.

    >>> tolist(3), tolist((1, 2)), tolist([4])
    ([3], [1, 2], [4])
    """
    if isinstance(arg, list):
        return arg
    if isinstance(arg, tuple):
        return list(arg)
    return [arg]


def totuple(arg):
    """``arg`` as a tuple (same rules as :func:`tolist`).

    >>> totuple([1, 2]), totuple(3)
    ((1, 2), (3,))
    """
    return tuple(tolist(arg))


def unpack(arg):
    """A one-element list or tuple becomes its element; anything else is returned as is.

    >>> unpack([5]), unpack([1, 2]), unpack(7)
    (5, [1, 2], 7)
    """
    if isinstance(arg, (list, tuple)) and len(arg) == 1:
        return arg[0]
    return arg


def flatten(nested):
    """A flat list of the leaves of nested lists / tuples.

    >>> flatten([1, [2, (3, [4])]])
    [1, 2, 3, 4]
    """
    out = []
    for item in nested:
        if isinstance(item, (list, tuple)):
            out.extend(flatten(item))
        else:
            out.append(item)
    return out


def predict(probs):
    """Index of the largest entry along the last axis (a symbolic or numpy array)."""
    return probs.argmax(axis=-1)


def segment_axis(a, length, overlap=0, axis=None, end="cut", endvalue=0):
    """Frames of ``length`` samples along ``axis``, consecutive frames sharing ``overlap``.

    The result has the axis replaced by two: (n_frames, length). ``end`` says what to do with
    a tail shorter than a frame: 'cut' drops it, 'pad' fills with ``endvalue``, 'wrap' takes
    the samples from the start.

    Parameters
    ----------
    a : ndarray
    length : int, > 0
    overlap : int, 0 <= overlap < length
    axis : int or None (None flattens ``a`` first)
    end : {'cut', 'pad', 'wrap'}

    >>> segment_axis(np.arange(10), 4, 2)
    array([[0, 1, 2, 3],
           [2, 3, 4, 5],
           [4, 5, 6, 7],
           [6, 7, 8, 9]])
    """
    a = np.asarray(a)
    if axis is None:
        a = a.ravel()
        axis = 0
    axis = axis % a.ndim
    if length <= 0:
        raise ValueError(f"segment_axis: length must be > 0, got {length}")
    if not 0 <= overlap < length:
        raise ValueError(f"segment_axis: need 0 <= overlap < length, got overlap={overlap}, length={length}")
    if end not in ("cut", "pad", "wrap"):
        raise ValueError(f"segment_axis: end must be 'cut', 'pad' or 'wrap', got {end!r}")
    step = length - overlap
    n = a.shape[axis]
    if n < length:
        n_frames = 0
    else:
        n_frames = 1 + (n - length) // step
    tail = n - (n_frames - 1) * step - length if n_frames else n
    if end != "cut" and (n < length or tail > 0):
        n_frames += 1
        needed = (n_frames - 1) * step + length
        extra = needed - n
        if end == "pad":
            pad_shape = list(a.shape)
            pad_shape[axis] = extra
            filler = np.full(pad_shape, endvalue, dtype=a.dtype)
        else:
            filler = np.take(a, np.arange(extra) % max(n, 1), axis=axis)
        a = np.concatenate([a, filler], axis=axis)
    if n_frames == 0:
        shape = a.shape[:axis] + (0, length) + a.shape[axis + 1:]
        return np.empty(shape, dtype=a.dtype)
    idx = np.arange(n_frames)[:, None] * step + np.arange(length)[None, :]
    return np.take(a, idx, axis=axis)
