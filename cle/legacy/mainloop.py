"""A legacy main-loop pickle as plain data: parameters, TBPTT state, training log, layers.

The legacy ``Picklize`` / ``EarlyStopping`` extensions pickled the whole ``cle.cle.train.Training``
object. Read with :mod:`cle.legacy.unpickle`, it is a tree of inert records:

- ``Training``: ``name``, ``model``, ``cost`` (the symbolic graph, not read here), ``trainlog``;
- ``model`` (``cle.cle.models.Model``): ``params``, an OrderedDict legacy name -> shared variable
  (older releases: a list of shared variables, each with its ``name``); ``updates``, an
  OrderedDict shared variable -> expression whose keys outside ``params`` are the model's own
  state (the Blizzard TBPTT ``step_count`` and ``rnn_tm1``); ``nodes``, the layers;
- a shared variable keeps its value in ``container.storage[0]``: an array, or for GPU-trained
  models a record of the GPU array's reconstructor (``CudaNdarray_unpickler``,
  ``GpuArray_unpickler``) whose arguments hold the array;
- ``trainlog`` (``TrainLog``): ``batch_seen``, ``epoch_seen`` and ``monitor``, a dict of lists:
  ``update`` (the training function's outputs, one row per update), ``time`` (seconds per
  update) and one list per monitoring channel (``train_nll_upper_bound``,
  ``valid_kl_term`` ...), one value per monitoring step.

A pickle of the model alone (a ``Model`` record at the top) reads the same, without a log.
"""
import gzip
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cle.legacy.unpickle import LegacyPickleError, LegacyRecord, plain_array, restricted_loads

__all__ = ["LegacyMainLoop", "read_mainloop", "mainloop_from_object"]

#: Keys of the legacy TrainLog's ``monitor`` dict that are per-update histories, not channels.
PER_UPDATE_KEYS = ("update", "time")
#: Attributes of a legacy container or shared variable that may hold the value, in the order tried.
VALUE_KEYS = ("storage", "data", "value")
#: How deep a GPU array's reconstructor records are searched for the array they hold.
MAX_WRAPPING = 4
_GZIP_MAGIC = b"\x1f\x8b"


@dataclass
class LegacyMainLoop:
    """What a legacy main-loop pickle holds, as plain Python and numpy values.

    Attributes
    ----------
    source : str
        The file read.
    name : str or None
        The main loop's name (the legacy ``pkl_name`` stem), None for a model alone.
    params : OrderedDict legacy name -> ndarray
        In the legacy order (e.g. ``W_x_4__rnn`` (x2s_dim, 4 * rnn_dim)).
    state : OrderedDict name -> ndarray
        The model's shared state outside ``params`` (Blizzard: ``step_count`` (), ``rnn_tm1``
        (batch_size, 2 * rnn_dim)).
    batch_seen, epoch_seen : int or None
        Updates and completed epochs of the legacy run (None without a training log).
    monitor : OrderedDict channel -> list of float
        One value per monitoring step, every channel the same length.
    batches : list of list of float
        The training function's outputs per update.
    times : list of float
        Seconds per update.
    layers : OrderedDict name -> dict
        Each legacy layer's ``class`` (path), ``unit``, ``nout``, ``cons`` and ``parent``
        (OrderedDict parent name -> width), as far as the pickle records them.
    classes : tuple of str
        Every global the pickle named, sorted.
    """

    source: str
    name: object = None
    params: OrderedDict = field(default_factory=OrderedDict)
    state: OrderedDict = field(default_factory=OrderedDict)
    batch_seen: object = None
    epoch_seen: object = None
    monitor: OrderedDict = field(default_factory=OrderedDict)
    batches: list = field(default_factory=list)
    times: list = field(default_factory=list)
    layers: OrderedDict = field(default_factory=OrderedDict)
    classes: tuple = ()

    def n_param_values(self):
        """Number of scalar parameters."""
        return int(sum(v.size for v in self.params.values()))

    def n_monitoring_steps(self):
        """Number of monitoring steps in the log (0 without one)."""
        return len(next(iter(self.monitor.values()))) if self.monitor else 0


