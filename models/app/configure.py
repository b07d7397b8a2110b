"""The configuration of a new run: a preset, then a legacy ``config.txt``, then ``--set`` overrides.

Example
-------
>>> cfg = resolve_config('blizzard', model='rnn-gauss', overrides={'rnn_dim': 8})
>>> cfg.model_name, cfg.rnn_dim
('RNN-Gauss', 8)
>>> parse_overrides(['rnn_dim=16', 'k=2'])
{'rnn_dim': 16, 'num_k': 2}
"""
from pathlib import Path

from nips2015_vrnn.datasets.errors import DataError
from nips2015_vrnn.models.config import BOOKKEEPING_FIELDS, ConfigError, load_config_txt, parse_config_lines
from nips2015_vrnn.models.presets import get_preset, models_of, preset_name, with_model

__all__ = ["parse_overrides", "resolve_config", "default_model", "paper_preset_of"]


def parse_overrides(pairs):
    """``['KEY=VALUE', ...]`` -> dict of typed :class:`ModelConfig` overrides (legacy key names).

    Raises
    ------
    ConfigError
        For an item without '=', an unknown key, or a value of the wrong type (one line).
    """
    lines = []
    for pair in pairs or ():
        key, sep, value = pair.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise ConfigError(f"--set expects KEY=VALUE, got {pair!r}")
        lines.append(f"{key.strip()} {value.strip()}")
    return parse_config_lines(lines, source="--set")


def resolve_config(corpus, model=None, config_file=None, overrides=None, demo=False, max_updates=None):
    """The :class:`ModelConfig` of a new run: a preset, then ``config_file``, then ``overrides``.

    Parameters
    ----------
    corpus : str
        The data format: a key of :data:`nips2015_vrnn.datasets.lookup.CORPORA`.
    model : str or None
        One of :data:`~nips2015_vrnn.models.presets.MODELS`; None is :func:`default_model`.
    config_file : path or None
        A legacy ``config.txt`` (``key value`` lines) applied over the preset.
    overrides : dict or None
        Typed overrides (see :func:`parse_overrides`), applied last.
    demo : bool
        Start from the small demo preset of ``corpus`` (``<corpus>/demo``) instead of the paper's.
    max_updates : int or None
        The run's update limit: when given and neither ``config_file`` nor ``overrides`` set
        ``epoch``, the preset's epoch count does not cap it (``epoch=0``: no epoch limit).
    """
    if demo:
        config = get_preset(f"{corpus}/demo")
        if model is not None:
            config = with_model(config, model)
    else:
        config = get_preset(preset_name(corpus, model or default_model(corpus)))
    if config_file is not None:
        if not Path(config_file).is_file():
            raise DataError(config_file, "no such file; expected a legacy config.txt of "
                                         "'key value' lines")
        config = load_config_txt(config_file, config)
    if overrides:
        config = config.replace(**overrides)
    if max_updates is not None and "epoch" not in (overrides or {}) and not (
            config_file is not None and "epoch" in _keys_of(config_file)):
        config = config.replace(epoch=0)
    return config


def default_model(corpus):
    """The model of a new run on ``corpus`` when none is given: VRNN-GMM (the paper's best speech
    model), else the corpus's first VRNN (vrnn-bernoulli on piano rolls, vrnn-categorical on text).

    >>> default_model('blizzard'), default_model('pianoroll'), default_model('text')
    ('vrnn-gmm', 'vrnn-bernoulli', 'vrnn-categorical')
    """
    models = models_of(corpus)
    return "vrnn-gmm" if not models or "vrnn-gmm" in models else models[0]


def _keys_of(config_file):
    """The keys a legacy ``config.txt`` sets."""
    return parse_config_lines(Path(config_file).read_text(encoding="utf-8").splitlines(),
                              source=str(config_file))


def paper_preset_of(corpus, config):
    """The paper preset whose model (every field but :data:`BOOKKEEPING_FIELDS`) equals ``config``,
    or None."""
    def model_part(cfg):
        return {k: v for k, v in cfg.as_dict().items() if k not in BOOKKEEPING_FIELDS}

    mine = model_part(config)
    for model in models_of(corpus):
        name = preset_name(corpus, model)
        if model_part(get_preset(name)) == mine:
            return name
    return None
