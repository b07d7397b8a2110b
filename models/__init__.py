"""The NIPS 2015 VRNN and RNN model families (imported as ``nips2015_vrnn.models``).

- :mod:`~nips2015_vrnn.models.config`: :class:`ModelConfig` and the legacy ``config.txt`` reader;
- :mod:`~nips2015_vrnn.models.presets`: the paper's / legacy scripts' settings and small demos;
- :mod:`~nips2015_vrnn.models.network`: the layers and their legacy names;
- :mod:`~nips2015_vrnn.models.outputs`: the output models (heads, likelihood, sampling);
- :mod:`~nips2015_vrnn.models.sequence_model`: graphs shared by both families (family hooks);
- :mod:`~nips2015_vrnn.models.compiled`: graphs and compiled functions, once per model;
- :mod:`~nips2015_vrnn.models.estimators`: lower bound, importance sampling, generation (numpy);
- :mod:`~nips2015_vrnn.models.vrnn` / :mod:`~nips2015_vrnn.models.rnn`: the two builders;
- :mod:`~nips2015_vrnn.models.params`: parameters in and out by legacy name (.npz);
- :mod:`~nips2015_vrnn.models.app`: the application (run directories, training, sampling,
  evaluation, the command line) built on the above.

Typical use::

    from nips2015_vrnn.models import build_model, get_preset
    model = build_model(get_preset('blizzard/vrnn_gmm'))
    cost, recon, kl = model.cost_fn()(x)            # one training-cost call (TBPTT updates)
    lb = model.lower_bound(x_test)                  # (N,) nats per sequence
    ll = model.importance_sampled_loglik(x_test, n_samples=40)
    frames = model.generate(n_steps=40, n_sequences=4, seed=0)
"""
from nips2015_vrnn.models.config import ModelConfig, load_config_txt, parse_config_lines
from nips2015_vrnn.models.network import count_params, param_shapes
from nips2015_vrnn.models.presets import PRESETS, get_preset, preset_names
from nips2015_vrnn.models.rnn import RNN, build_rnn
from nips2015_vrnn.models.vrnn import VRNN, build_vrnn

__all__ = ["ModelConfig", "load_config_txt", "parse_config_lines", "count_params", "param_shapes", "PRESETS",
           "get_preset", "preset_names", "RNN", "VRNN", "build_rnn", "build_vrnn", "build_model", "BUILDERS"]


#: Model family -> its builder (the one table of families; ModelConfig.family names a key).
BUILDERS = {"vrnn": build_vrnn, "rnn": build_rnn}


def build_model(config, dtype=None):
    """The model of ``config`` (a :class:`ModelConfig` or a preset name): a VRNN or an RNN.

    ``dtype`` ('float32' / 'float64') defaults to :func:`cle.backend.floatX`.

    >>> build_model(get_preset('iamondb/rnn_gauss', rnn_dim=3, x2s_dim=2, p_x_dim=2)).config.model_name
    'RNN-Gauss'
    """
    if isinstance(config, str):
        config = get_preset(config)
    return BUILDERS[config.family](config, dtype=dtype)
