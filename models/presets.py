"""Ready-made configurations: the legacy scripts / the paper's models, and small demos.

Names are ``<corpus>/<model>``: ``blizzard/vrnn_gmm``, ``iamondb/rnn_gauss``, ``blizzard/demo`` ...
(:func:`preset_names` lists them). Paper-size settings (Chung et al., 2015, and the legacy scripts):

======================  ======  =====  ====  ===================================================
preset                  rnn     z      K     widths (x2s, z2s, q_z, p_z, p_x)
======================  ======  =====  ====  ===================================================
blizzard/vrnn_gmm       4000    200    20    500 everywhere
blizzard/vrnn_gauss     4000    200    --    600 on the x side (x2s, p_x), 500 on the z side
blizzard/vrnn_i_gauss   4000    200    --    as vrnn_gauss, prior N(0, I)
blizzard/rnn_gmm        4000    --     20    700 (x2s, p_x; the only stacks an RNN has)
blizzard/rnn_gauss      4000    --     --    700
iamondb/vrnn_gmm        1200    50     20    250 on the x side (x2s, p_x), 150 on the z side
iamondb/vrnn_gauss      1200    50     --    as vrnn_gmm (bivariate Gaussian output)
iamondb/vrnn_i_gauss    1200    50     --    as vrnn_gauss, prior N(0, I)
iamondb/rnn_gmm         1200    --     20    250 (x2s, p_x)
iamondb/rnn_gauss       1200    --     --    250
timit/<model>           as blizzard/<model> (see below)
sequences/<model>       256     16     5     128 everywhere (not from the paper: a user's corpus)
pianoroll/<model>       as sequences/<model>, the Bernoulli pair on 88 piano keys
text/<model>            256     16     --    128 everywhere; the categorical pair on characters
======================  ======  =====  ====  ===================================================

Blizzard: depth-4 stacks, batch 128, Adam lr 3e-4, TBPTT reset every 4 batches, cost = mean over
frames. IAM-OnDB: depth-1 stacks, batch 20, lr 3e-4, no carry, cost = masked sum over time,
mean over the batch.

TIMIT (data kind 'utterances': 200-sample frames, masked, no carry, cost = masked sum over time,
mean over the batch, so the monitored cost is nats per utterance as in Table 1): the paper states
the TIMIT sizes only in words we could not check in this port (the legacy code has no TIMIT
script), so the presets take the Blizzard architecture unchanged (the same 200-dimensional
frames and 16 kHz raw speech); override with ``--set`` to match another report.

``sequences/<model>`` (a user's own D-dimensional sequences; x_dim is taken from the prepared
file) are small defaults, not paper models; ``vrnn_bernoulli`` / ``rnn_bernoulli`` model {0, 1}
frames with independent Bernoullis (the output layer a sigmoid, the cost ``NllBin``).
``pianoroll/<model>`` are those two on the piano-roll benchmarks (``vrnn-prepare pianoroll``).
``text/vrnn_categorical`` / ``text/rnn_categorical`` model characters (``vrnn-prepare text``): a
softmax over the vocabulary read from the prepared file (x_dim), trained on TBPTT streams of
characters with the state carried over :data:`TEXT_RESET_FREQ` batches; the cost is the masked
sum over each example's characters, mean over the batch (the last evaluation block is shorter:
a mean over frames would count its padding), so ``vrnn-eval``'s per-step numbers are per character.

Choice of the 600/500 split of VRNN-Gauss (LEGACY.md says only "widths 600/500"): the Gaussian
output has far fewer decoder parameters than the GMM one, and the widened stacks are those that
carry x (the x features x2s and the decoder p_x = 600), while the z-side stacks (z2s, q_z, p_z)
keep 500. The RNN's unused z-side widths are set equal to its x-side width (they create no
parameters).

Example
-------
>>> get_preset('blizzard/vrnn_gmm').rnn_dim
4000
>>> get_preset('iamondb/vrnn_gmm', rnn_dim=8).rnn_dim
8
"""
from collections import OrderedDict

from nips2015_vrnn.models.config import ConfigError, ModelConfig

__all__ = ["PRESETS", "MODELS", "PAPER_MODELS", "PAPER_CORPORA", "PRESET_CORPORA", "USER_CORPORA",
           "models_of", "get_preset", "preset_names",
           "preset_name", "with_model"]