def read_mainloop(path):
    """Read a legacy main-loop (or ``_best``) pickle without running anything it names.

    Parameters
    ----------
    path : str or Path
        The pickle as the legacy code wrote it (protocol 0 to 5; Python 2 or 3), or the same
        file gzip-compressed.

    Returns
    -------
    LegacyMainLoop

    Raises
    ------
    LegacyPickleError
        A global the reader refuses (one line naming the file and the global; nothing was
        run), a damaged file, or one that holds no legacy model.

    Example
    -------
    >>> import pickle, tempfile, os
    >>> path = os.path.join(tempfile.mkdtemp(), 'x.pkl')
    >>> _ = open(path, 'wb').write(pickle.dumps({'not': 'a main loop'}))
    >>> read_mainloop(path)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    cle.legacy.unpickle.LegacyPickleError: ...x.pkl: holds a dict, not a legacy main loop or model (...)
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as err:
        raise LegacyPickleError(f"{path}: cannot be read ({err.strerror or err}); expected a legacy main-loop "
                                "pickle") from None
    if data[:2] == _GZIP_MAGIC:
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError) as err:
            raise LegacyPickleError(f"{path}: a damaged gzip file ({err})") from None
    unpickler_globals = []
    obj = restricted_loads(data, str(path), seen=unpickler_globals)
    loop = mainloop_from_object(obj, str(path))
    loop.classes = tuple(sorted(unpickler_globals))
    return loop


def mainloop_from_object(obj, source):
    """:class:`LegacyMainLoop` from the records of a legacy main loop (or model) ``obj``."""
    if _is(obj, "Training"):
        model, trainlog, name = obj.get("model"), obj.get("trainlog"), obj.get("name")
    elif _is(obj, "Model"):
        model, trainlog, name = obj, None, None
    else:
        what = obj.legacy_path() if isinstance(obj, LegacyRecord) else f"a {type(obj).__name__}"
        raise LegacyPickleError(f"{source}: holds {what}, not a legacy main loop or model "
                                "(cle.cle.train.Training or cle.cle.models.Model)")
    if not isinstance(model, LegacyRecord):
        raise LegacyPickleError(f"{source}: the main loop holds no model record (found {type(model).__name__})")
    loop = LegacyMainLoop(source=source, name=name if isinstance(name, str) else None)
    loop.params = _params(model, source)
    loop.state = _state(model, loop.params, source)
    loop.layers = _layers(model)
    if isinstance(trainlog, LegacyRecord):
        _read_trainlog(trainlog, loop, source)
    return loop


def _is(obj, class_name):
    return isinstance(obj, LegacyRecord) and obj.legacy_name == class_name


def _params(model, source):
    params = model.get("params")
    if isinstance(params, dict):
        pairs = list(params.items())
    elif isinstance(params, (list, tuple)):
        pairs = [(var.get("name") if isinstance(var, LegacyRecord) else None, var) for var in params]
    else:
        raise LegacyPickleError(f"{source}: the model's params are {type(params).__name__}; expected an "
                                "OrderedDict of shared variables")
    out = OrderedDict()
    for name, var in pairs:
        if not isinstance(name, str) or not name:
            raise LegacyPickleError(f"{source}: a parameter has no name ({var!r})")
        out[name] = shared_value(var, f"{source}: parameter {name}")
    if not out:
        raise LegacyPickleError(f"{source}: the model has no parameters")
    return out


def _state(model, params, source):
    """The values of the model's updated shared variables that are not parameters."""
    updates = model.get("updates") or {}
    keys = [k for k, _ in updates] if isinstance(updates, (list, tuple)) else list(updates)
    state = OrderedDict()
    for var in keys:
        if not isinstance(var, LegacyRecord):
            continue
        name = var.get("name")
        if isinstance(name, str) and name not in params:
            state[name] = shared_value(var, f"{source}: state variable {name}")
    return state


def shared_value(var, where):
    """The array a legacy shared variable holds (``container.storage[0]``, GPU arrays unwrapped)."""
    if not isinstance(var, LegacyRecord):
        raise LegacyPickleError(f"{where} is a {type(var).__name__}; expected a Theano shared variable")
    holders = [var.get("container"), var]
    for holder in holders:
        if not isinstance(holder, LegacyRecord):
            continue
        for key in VALUE_KEYS:
            value = holder.get(key)
            if isinstance(value, list) and len(value) == 1:
                value = value[0]
            array = _unwrap(value)
            if array is not None:
                return array
    raise LegacyPickleError(f"{where} ({var.legacy_path()}) holds no array in its container")


def _unwrap(value, depth=0):
    """An array, or the array a GPU array's reconstructor record holds (None if neither)."""
    array = plain_array(value)
    if array is not None or not isinstance(value, LegacyRecord) or depth >= MAX_WRAPPING:
        return array
    for candidate in list(value.args) + list(value.attributes().values()):
        array = _unwrap(candidate, depth + 1)
        if array is not None:
            return array
    return None


def _layers(model):
    out = OrderedDict()
    for node in model.get("nodes") or ():
        if not isinstance(node, LegacyRecord) or not isinstance(node.get("name"), str):
            continue
        parent = node.get("parent")
        out[node.get("name")] = {
            "class": node.legacy_path(), "unit": node.get("unit"), "nout": node.get("nout"),
            "cons": node.get("cons"),
            "parent": OrderedDict(parent) if isinstance(parent, dict) else OrderedDict(),
        }
    return out


def _number(value):
    array = plain_array(value)
    if array is not None:
        value = array
    try:
        return float(np.asarray(value, dtype=np.float64).reshape(()))
    except (TypeError, ValueError):
        return None


def _read_trainlog(trainlog, loop, source):
    attrs = trainlog.attributes()
    for key in ("batch_seen", "epoch_seen"):
        value = attrs.get(key, attrs.get(f"_{key}"))
        if value is not None:
            setattr(loop, key, int(value))
    monitor = attrs.get("monitor") or {}
    if not isinstance(monitor, dict):
        raise LegacyPickleError(f"{source}: the training log's monitor is {type(monitor).__name__}; expected a dict")
    for row in monitor.get("update", attrs.get("_batches")) or ():
        row = row if isinstance(row, (list, tuple)) else [row]
        loop.batches.append([_number(v) for v in row])
    loop.times = [_number(t) for t in monitor.get("time", attrs.get("_times")) or ()]
    channels = OrderedDict()
    for key, values in monitor.items():
        if key in PER_UPDATE_KEYS or not isinstance(values, list):
            continue
        numbers = [_number(v) for v in values]
        if numbers and all(n is not None for n in numbers):
            channels[key] = numbers
    lengths = {len(v) for v in channels.values()}
    if len(lengths) > 1:
        raise LegacyPickleError(f"{source}: the training log's channels have different lengths "
                                f"{sorted(lengths)}; expected one value per monitoring step")
    loop.monitor = channels
