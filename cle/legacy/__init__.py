"""The legacy code's saved models, read without Theano and without running anything they name.

- :mod:`cle.legacy.unpickle`: the restricted pickle reader (legacy classes become inert records;
  only array and container constructors are allowed; anything else is refused);
- :mod:`cle.legacy.mainloop`: a legacy main-loop pickle as plain data (:func:`read_mainloop`).

Typical use::

    from cle.legacy import read_mainloop
    loop = read_mainloop('vrnn_gmm_1_best.pkl')
    loop.params['U_rnn__rnn'].shape, loop.state['rnn_tm1'].shape, loop.monitor['valid_nll_upper_bound']
"""
from cle.legacy.mainloop import LegacyMainLoop, read_mainloop
from cle.legacy.unpickle import LegacyPickleError, LegacyRecord, RestrictedUnpickler, restricted_loads

__all__ = ["LegacyMainLoop", "LegacyPickleError", "LegacyRecord", "RestrictedUnpickler", "read_mainloop",
           "restricted_loads"]