#: The paper's models by command-line name -> (family, output kind, prior). The one table of
#: model names: the presets below, the command line and the model choices derive from it.
MODELS = OrderedDict([
    ("vrnn-gmm", ("vrnn", "gmm", "learned")),
    ("vrnn-gauss", ("vrnn", "gauss", "learned")),
    ("vrnn-i-gauss", ("vrnn", "gauss", "standard")),
    ("rnn-gmm", ("rnn", "gmm", "learned")),
    ("rnn-gauss", ("rnn", "gauss", "learned")),
    ("vrnn-bernoulli", ("vrnn", "bernoulli", "learned")),
    ("rnn-bernoulli", ("rnn", "bernoulli", "learned")),
    ("vrnn-categorical", ("vrnn", "categorical", "learned")),
    ("rnn-categorical", ("rnn", "categorical", "learned")),
])
#: The models of the paper's Table 1 (the Bernoulli pair is for binary sequences, the categorical
#: pair for text).
PAPER_MODELS = tuple(m for m, (_, output, _) in MODELS.items() if output not in ("bernoulli", "categorical"))
#: Handwriting uses the bivariate version of each output kind (plus the pen bit).
HANDWRITING_OUTPUT = {"gauss": "bigauss", "gmm": "bigmm"}

_BLIZZARD = dict(data="speech", x_dim=200, z_dim=200, rnn_dim=4000, depth=4, num_k=20, cost_norm="frame_mean",
                 reset_freq=4, batch_size=128, m_batch_size=128, lr=3e-4, monitoring_freq=2000)
_IAMONDB = dict(data="handwriting", x_dim=3, z_dim=50, rnn_dim=1200, depth=1, num_k=20, cost_norm="sequence_sum",
                reset_freq=0, batch_size=20, m_batch_size=20, lr=3e-4, monitoring_freq=2000)


_TIMIT = dict(_BLIZZARD, data="utterances", cost_norm="sequence_sum", reset_freq=0)
#: Text: the state is carried across this many consecutive batches of each stream (then zeros).
TEXT_RESET_FREQ = 8
_TEXT = dict(data="text", x_dim=2, z_dim=16, rnn_dim=256, depth=1, num_k=1, cost_norm="sequence_sum",
             reset_freq=TEXT_RESET_FREQ, batch_size=32, m_batch_size=32, lr=2e-3, monitoring_freq=200)
_SEQUENCES = dict(data="sequences", x_dim=1, z_dim=16, rnn_dim=256, depth=1, num_k=5, cost_norm="sequence_sum",
                  reset_freq=0, batch_size=32, m_batch_size=32, lr=1e-3, monitoring_freq=200)

#: The demo speech model: 24 epochs of the demo corpus's 26 batches of 16 rows (624 updates,
#: about a minute on 2 cores) at lr 3e-3, with depth-1 stacks 128 wide on the x side (x2s, p_x:
#: the 200-sample waveform goes through them; after 312 updates the validation bound is 241
#: nats per frame against 160 for depth-4 stacks 32 wide). Its samples emit each frame's drawn
#: mixture component mean (``sample_output='mean'``; z and the component are still drawn): at
#: this training budget the white output noise of a drawn frame is nearly as loud as the voiced
#: sound, while the means keep the silences silent and the vowels harmonic (README, Quickstart).
#: Its VRNN uses z without KL annealing or free bits (0.6-1 nat per frame at the end).
_DEMO_SPEECH = dict(z_dim=16, rnn_dim=64, depth=1, num_k=5, batch_size=16, m_batch_size=16, lr=3e-3,
                    monitoring_freq=100, epoch=24, sample_output="mean")
#: The demo handwriting model: 14 epochs of 30 batches of 8 lines (420 updates) at lr 3e-3, with
#: 128-wide x-side stacks; its samples' strokes turn as smoothly as the training lines'.
_DEMO_HANDWRITING = dict(z_dim=8, rnn_dim=64, num_k=5, batch_size=8, m_batch_size=8, lr=3e-3,
                         monitoring_freq=100, epoch=14)


def _widths(x_side, z_side):
    return dict(x2s_dim=x_side, p_x_dim=x_side, z2s_dim=z_side, q_z_dim=z_side, p_z_dim=z_side)


#: Preset name -> ModelConfig.
PRESETS = {
    "blizzard/vrnn_gmm": ModelConfig(family="vrnn", output="gmm", **_BLIZZARD, **_widths(500, 500)),
    "blizzard/vrnn_gauss": ModelConfig(family="vrnn", output="gauss", **_BLIZZARD, **_widths(600, 500)),
    "blizzard/vrnn_i_gauss": ModelConfig(family="vrnn", output="gauss", prior="standard", **_BLIZZARD,
                                         **_widths(600, 500)),
    "blizzard/rnn_gmm": ModelConfig(family="rnn", output="gmm", **_BLIZZARD, **_widths(700, 700)),
    "blizzard/rnn_gauss": ModelConfig(family="rnn", output="gauss", **_BLIZZARD, **_widths(700, 700)),
    "iamondb/vrnn_gmm": ModelConfig(family="vrnn", output="bigmm", **_IAMONDB, **_widths(250, 150)),
    "iamondb/vrnn_gauss": ModelConfig(family="vrnn", output="bigauss", **_IAMONDB, **_widths(250, 150)),
    "iamondb/vrnn_i_gauss": ModelConfig(family="vrnn", output="bigauss", prior="standard", **_IAMONDB,
                                        **_widths(250, 150)),
    "iamondb/rnn_gmm": ModelConfig(family="rnn", output="bigmm", **_IAMONDB, **_widths(250, 250)),
    "iamondb/rnn_gauss": ModelConfig(family="rnn", output="bigauss", **_IAMONDB, **_widths(250, 250)),
    # Small models that train in about a minute on 2 CPU cores (same structure, tiny widths) and
    # whose samples resemble the demo corpus (see _DEMO_SPEECH / _DEMO_HANDWRITING).
    "blizzard/demo": ModelConfig(family="vrnn", output="gmm", **{**_BLIZZARD, **_DEMO_SPEECH},
                                 **_widths(128, 32)),
    "iamondb/demo": ModelConfig(family="vrnn", output="bigmm", **{**_IAMONDB, **_DEMO_HANDWRITING},
                                **_widths(128, 16)),
}
# TIMIT: the Blizzard models on masked whole utterances (see the module docstring).
PRESETS.update({f"timit/{name.split('/')[1]}": PRESETS[name].replace(**_TIMIT)
                for name in list(PRESETS) if name.startswith("blizzard/") and not name.endswith("/demo")})
