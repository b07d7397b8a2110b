"""Published log-likelihoods per time step on the four piano-roll corpora of Boulanger-Lewandowski
et al. (2012), for ``vrnn-table`` to show beside a run's own per-step numbers.

One table (:data:`PUBLISHED_MUSIC`), one row per (model, corpus): the average log-likelihood of a
test time step in nats (the corpora's own test splits; every time step of every test sequence
weighs the same, as the corpora's page asks), with the paper it comes from and the table it was
read in. Only numbers read in a source that can be cited are here: FIVO's VRNN (Maddison et al.
2017, its table of per-time-step bounds on these corpora) is not, its table could not be read in
this port. The tables quoted give negative log-likelihoods; they are stored negated.

Example
-------
>>> MUSIC_CORPORA['jsb']
'JSB Chorales'
>>> [(row.model, row.loglik) for row in published('nottingham')]
[('RNN-NADE', -2.31), ('STORN', -2.85)]
"""
from collections import OrderedDict, namedtuple

__all__ = ["MUSIC_CORPORA", "PublishedRow", "PUBLISHED_MUSIC", "published", "SOURCES"]

#: The corpora (``vrnn-table --pianoroll-corpus`` names) -> their titles.
MUSIC_CORPORA = OrderedDict([("jsb", "JSB Chorales"), ("nottingham", "Nottingham"), ("musedata", "MuseData"),
                             ("piano-midi", "Piano-midi.de")])

#: One published number: ``loglik`` nats per time step (a log-likelihood: higher is better; an
#: exact one for RNN-NADE) of ``model`` on ``corpus``, from ``source`` (a key of :data:`SOURCES`).
PublishedRow = namedtuple("PublishedRow", ["model", "corpus", "loglik", "source"])

#: Where each number comes from and the table it was read in.
SOURCES = {
    "rnn-nade": "Boulanger-Lewandowski, Bengio & Vincent (2012), ICML, Table 1; as quoted in Krishnan, Shalit & "
                "Sontag (2017), AAAI, 'Structured Inference Networks for Nonlinear State Space Models', Table 4",
    "storn": "Bayer & Osendorfer (2014), 'Learning Stochastic Recurrent Networks', arXiv:1411.7610; as quoted in "
             "Krishnan, Shalit & Sontag (2017), AAAI, Table 3",
}

#: The published rows (see the module doc).
PUBLISHED_MUSIC = (
    PublishedRow("RNN-NADE", "jsb", -5.19, "rnn-nade"),
    PublishedRow("RNN-NADE", "nottingham", -2.31, "rnn-nade"),
    PublishedRow("RNN-NADE", "musedata", -5.60, "rnn-nade"),
    PublishedRow("RNN-NADE", "piano-midi", -7.05, "rnn-nade"),
    PublishedRow("STORN", "jsb", -6.91, "storn"),
    PublishedRow("STORN", "nottingham", -2.85, "storn"),
    PublishedRow("STORN", "musedata", -6.16, "storn"),
    PublishedRow("STORN", "piano-midi", -7.13, "storn"),
)


def published(corpus):
    """The :data:`PUBLISHED_MUSIC` rows of ``corpus`` (a key of :data:`MUSIC_CORPORA`)."""
    if corpus not in MUSIC_CORPORA:
        raise ValueError(f"corpus must be one of {', '.join(MUSIC_CORPORA)}; got {corpus!r}")
    return [row for row in PUBLISHED_MUSIC if row.corpus == corpus]
