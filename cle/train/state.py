"""A training's checkpoint state: what is saved (arrays and JSON documents) and how a saved
state is checked against a training before anything in it changes.

:class:`cle.train.Training` saves ``state_arrays`` + ``state_documents`` through
:mod:`cle.train.checkpoint` and restores them with :func:`restore_plan`.
"""
import logging
from collections import OrderedDict

import numpy as np

from cle.train.checkpoint import CheckpointError
from cle.train.log import TrainLog

log = logging.getLogger(__name__)

__all__ = ["state_arrays", "state_documents", "restore_plan", "check_saved_documents", "BIT_GENERATORS", "NOTE"]

#: A checkpoint document (``note.json``) that a program writing a checkpoint of its own (an importer
#: of a legacy model) may add: its ``on_restore`` text is logged, one warning line, when the
#: checkpoint is restored. The checkpoints a training writes have none, so it is said once.
NOTE = "note"

#: The bit generators an ``rng.json`` may name (numpy's own; nothing else is looked up).
BIT_GENERATORS = {cls.__name__: cls for cls in (np.random.PCG64, np.random.PCG64DXSM,
                                                np.random.MT19937, np.random.Philox,
                                                np.random.SFC64)}


def _is_generator(var):
    return isinstance(var.get_value(), np.random.Generator)


def state_arrays(training):
    """The numeric state by file: params, optimizer, model_state, trainlog."""
    model_state = OrderedDict((k, v.get_value()) for k, v in training.model.state.items() if not _is_generator(v))
    return {
        "params": OrderedDict((k, v.get_value()) for k, v in training.model.param_dict.items()),
        "optimizer": OrderedDict((k, v.get_value()) for k, v in training.optimizer.state.items()),
        "model_state": model_state,
        "trainlog": training.trainlog.to_arrays(),
    }


def state_documents(training, iterator_state):
    """The JSON state by file: rng, trainlog, loop (iterator position, extensions), config."""
    rng = {k: v.get_value().bit_generator.state for k, v in training.model.state.items() if _is_generator(v)}
    loop = {
        "name": training.name,
        "output_names": training.output_names,
        "iterator": iterator_state,
        "extensions": [{"class": type(e).__name__, "state": e.state_dict()} for e in training.extension],
    }
    return {"rng": rng, "trainlog": training.trainlog.to_json(), "loop": loop, "config": training.config}


def restore_plan(training, directory, arrays, documents):
    """Check a saved state (as :func:`cle.train.checkpoint.read_checkpoint` returns it) against
    ``training``; returns ``(apply, trainlog)``: ``apply()`` sets the parameters, optimizer slots,
    model state and generators. The iterator and extension states are restored while checking
    (each is refused, with a CheckpointError naming the file, before anything else changes).
    """
    for stem in ("params", "optimizer", "model_state", "trainlog"):
        if stem not in arrays:
            raise CheckpointError(f"checkpoint {directory}: {stem}.npz is missing")
    for stem in ("rng", "trainlog", "loop"):
        if stem not in documents:
            raise CheckpointError(f"checkpoint {directory}: {stem}.json is missing")
    numeric_state = OrderedDict((k, v) for k, v in training.model.state.items()
                                if not isinstance(v.get_value(), np.random.Generator))
    generators = OrderedDict((k, v) for k, v in training.model.state.items()
                             if isinstance(v.get_value(), np.random.Generator))
    plan = []
    plan += _match(directory, "params.npz", training.model.param_dict, arrays["params"])
    plan += _match(directory, "optimizer.npz", training.optimizer.state, arrays["optimizer"])
    plan += _match(directory, "model_state.npz", numeric_state, arrays["model_state"])
    generators_state = _bit_generators(directory, documents["rng"], generators)
    loop = documents["loop"]
    saved_exts = _saved_extensions(directory, loop)
    classes = [type(e).__name__ for e in training.extension]
    if [e["class"] for e in saved_exts] != classes:
        raise CheckpointError(f"checkpoint {directory}: saved extensions "
                              f"{[e['class'] for e in saved_exts]} differ from this "
                              f"training's {classes}")
    try:
        trainlog = TrainLog.from_saved(arrays["trainlog"], documents["trainlog"])
    except (KeyError, ValueError, TypeError, AttributeError) as err:
        raise CheckpointError(f"checkpoint {directory}: trainlog is inconsistent ({err})") from None
    if (loop["iterator"] is None) != (not hasattr(training.data, "load_state_dict")):
        raise CheckpointError(f"checkpoint {directory}: iterator position saved="
                              f"{loop['iterator'] is not None} but this data iterator "
                              f"{'can' if hasattr(training.data, 'load_state_dict') else 'cannot'} "
                              f"restore one")
    if loop["iterator"] is not None:
        try:
            training.data.load_state_dict(loop["iterator"])
        except (KeyError, ValueError, TypeError, IndexError) as err:
            raise CheckpointError(f"checkpoint {directory}: iterator position in loop.json "
                                  f"does not fit this data ({err!r})") from None
    _load_extension_states(directory, training.extension, saved_exts)

    note = documents.get(NOTE)
    if isinstance(note, dict) and isinstance(note.get("on_restore"), str):
        log.warning("%s: %s", directory, " ".join(note["on_restore"].split()))

    def apply():
        for var, value in plan:
            var.set_value(value)
        for name, var in generators.items():
            var.set_value(np.random.Generator(generators_state[name]))

    return apply, trainlog