# A user's own sequences: every model of MODELS, small.
PRESETS.update({f"sequences/{model.replace('-', '_')}": ModelConfig(family=family, output=output, prior=prior,
                                                                    **_SEQUENCES, **_widths(128, 128))
                for model, (family, output, prior) in MODELS.items() if output != "categorical"})
# Characters: the categorical pair.
PRESETS.update({f"text/{model.replace('-', '_')}": ModelConfig(family=family, output=output, prior=prior,
                                                               **_TEXT, **_widths(128, 128))
                for model, (family, output, prior) in MODELS.items() if output == "categorical"})
# The polyphonic-music benchmarks: the Bernoulli pair of the sequences presets on 88 keys.
PRESETS.update({f"pianoroll/{model.replace('-', '_')}": PRESETS[f"sequences/{model.replace('-', '_')}"]
                .replace(x_dim=88) for model, (_, output, _) in MODELS.items() if output == "bernoulli"})


def preset_names():
    """The preset names, sorted."""
    return sorted(PRESETS)


def get_preset(name, **overrides):
    """The preset ``name`` with ``overrides`` applied (a new, frozen :class:`ModelConfig`).

    Raises
    ------
    ValueError
        For an unknown name (listing the known ones) or an unknown override key.
    """
    if name not in PRESETS:
        raise ConfigError(f"unknown preset {name!r}; expected one of {', '.join(preset_names())}")
    return PRESETS[name].replace(**overrides) if overrides else PRESETS[name]


#: Corpora with presets (``<corpus>/<model>``), derived from :data:`PRESETS`.
PRESET_CORPORA = tuple(OrderedDict.fromkeys(name.split("/")[0] for name in PRESETS
                                           if not name.endswith("/demo")))
#: Corpora whose presets are small defaults for a user's own data, not models of the paper.
USER_CORPORA = ("sequences", "pianoroll", "text")
#: Corpora with the paper's presets (the columns of its Table 1 this port has).
PAPER_CORPORA = tuple(c for c in PRESET_CORPORA if c not in USER_CORPORA)


def preset_name(corpus, model):
    """The preset of ``model`` (command-line name, e.g. 'vrnn-gmm') on ``corpus``: 'blizzard/vrnn_gmm'.

    >>> preset_name('iamondb', 'vrnn-i-gauss')
    'iamondb/vrnn_i_gauss'
    """
    if corpus not in PRESET_CORPORA:
        raise ConfigError(f"corpus must be one of {', '.join(PRESET_CORPORA)}; got {corpus!r}")
    if model not in MODELS:
        raise ConfigError(f"model must be one of {', '.join(MODELS)}; got {model!r}")
    name = f"{corpus}/{model.replace('-', '_')}"
    if name not in PRESETS:
        raise ConfigError(f"model {model} is not available for {corpus}; expected one of "
                          f"{', '.join(models_of(corpus))}")
    return name


def models_of(corpus):
    """The models (command-line names) with a preset on ``corpus``, in :data:`MODELS` order.

    >>> models_of('blizzard')
    ['vrnn-gmm', 'vrnn-gauss', 'vrnn-i-gauss', 'rnn-gmm', 'rnn-gauss']
    """
    return [m for m in MODELS if f"{corpus}/{m.replace('-', '_')}" in PRESETS]


def with_model(config, model):
    """``config`` turned into the paper model ``model`` (family, output kind and prior only).

    >>> with_model(get_preset('iamondb/demo'), 'rnn-gauss').model_name
    'RNN-Gauss'
    """
    if model not in MODELS:
        raise ConfigError(f"model must be one of {', '.join(MODELS)}; got {model!r}")
    family, output, prior = MODELS[model]
    if config.data == "handwriting":
        output = HANDWRITING_OUTPUT.get(output, output)  # no bivariate Bernoulli: the config check says so
    return config.replace(family=family, output=output, prior=prior)
