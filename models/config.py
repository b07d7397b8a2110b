"""The configuration of one model run: :class:`ModelConfig` and the legacy ``config.txt`` reader.

A run is described by one flat record: the model (family, output model, widths), its cost
normalisation and truncated-BPTT carry, and the training hyper-parameters the legacy scripts
read from ``config.txt`` (``lr``, ``batch_size``, ...). Presets (:mod:`nips2015_vrnn.models.presets`)
are ready-made records; a legacy ``config.txt`` (``key value`` lines) overrides one.

Example
-------
>>> cfg = ModelConfig(x_dim=8, z_dim=4, rnn_dim=6, x2s_dim=5, z2s_dim=5, q_z_dim=5, p_z_dim=5,
...                   p_x_dim=5, num_k=3)
>>> cfg.replace(lr=1e-3).lr
0.001
>>> parse_config_lines(['lr 0.001', 'k 5'])
{'lr': 0.001, 'num_k': 5}
"""
import dataclasses
import logging
from collections import OrderedDict, namedtuple
from dataclasses import dataclass, fields
from pathlib import Path

from cle.errors import UserError

log = logging.getLogger(__name__)

__all__ = ["ModelConfig", "ConfigError", "BOOKKEEPING_FIELDS", "parse_config_lines", "load_config_txt",
           "FAMILIES", "OUTPUTS", "DATA_KINDS",
           "COST_NORMS", "PRIORS", "TRAINING_BOUNDS"]

#: Model families: the VRNN (latent z per step) and the plain RNN (no z).
FAMILIES = ("vrnn", "rnn")
#: Output models: diagonal Gaussian / GMM over frames (speech), the handwriting pair
#: (bivariate Gaussian / mixture of bivariate Gaussians over (dx, dy) plus a Bernoulli pen bit),
#: independent Bernoullis over {0, 1} frames (binary sequences) and a softmax over one-hot frames (text).
OUTPUTS = ("gauss", "gmm", "bigauss", "bigmm", "bernoulli", "categorical")

#: One kind of sequence data: does it come with a (T, B) mask, which outputs model it, the frame
#: width it requires (None: any), and what its frames are (said in error messages).
DataKind = namedtuple("DataKind", ["mask", "outputs", "x_dim", "frames"])
#: What the sequences are, the one table ModelConfig's checks derive from: speech rows of equal
#: length (TBPTT, no mask), pen trajectories, whole speech utterances of varying length (TIMIT),
#: a user's own sequences of D-dimensional frames, and characters (one-hot frames, TBPTT streams).
DATA_KINDS = OrderedDict([
    ("speech", DataKind(False, ("gauss", "gmm"), None, "raw audio frames")),
    ("handwriting", DataKind(True, ("bigauss", "bigmm"), 3, "[pen, dx, dy]")),
    ("utterances", DataKind(True, ("gauss", "gmm"), None, "raw audio frames")),
    ("sequences", DataKind(True, ("gauss", "gmm", "bernoulli"), None, "D-dimensional frames")),
    ("text", DataKind(True, ("categorical",), None, "one-hot characters")),
])
#: Cost normalisation: 'frame_mean' = mean over all (t, b) frames (legacy Blizzard);
#: 'sequence_sum' = masked sum over time, mean over the batch (legacy IAM-OnDB).
COST_NORMS = ("frame_mean", "sequence_sum")
#: Prior over z_t: 'learned' = prior network on h_{t-1} (VRNN); 'standard' = N(0, I) (VRNN-I).
PRIORS = ("learned", "standard")

#: Training objectives: the ELBO (the paper's), the IWAE bound and FIVO (models.bounds).
TRAINING_BOUNDS = ("elbo", "iwae", "fivo")

