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

The names below are imported from their modules at first use, so importing this package (as the
console scripts do before they start) imports neither PyTensor nor the model code.
"""
import importlib

#: Public name -> the module of this package that defines it.
_EXPORTS = {
    "ModelConfig": "config", "load_config_txt": "config", "parse_config_lines": "config",
    "count_params": "network", "param_shapes": "network",
    "PRESETS": "presets", "get_preset": "presets", "preset_names": "presets",
    "RNN": "rnn", "build_rnn": "rnn", "VRNN": "vrnn", "build_vrnn": "vrnn",
    "build_model": "build", "BUILDERS": "build",
}
__all__ = list(_EXPORTS)


def __getattr__(name):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + __all__)
