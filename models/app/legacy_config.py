"""The :class:`ModelConfig` of a legacy trained model: inferred from its parameters, completed by
its legacy configuration, and checked layer by layer against the port's model.

What the parameter shapes fix (:func:`infer_fields`): the family (a ``z`` stack or not), the
output model (its heads: ``coeff``, ``corr``, ``binary``, ``theta_sig``), the prior (a ``prior``
stack or N(0, I)), the stack depth, every width, ``num_k`` and, from the TBPTT state ``rnn_tm1``
(batch_size, 2 * rnn_dim), ``batch_size``. Which legacy script trained it fixes the cost
normalisation and the carry: a speech output (GMM / Gauss) is the Blizzard script's (mean over
frames, TBPTT when the pickle holds ``rnn_tm1``), a handwriting output the IAM-OnDB script's (sum
over time, no carry). Everything else (lr, batch sizes, epoch, monitoring_freq ...) comes from
the legacy ``config.txt`` (or a JSON dict of the same keys) over the corpus's preset.

A value the configuration gives that contradicts the parameters is an error naming both, and
the final configuration must build exactly the pickle's parameter names and shapes, with the
legacy layers' units, constants and parents (:func:`check_structure`).

Example
-------
>>> import numpy as np
>>> from nips2015_vrnn.models import get_preset, param_shapes
>>> config = get_preset('iamondb/vrnn_gmm', rnn_dim=6, z_dim=2, x2s_dim=3, z2s_dim=3, q_z_dim=3,
...                     p_z_dim=3, p_x_dim=3, num_k=2)
>>> fields = infer_fields({n: np.zeros(s) for n, s in param_shapes(config).items()}, {})
>>> fields['output'], fields['depth'], fields['rnn_dim'], fields['num_k']
('bigmm', 1, 6, 2)
"""
import json
import logging
from collections import OrderedDict
from pathlib import Path

from nips2015_vrnn.datasets.lookup import CORPORA
from nips2015_vrnn.models.config import ConfigError, field_names, parse_config_lines
from nips2015_vrnn.models.network import build_layers, param_shapes
from nips2015_vrnn.models.presets import HANDWRITING_OUTPUT, MODELS, get_preset, preset_name

log = logging.getLogger(__name__)

__all__ = ["read_legacy_config", "infer_fields", "legacy_model_config", "check_structure", "default_corpus"]

#: The legacy scripts' cost normalisation and carry, by the kind of output they model.
SCRIPT_SETTINGS = {"speech": dict(cost_norm="frame_mean"), "handwriting": dict(cost_norm="sequence_sum", reset_freq=0)}
#: The legacy TBPTT state variable whose rows are the training batch.
STATE_NAME = "rnn_tm1"


