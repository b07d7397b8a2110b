"""Refuse a model that cannot fit in memory before anything is allocated.

Training holds, per parameter, the value, its gradient, Adam's two moments and the update's
temporaries: about :data:`COPIES_PER_PARAM` arrays the size of the parameters. A configuration
whose parameters alone would need more than the memory available is refused with a
:class:`~nips2015_vrnn.models.config.ConfigError` naming the sizes.

Example
-------
>>> from nips2015_vrnn.models.presets import get_preset
>>> check_fits_memory(get_preset('blizzard/demo'), 'float32', available=2 ** 30) > 0
True
"""
import os

import numpy as np

from nips2015_vrnn.models.config import ConfigError
from nips2015_vrnn.models.network import count_params

__all__ = ["check_fits_memory", "check_generation_fits", "available_memory", "COPIES_PER_PARAM"]

#: Arrays of the parameters' size that training keeps (value, gradient, 2 Adam moments, update).
COPIES_PER_PARAM = 5

GIB = 2 ** 30


def available_memory():
    """Bytes of memory available to a new allocation (MemAvailable, else physical memory)."""
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, AttributeError):
        return None


def check_fits_memory(config, dtype, available=None):
    """Bytes training ``config`` in ``dtype`` needs for its parameters; ConfigError when more
    than ``available`` (default :func:`available_memory`)."""
    needed = count_params(config) * np.dtype(dtype).itemsize * COPIES_PER_PARAM
    available = available_memory() if available is None else available
    if available is not None and needed > available:
        raise ConfigError(
            f"the model has {count_params(config):.3g} parameters: training it in {dtype} needs "
            f"about {needed / GIB:.3g} GiB for the parameters, their gradients and Adam's moments, "
            f"and {available / GIB:.3g} GiB is available; expected smaller widths (rnn_dim "
            f"{config.rnn_dim}, x2s_dim {config.x2s_dim}, z_dim {config.z_dim}, ...)")
    return needed


def generation_bytes(config, dtype, n, steps):
    """Bytes generating ``n`` sequences of ``steps`` frames keeps at once, estimated: per sequence
    and step, the generated frame twice in ``dtype`` (the scan's output and its copy out of the
    backend) and once in float64 (de-normalised for writing), with the carried LSTM state and the
    latent draw (``2 rnn_dim + z_dim`` values in ``dtype``). On the high side: the demo's 100000
    sequences of 40 frames count 14 GiB here, where about 11 GB was seen allocated."""
    itemsize = np.dtype(dtype).itemsize
    per_step = config.x_dim * (2 * itemsize + 8) + (2 * config.rnn_dim + config.z_dim) * itemsize
    return int(n) * int(steps) * per_step


def check_generation_fits(config, dtype, n, steps, available=None):
    """Bytes :func:`generation_bytes` estimates; ConfigError (naming ``--n`` and ``--steps``)
    when more than ``available`` (default :func:`available_memory`), before anything is allocated."""
    needed = generation_bytes(config, dtype, n, steps)
    available = available_memory() if available is None else available
    if available is not None and needed > available:
        fits = max(1, int(n * available / needed))
        raise ConfigError(f"generating {n} sequences of {steps} frames needs about "
                          f"{needed / GIB:.3g} GiB, and {available / GIB:.3g} GiB is available; "
                          f"expected --n {fits} or fewer (or fewer --steps)")
    return needed