#: Legacy ``config.txt`` keys that are spelled differently here.
KEY_ALIASES = {"k": "num_k"}
#: Fields that describe a run's bookkeeping (paths, names, loop settings) rather than the model:
#: two configurations that differ only here are the same model (e.g. the same paper preset).
BOOKKEEPING_FIELDS = ("epoch", "monitoring_freq", "force_saving_freq", "seed", "data_path", "save_path",
                      "trial", "pkl_name", "channel_name", "debug", "sample_output", "m_batch_size", "patience")


class ConfigError(UserError):
    """A configuration key or value that is not valid (names the key, and the file and line)."""


@dataclass(frozen=True)
class ModelConfig:
    """Everything a model build and its training run need; frozen (use :meth:`replace`).

    Parameters
    ----------
    family : {'vrnn', 'rnn'}
    data : {'speech', 'handwriting', 'utterances', 'sequences', 'text'}
        See :data:`DATA_KINDS`: handwriting frames are ``[pen, dx, dy]`` (x_dim 3); every kind
        but 'speech' comes with a (T, B) mask.
    output : {'gauss', 'gmm', 'bigauss', 'bigmm', 'bernoulli', 'categorical'}
        Speech and utterances use gauss / gmm, handwriting bigauss / bigmm, sequences gauss /
        gmm / bernoulli, text categorical.
    prior : {'learned', 'standard'}
        'standard' is VRNN-I: z_t ~ N(0, I), no prior network, KL = KLGaussianStdGaussian.
    x_dim, z_dim, rnn_dim : int
        Frame width, latent width, LSTM units (the state [h, c] is 2 * rnn_dim wide).
    x2s_dim, z2s_dim, q_z_dim, p_z_dim, p_x_dim : int
        Widths of the x-feature, z-feature, encoder (phi), prior and decoder (theta) stacks.
    depth : int
        Layers per stack (4 for speech, 1 for handwriting).
    num_k : int
        Mixture components (GMM / BiGMM); legacy key ``k``.
    cost_norm : {'frame_mean', 'sequence_sum'}
    reset_freq : int
        Truncated BPTT: the training graph starts from zeros every ``reset_freq`` calls and
        from the previous batch's last state otherwise; 0 = always from zeros.
    batch_size, m_batch_size : int
        Training and monitoring batch sizes (the TBPTT state has batch_size rows).
    lr : float
        Adam learning rate.
    epoch, monitoring_freq, force_saving_freq : int
        Training-loop settings (read by the training command, not by the model).
    seed : int
        Seed of parameter initialisation and of the training noise.
    sample_output : {'sample', 'mean'}
        What generation emits per frame: a draw of the output distribution, or the mean of the
        drawn mixture component (no output noise).
    data_path, save_path, trial, pkl_name, channel_name : str
        Legacy run bookkeeping (paths and names), kept so a legacy config.txt loads unchanged.
    debug : int
    kl_anneal_updates : int >= 0
        KL annealing (Bowman et al. 2016): the training cost is ``recon + beta * KL`` with beta
        warmed up linearly from 0 to 1 over this many updates; 0 (default): off.
    free_bits : float >= 0
        Free bits (Kingma et al. 2016): in the training cost each latent dimension's KL, per time
        step and averaged over the batch's frames, counts at least this many nats; 0: off.
    patience : int >= 0
        Early stopping: the run stops after this many monitoring steps without a better
        ``valid_nll_upper_bound``; 0 (default): never.

    bound : {'elbo', 'iwae', 'fivo'}
        The training objective: the ELBO (default: the legacy cost), the importance-weighted bound
        (Burda et al. 2016) or FIVO, a particle filter's estimate (Maddison et al. 2017), both of
        K = ``particles`` samples (:mod:`~nips2015_vrnn.models.bounds`); the cost is ``-bound``
        normalised as ``cost_norm`` says. With TBPTT the K particles' states are carried.
    particles : int >= 1
        K, the samples of the IWAE and FIVO objectives (unused by the ELBO).
    resample : {'ess', 'always'}
        When FIVO resamples: effective sample size below K/2 (default), or every frame.

    The monitored and evaluated bound is always the true one (beta 1, no floor).
    """

    family: str = "vrnn"
    data: str = "speech"
    output: str = "gmm"
    prior: str = "learned"
    x_dim: int = 200
    z_dim: int = 200
    rnn_dim: int = 4000
    x2s_dim: int = 500
    z2s_dim: int = 500
    q_z_dim: int = 500
    p_z_dim: int = 500
    p_x_dim: int = 500
    depth: int = 4
    num_k: int = 20
    cost_norm: str = "frame_mean"
    reset_freq: int = 4
    batch_size: int = 128
    m_batch_size: int = 128
    lr: float = 3e-4
    epoch: int = 4
    monitoring_freq: int = 2000
    force_saving_freq: int = 10000
    seed: int = 1234
    sample_output: str = "sample"
    data_path: str = ""
    save_path: str = ""
    trial: str = "1"
    pkl_name: str = ""
    channel_name: str = "valid_nll_upper_bound"
    debug: int = 0
    kl_anneal_updates: int = 0
    free_bits: float = 0.0
    patience: int = 0
    bound: str = "elbo"
    particles: int = 4
    resample: str = "ess"

    def __post_init__(self):
        choices = {"family": FAMILIES, "data": DATA_KINDS, "output": OUTPUTS, "cost_norm": COST_NORMS,
                   "prior": PRIORS, "sample_output": ("sample", "mean"), "bound": TRAINING_BOUNDS,
                   "resample": ("ess", "always")}
        for key, allowed in choices.items():
            value = getattr(self, key)
            if value not in allowed:
                raise ConfigError(f"ModelConfig.{key} must be one of {', '.join(allowed)}; got {value!r}")
        positive = ("x_dim", "z_dim", "rnn_dim", "x2s_dim", "z2s_dim", "q_z_dim", "p_z_dim", "p_x_dim",
                    "depth", "num_k", "batch_size", "m_batch_size", "particles")
        for key in positive:
            value = getattr(self, key)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ConfigError(f"ModelConfig.{key} must be a positive int; got {value!r}")
        if self.reset_freq < 0:
            raise ConfigError(f"ModelConfig.reset_freq must be >= 0 (0 = never carry); got {self.reset_freq}")
        if not (isinstance(self.lr, (int, float)) and 0 < self.lr < float("inf")):
            raise ConfigError(f"ModelConfig.lr must be a finite number > 0; got {self.lr!r}")
        kind = DATA_KINDS[self.data]
        if self.output not in kind.outputs:
            allowed = " or ".join(repr(o) for o in kind.outputs)
            raise ConfigError(f"{self.data} models need output {allowed}; got {self.output!r}")
        if kind.x_dim is not None and self.x_dim != kind.x_dim:
            raise ConfigError(f"{self.data} frames are {kind.frames}: x_dim must be {kind.x_dim}; "
                              f"got {self.x_dim}")
        for key in ("kl_anneal_updates", "patience"):
            value = getattr(self, key)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ConfigError(f"ModelConfig.{key} must be an int >= 0 (0: off); got {value!r}")
        if not (isinstance(self.free_bits, (int, float)) and 0 <= self.free_bits < float("inf")):
            raise ConfigError(f"ModelConfig.free_bits must be a number of nats >= 0 (0: off); got "
                              f"{self.free_bits!r}")
        if self.family == "rnn" and (self.kl_anneal_updates or self.free_bits):
            raise ConfigError("the RNN family has no latent z and no KL term: kl_anneal_updates and "
                              f"free_bits must stay 0; got {self.kl_anneal_updates}, {self.free_bits}")
        if self.bound != "elbo" and (self.family == "rnn" or self.kl_anneal_updates or self.free_bits):
            raise ConfigError(f"bound {self.bound!r} needs a VRNN trained without kl_anneal_updates and "
                              f"free_bits (they change the ELBO's KL term); got family {self.family!r}, "
                              f"{self.kl_anneal_updates}, {self.free_bits}")
        if self.family == "rnn" and self.prior != "learned":
            raise ConfigError(f"the RNN family has no latent z, so prior must stay 'learned'; got {self.prior!r}")

    # ------------------------------------------------------------------ helpers
    def replace(self, **changes):
        """A copy with ``changes`` applied (legacy aliases such as ``k`` accepted)."""
        changes = {KEY_ALIASES.get(k, k): v for k, v in changes.items()}
        unknown = sorted(set(changes) - set(field_names()))
        if unknown:
            raise ConfigError(f"unknown ModelConfig keys {unknown}; expected some of {', '.join(field_names())}")
        return dataclasses.replace(self, **changes)

    def as_dict(self):
        """The fields as a plain dict (JSON-serialisable)."""
        return dataclasses.asdict(self)

    @property
    def has_mask(self):
        """True when inputs come with a (T, B) mask (every data kind but 'speech')."""
        return DATA_KINDS[self.data].mask

    @property
    def state_dim(self):
        """Width of the LSTM state s = [h, c]."""
        return 2 * self.rnn_dim

    @property
    def model_name(self):
        """The paper's name of the model: VRNN-GMM, VRNN-I-Gauss, RNN-Gauss, ..."""
        out = {"gauss": "Gauss", "gmm": "GMM", "bigauss": "Gauss", "bigmm": "GMM",
               "bernoulli": "Bernoulli", "categorical": "Categorical"}[self.output]
        if self.family == "rnn":
            return f"RNN-{out}"
        return f"VRNN-I-{out}" if self.prior == "standard" else f"VRNN-{out}"