def read_legacy_config(path):
    """The :class:`ModelConfig` keys of a legacy ``config.txt`` ('key value' lines) or of a JSON
    object of the same keys; returns ``(overrides, ignored)``.

    Keys that are not :class:`ModelConfig` fields (legacy ``k`` is ``num_k``) are returned in
    ``ignored`` rather than refused: a legacy run's configuration may hold bookkeeping of its own.

    Raises
    ------
    ConfigError
        Unreadable file, or a value of the wrong type (naming the key and the line).
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise ConfigError(f"{path}: cannot be read as text ({err}); expected a legacy config.txt or a JSON "
                          "object of its keys") from None
    if path.suffix.lower() == ".json" or text.lstrip().startswith("{"):
        try:
            record = json.loads(text)
        except ValueError as err:
            raise ConfigError(f"{path}: not valid JSON ({err})") from None
        if not isinstance(record, dict):
            raise ConfigError(f"{path}: holds a JSON {type(record).__name__}; expected an object of config keys")
        lines = []
        for key, value in record.items():
            if isinstance(value, (dict, list)):
                lines.append(f"{key} {json.dumps(value)}")  # refused below if the key is a field
            else:
                lines.append(f"{key} {value}")
    else:
        lines = text.splitlines()
    known = set(field_names()) | {"k"}
    kept, ignored = [], []
    for line in lines:
        key = line.strip().split(None, 1)[0] if line.strip() and not line.strip().startswith("#") else None
        if key is not None and key not in known:
            ignored.append(key)
            kept.append("")
        else:
            kept.append(line)
    overrides = parse_config_lines(kept, source=str(path))
    return overrides, ignored


def _width(shapes, name, where):
    if name not in shapes:
        raise ConfigError(f"{where}: no parameter {name}; the parameters are not those of a legacy VRNN or RNN "
                          f"(found {', '.join(list(shapes)[:6])} ...)")
    return int(shapes[name][-1])


def infer_fields(params, state, where="the pickle"):
    """The :class:`ModelConfig` fields the parameter shapes (and the TBPTT state) fix.

    Parameters
    ----------
    params : dict legacy name -> array
    state : dict name -> array (``rnn_tm1`` (batch_size, 2 * rnn_dim) gives ``batch_size``)
    where : str
        Names the source in errors.

    Returns
    -------
    OrderedDict field -> value: family, output, prior, depth, x_dim, rnn_dim, x2s_dim, p_x_dim,
    and as the model has them z_dim, z2s_dim, q_z_dim, p_z_dim, num_k, batch_size.
    """
    shapes = {name: tuple(value.shape) for name, value in params.items()}
    fields = OrderedDict(family="vrnn" if "b_z_1" in shapes else "rnn")
    if "b_binary" in shapes:
        fields["output"] = "bigmm" if "b_coeff" in shapes else "bigauss"
    elif "b_coeff" in shapes:
        fields["output"] = "gmm"
    else:
        fields["output"] = "gauss" if "b_theta_sig" in shapes else "bernoulli"
    vrnn = fields["family"] == "vrnn"
    fields["prior"] = "learned" if "b_prior_1" in shapes or not vrnn else "standard"
    depth = 0
    while f"b_x_{depth + 1}" in shapes:
        depth += 1
    fields["depth"] = depth
    for name in ("U_rnn__rnn", "W_x_t__x_1"):
        _width(shapes, name, where)
    fields["x_dim"] = int(shapes["W_x_t__x_1"][0])
    fields["rnn_dim"] = int(shapes["U_rnn__rnn"][0])
    fields["x2s_dim"] = _width(shapes, f"b_x_{depth}", where)
    fields["p_x_dim"] = _width(shapes, "b_theta_1", where)
    if vrnn:
        fields["z_dim"] = _width(shapes, "b_phi_mu", where)
        fields["z2s_dim"] = _width(shapes, f"b_z_{depth}", where)
        fields["q_z_dim"] = _width(shapes, "b_phi_1", where)
        if fields["prior"] == "learned":
            fields["p_z_dim"] = _width(shapes, "b_prior_1", where)
    if fields["output"] in ("gmm", "bigmm"):
        fields["num_k"] = _width(shapes, "b_coeff", where)
    if STATE_NAME in state and getattr(state[STATE_NAME], "ndim", 0) == 2:
        fields["batch_size"] = int(state[STATE_NAME].shape[0])
    return fields


def _model_name(fields):
    """The command-line model name (a key of MODELS) of the inferred family / output / prior."""
    output = {v: k for k, v in HANDWRITING_OUTPUT.items()}.get(fields["output"], fields["output"])
    for name, (family, kind, prior) in MODELS.items():
        if (family, kind, prior) == (fields["family"], output, fields["prior"]):
            return name
    raise ConfigError(f"no model of this port is a {fields['family']} with output {fields['output']} and prior "
                      f"{fields['prior']}")


def default_corpus(fields):
    """The corpus a legacy model was trained on, by its output: iamondb for handwriting, else blizzard."""
    return "iamondb" if fields["output"] in HANDWRITING_OUTPUT.values() else "blizzard"


def legacy_model_config(loop, corpus=None, config_file=None, overrides=None):
    """The :class:`ModelConfig` of the legacy model ``loop`` (a :class:`cle.legacy.LegacyMainLoop`).

    The preset of ``corpus`` (default :func:`default_corpus`) and the inferred model, then the
    legacy ``config_file``, then ``overrides`` (typed, legacy key names), then the legacy script's
    cost normalisation and carry and the inferred fields (a given value that differs is an error).

    Returns
    -------
    (ModelConfig, ignored): ``ignored`` lists the config file's keys that are not fields.

    Raises
    ------
    ConfigError
        A value that contradicts the parameters, or parameters no configuration of the port builds.
    """
    fields = infer_fields(loop.params, loop.state, where=loop.source)
    corpus = corpus or default_corpus(fields)
    if corpus not in CORPORA:
        raise ConfigError(f"unknown corpus {corpus!r}; expected one of {', '.join(CORPORA)}")
    given, ignored = read_legacy_config(config_file) if config_file is not None else ({}, [])
    given.update(overrides or {})
    for key, value in fields.items():
        if key in given and given[key] != value:
            source = config_file if config_file is not None and key not in (overrides or {}) else "--set"
            raise ConfigError(f"{source} gives {key}={given[key]!r}, but the parameters of {loop.source} have "
                              f"{key}={value!r}")
    script = "handwriting" if fields["output"] in HANDWRITING_OUTPUT.values() else "speech"
    settings = dict(SCRIPT_SETTINGS[script])
    if script == "speech" and STATE_NAME not in loop.state:
        settings["reset_freq"] = 0  # the pickle carries no TBPTT state
    settings.update({k: v for k, v in given.items() if k in settings})
    config = get_preset(preset_name(corpus, _model_name(fields)))
    try:
        config = config.replace(**{**given, **settings, **fields, "data": CORPORA[corpus].data})
    except (TypeError, ValueError) as err:
        raise ConfigError(f"{loop.source}: no {corpus} configuration fits ({err})") from None
    check_structure(loop, config)
    return config, ignored


def check_structure(loop, config):
    """ConfigError unless ``config`` builds the parameters of ``loop`` (names and shapes) and, where
    the pickle records its layers, their units, constants and parents."""
    expected = param_shapes(config)
    found = OrderedDict((name, tuple(value.shape)) for name, value in loop.params.items())
    missing = [n for n in expected if n not in found]
    unexpected = [n for n in found if n not in expected]
    if missing or unexpected:
        raise ConfigError(f"{loop.source}: the parameters are not those of a {config.model_name} of depth "
                          f"{config.depth}: missing {missing[:5]}, unexpected {unexpected[:5]}")
    for name, shape in expected.items():
        if found[name] != tuple(shape):
            raise ConfigError(f"{loop.source}: parameter {name} is {found[name]}, the {config.model_name} "
                              f"of this configuration has {tuple(shape)}")
    for name, layer in build_layers(config).items():
        legacy = loop.layers.get(name)
        if legacy is None:
            continue
        ours = {"unit": layer.unit, "cons": float(layer.cons),
                "parent": OrderedDict(zip(layer.parent, (int(d) for d in layer.parent_dim)))}
        theirs = {"unit": legacy["unit"], "cons": float(legacy["cons"] or 0.0), "parent": legacy["parent"]}
        for key in ("unit", "cons", "parent"):
            mine, other = ours[key], theirs[key]
            if key == "parent":
                mine, other = dict(mine), {str(k): int(v) for k, v in other.items()}
            if mine != other:
                raise ConfigError(f"{loop.source}: layer {name} has {key} {other!r}; the port's "
                                  f"{config.model_name} has {mine!r}")
