"""The one table of model families and the builder that picks from it."""
from nips2015_vrnn.models.presets import get_preset
from nips2015_vrnn.models.rnn import build_rnn
from nips2015_vrnn.models.vrnn import build_vrnn

__all__ = ["BUILDERS", "build_model"]

#: Model family -> its builder (the one table of families; ModelConfig.family names a key).
BUILDERS = {"vrnn": build_vrnn, "rnn": build_rnn}


def build_model(config, dtype=None, backend=None):
    """The model of ``config`` (a :class:`ModelConfig` or a preset name): a VRNN or an RNN.

    ``backend`` (a :class:`cle.backend.Backend`) compiles its graphs; default ``Backend()``: the
    C mode in float32, which compiles any graph. ``dtype`` ('float32' / 'float64') overrides the
    backend's ``floatX``.

    >>> build_model(get_preset('iamondb/rnn_gauss', rnn_dim=3, x2s_dim=2, p_x_dim=2)).config.model_name
    'RNN-Gauss'
    """
    if isinstance(config, str):
        config = get_preset(config)
    return BUILDERS[config.family](config, dtype=dtype, backend=backend)