def field_names():
    """Names of the :class:`ModelConfig` fields, in declaration order."""
    return [f.name for f in fields(ModelConfig)]


def _field_types():
    return {f.name: f.type for f in fields(ModelConfig)}


def _convert(key, text, where):
    kind = _field_types()[key]
    kind = kind if isinstance(kind, str) else kind.__name__
    try:
        if kind == "int":
            return int(float(text)) if float(text).is_integer() else int(text)
        if kind == "float":
            return float(text)
    except ValueError as err:
        raise ConfigError(f"{where}: value {text!r} of {key!r} is not a valid {kind}") from err
    return text


def parse_config_lines(lines, source="<config>"):
    """Parse legacy ``key value`` lines into a dict of typed :class:`ModelConfig` overrides.

    Blank lines and lines starting with ``#`` are skipped. Legacy aliases (``k``) are renamed.

    Parameters
    ----------
    lines : iterable of str
    source : str
        Name of the file, for error messages.

    Raises
    ------
    ConfigError
        For an unknown key or a malformed line, naming the key, the file and the line number.
    """
    known = set(field_names())
    out = {}
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        where = f"{source}, line {number}"
        parts = line.split(None, 1)
        if len(parts) != 2:
            raise ConfigError(f"{where}: expected 'key value', got {raw.rstrip()!r}")
        key, text = parts[0], parts[1].strip()
        key = KEY_ALIASES.get(key, key)
        if key not in known:
            raise ConfigError(f"{where}: unknown config key {parts[0]!r}; known keys: "
                              f"{', '.join(sorted(known | set(KEY_ALIASES)))}")
        out[key] = _convert(key, text, where)
    return out


def load_config_txt(path, base):
    """``base`` (a :class:`ModelConfig`, e.g. a preset) overridden by the legacy config file ``path``."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise ConfigError(f"{path}: not UTF-8 text (byte {err.start}); expected a legacy config.txt "
                          "of 'key value' lines") from None
    overrides = parse_config_lines(text.splitlines(), source=str(path))
    log.info("config %s overrides %s", path, sorted(overrides))
    return base.replace(**overrides)