def check_saved_documents(directory, documents):
    """Check the JSON documents of a checkpoint without a model: ``rng.json`` names known bit
    generators with valid states, ``loop.json`` has the expected shape. CheckpointError otherwise.

    Lets a command refuse a hand-edited checkpoint before compiling anything;
    :meth:`Training.load_checkpoint` checks everything again against the model.
    """
    for stem in ("rng", "trainlog", "loop"):
        if stem not in documents:
            raise CheckpointError(f"checkpoint {directory}: {stem}.json is missing")
    rng = documents["rng"]
    _bit_generators(directory, rng, rng if isinstance(rng, dict) else {})
    _saved_extensions(directory, documents["loop"])


def _bit_generators(directory, rng_states, generators):
    """name -> numpy bit generator in the state of ``rng.json`` (only :data:`BIT_GENERATORS`)."""
    if not isinstance(rng_states, dict) or set(rng_states) != set(generators):
        found = sorted(rng_states) if isinstance(rng_states, dict) else type(rng_states).__name__
        raise CheckpointError(f"checkpoint {directory}: rng.json has generators "
                              f"{found}, the model has {sorted(generators)}")
    out = {}
    for name, state in rng_states.items():
        kind = state.get("bit_generator") if isinstance(state, dict) else None
        if not isinstance(kind, str) or kind not in BIT_GENERATORS:
            raise CheckpointError(f"checkpoint {directory}: rng.json generator {name!r} names "
                                  f"bit_generator {kind!r}; expected one of "
                                  f"{', '.join(BIT_GENERATORS)}")
        bit_generator = BIT_GENERATORS[kind]()
        try:
            bit_generator.state = state
        except (KeyError, ValueError, TypeError, OverflowError) as err:
            raise CheckpointError(f"checkpoint {directory}: rng.json state of {name!r} is not a "
                                  f"valid {kind} state ({err!r})") from None
        out[name] = bit_generator
    return out


def _saved_extensions(directory, loop):
    """The ``extensions`` list of ``loop.json``, checked to be [{'class': str, 'state': dict}]."""
    exts = loop.get("extensions") if isinstance(loop, dict) else None
    if not isinstance(loop, dict) or "iterator" not in loop or not isinstance(exts, list) or not all(
            isinstance(e, dict) and isinstance(e.get("class"), str)
            and isinstance(e.get("state"), dict) for e in exts):
        raise CheckpointError(f"checkpoint {directory}: loop.json is not of the expected shape; "
                              "expected {'iterator': ..., 'extensions': [{'class': str, "
                              "'state': {...}}, ...]}")
    return exts


def _load_extension_states(directory, extensions, saved_exts):
    """Give each extension its saved state (the checked entries of :func:`_saved_extensions`, in
    order); a state an extension refuses (its ``load_state_dict`` checks before it changes
    anything) is a CheckpointError naming ``loop.json`` in ``directory`` and the extension."""
    for ext, saved in zip(extensions, saved_exts, strict=True):
        try:
            ext.load_state_dict(saved["state"])
        except (KeyError, ValueError, TypeError, AttributeError, IndexError) as err:
            raise CheckpointError(f"checkpoint {directory}: loop.json state of "
                                  f"{saved['class']} does not load ({err!r})") from None


def _match(directory, filename, variables, saved):
    """Pair every shared variable with its saved array, checking names, shapes and dtypes."""
    missing = [k for k in variables if k not in saved]
    unexpected = [k for k in saved if k not in variables]
    if missing or unexpected:
        raise CheckpointError(f"checkpoint {directory}: {filename} does not fit the model: "
                              f"missing {missing}, unexpected {unexpected}")
    plan = []
    for name, var in variables.items():
        current = np.asarray(var.get_value())
        value = _same_integer(saved[name], current.dtype)
        if value.shape != current.shape or value.dtype != current.dtype:
            raise CheckpointError(f"checkpoint {directory}: {filename}[{name}] is {value.dtype} "
                                  f"{value.shape}, the model expects {current.dtype} {current.shape}")
        plan.append((var, value))
    return plan


def _same_integer(value, dtype):
    """An integer array in the integer ``dtype`` when every value fits (e.g. an int64 counter of
    an older checkpoint for an int32 variable); anything else unchanged."""
    if value.dtype == dtype or value.dtype.kind not in "iu" or np.dtype(dtype).kind not in "iu":
        return value
    info = np.iinfo(dtype)
    if value.size and (value.min() < info.min or value.max() > info.max):
        return value
    return value.astype(dtype)
