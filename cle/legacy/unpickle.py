"""A pickle reader that runs nothing the file names: legacy classes become inert records.

The legacy ``Picklize`` and ``EarlyStopping`` extensions saved the whole main loop with
``cPickle.dump(mainloop, f, -1)``. An ordinary ``pickle.load`` of such a file imports Theano and
calls whatever the file names. :class:`RestrictedUnpickler` overrides
:meth:`pickle.Unpickler.find_class`, the one gate through which a pickle obtains anything
callable, and answers every global in one of three ways:

1. **A legacy class** (any path under :data:`LEGACY_PACKAGES`: ``theano.*`` of any release,
   ``cle.*``, ``pygpu.*``, numpy's legacy random-state constructors): an inert subclass of
   :class:`LegacyRecord` made here, named after the path. Nothing is imported; creating,
   building or filling a record only stores what the pickle gives it (its ``args``, its
   ``state``, its ``items`` and ``elements``).
2. **An allowed global** (:data:`ALLOWED`): a container or array reconstructor. Every one is a
   function of this module that checks its arguments and builds the value itself, or a builtin
   container type that only holds values (see the table in :data:`ALLOWED`'s comment).
3. **Anything else** (``os.system``, ``builtins.eval``, ``subprocess.Popen`` ...): refused before
   it is called, with a :class:`LegacyPickleError` naming the file and the global.

Protocols 0 to 5 load; Python 2 pickles are read with ``encoding='latin1'`` (their byte strings
become ``str`` with one character per byte, as numpy's own loader expects).

Example
-------
>>> payload = b"cos\\nsystem\\n(S'true'\\ntR."
>>> restricted_loads(payload, "payload.pkl")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
cle.legacy.unpickle.LegacyPickleError: payload.pkl: refused the global os.system (...); nothing in the file was run
"""
import collections
import io
import pickle
import re
import types

import numpy as np

from cle.errors import UserError

__all__ = ["LegacyPickleError", "LegacyRecord", "LegacyAttribute", "RestrictedUnpickler", "restricted_loads",
           "ALLOWED", "LEGACY_PACKAGES", "DtypeToken", "plain_array"]

#: Top-level packages whose classes become inert records (never imported).
LEGACY_PACKAGES = ("theano", "cle", "pygpu")
#: numpy's random-state constructors (a legacy ``RandomStreams`` state): inert records too.
LEGACY_NUMPY_GLOBALS = {("numpy.random", "__RandomState_ctor"), ("numpy.random._pickle", "__randomstate_ctor"),
                        ("numpy.random._pickle", "__generator_ctor"), ("numpy.random._pickle", "__bit_generator_ctor"),
                        ("numpy.random.mtrand", "RandomState")}
#: dtype kinds an array of a legacy pickle may have: numbers, booleans and plain strings
#: (no Python objects, no structured records).
PLAIN_KINDS = "biufcSU"
_DTYPE_SPEC = re.compile(r"[<>|=]?[biufcSU]\d*")
_BUILTINS = ("builtins", "__builtin__")


class LegacyPickleError(UserError):
    """A legacy pickle that cannot be read safely or is not what the reader expects."""


class LegacyRecord:
    """An inert record of one object of a class a legacy pickle names.

    Subclasses are made per class path by :class:`RestrictedUnpickler` (``legacy_module``,
    ``legacy_name``); the pickle's operations on an instance only store their arguments.

    Attributes
    ----------
    args : tuple
        The arguments of the reduce or ``__new__`` call that created the object.
    state : object
        What ``__setstate__`` received (usually the object's ``__dict__``), or None.
    items : list of (key, value)
        Items set as in a dict (``__setitem__``), in order.
    elements : list
        Items appended as in a list, in order.
    """

    legacy_module = "?"
    legacy_name = "?"

    def __new__(cls, *args, **kwargs):
        record = object.__new__(cls)
        record.args, record.kwargs, record.state = args, kwargs, None
        record.items, record.elements = [], []
        return record

    def __init__(self, *args, **kwargs):
        pass  # __new__ stored the arguments

    def __setstate__(self, state):
        self.state = state

    def __setitem__(self, key, value):
        self.items.append((key, value))

    def append(self, value):
        self.elements.append(value)

    def extend(self, values):
        self.elements.extend(values)

    def __repr__(self):
        return f"<legacy {self.legacy_path()}>"

    @classmethod
    def legacy_path(cls):
        """``module.name`` of the legacy class."""
        return f"{cls.legacy_module}.{cls.legacy_name}"

    def attributes(self):
        """The object's attributes: its dict state (and slot state) merged; {} when it has none."""
        state = self.state
        out = {}
        if isinstance(state, tuple) and len(state) == 2 and all(s is None or isinstance(s, dict) for s in state):
            for part in state:
                out.update(part or {})
        elif isinstance(state, dict):
            out.update(state)
        return out

    def get(self, name, default=None):
        """One attribute (see :meth:`attributes`)."""
        return self.attributes().get(name, default)


class LegacyAttribute(LegacyRecord):
    """``getattr(record, name)`` as a pickle asked for it (e.g. a bound method): the owner and the
    name; calling it gives an inert :class:`LegacyCall`."""

    legacy_module, legacy_name = "getattr", "attribute"

    def __call__(self, *args, **kwargs):
        return LegacyCall(self, *args, **kwargs)

    def __repr__(self):
        owner, name = self.args
        return f"<legacy {owner!r}.{name}>"


class LegacyCall(LegacyRecord):
    """A call of a :class:`LegacyAttribute` the pickle made: ``args[0]`` is the attribute."""

    legacy_module, legacy_name = "getattr", "call"


def _refuse(what):
    raise LegacyPickleError(what)


# ---------------------------------------------------------------- allowed globals
class _ArrayType:
    """What the global ``numpy.ndarray`` stands for: accepted only as ``_reconstruct``'s subtype."""

    __slots__ = ()

    def __call__(self, *args, **kwargs):
        _refuse("numpy.ndarray called directly; only numpy's own _reconstruct(ndarray, ...) is read")

    def __repr__(self):
        return "numpy.ndarray"


ARRAY_TYPE = _ArrayType()


class _LoadingArray(np.ndarray):
    """The array ``_reconstruct`` and ``_frombuffer`` return: its ``__setstate__`` (the pickle's
    BUILD) checks the state (shape, a :class:`DtypeToken`, raw bytes of the right count) before
    numpy fills it. :func:`plain_array` turns it into an ordinary ndarray."""

    def __setstate__(self, state):
        if not (isinstance(state, tuple) and len(state) in (4, 5)):
            _refuse(f"array state is {type(state).__name__} of {len(state) if isinstance(state, tuple) else '?'}; "
                    "expected numpy's (version, shape, dtype, is_fortran, data)")
        version, shape, dtype, fortran, data = state if len(state) == 5 else (1,) + tuple(state)
        _check_shape(shape)
        dtype = _checked_dtype(dtype)
        if not isinstance(data, (bytes, bytearray, str)) or not isinstance(version, int) or \
                not isinstance(fortran, (bool, int)):
            _refuse(f"array data is {type(data).__name__}; expected raw bytes")
        if isinstance(data, str):
            data = data.encode("latin1")  # a Python 2 byte string read with encoding='latin1'
        expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        if len(data) != expected:
            _refuse(f"array of shape {tuple(shape)} {dtype} has {len(data)} data bytes; expected {expected}")
        super().__setstate__((version, shape, dtype, bool(fortran), bytes(data)))


class DtypeToken:
    """What ``numpy.dtype(code, align, copy)`` gives a pickle: a plain type code (``'f8'``) and, after
    the pickle's BUILD, its byte order. numpy's own dtype never reaches the pickle, so the pickle
    cannot set a dtype's state (fields, flags) in numpy's C code; :attr:`dtype` is built from the
    checked code."""

    def __init__(self, code):
        self.code, self.byteorder = code, "="

    def __setstate__(self, state):
        # numpy writes (version, byteorder, subarray, names, fields, elsize, alignment, flags[, metadata])
        if not (isinstance(state, tuple) and len(state) >= 2 and isinstance(state[1], str)
                and state[1] in ("<", ">", "|", "=") and all(part is None for part in state[2:5])):
            _refuse(f"dtype {self.code!r} state {state!r}; expected the state of a plain dtype (no subarray, "
                    "no fields)")
        self.byteorder = state[1]

    @property
    def dtype(self):
        """The numpy dtype of the code in its byte order."""
        dtype = np.dtype(self.code)
        return dtype if self.byteorder in ("=", "|") or dtype.byteorder == "|" else dtype.newbyteorder(self.byteorder)

    def __repr__(self):
        return f"dtype({self.code!r})"


def _check_shape(shape):
    if not isinstance(shape, tuple) or not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0
                                               for n in shape):
        _refuse(f"array shape {shape!r}; expected a tuple of non-negative ints")


def _checked_dtype(token):
    """The numpy dtype of a :class:`DtypeToken` (anything else is refused)."""
    if not isinstance(token, DtypeToken):
        _refuse(f"dtype {token!r}; expected a dtype the pickle made with numpy.dtype")
    dtype = token.dtype
    if dtype.hasobject or dtype.kind not in PLAIN_KINDS or dtype.fields:
        _refuse(f"dtype {dtype!r}; expected a plain numeric, boolean or string dtype")
    return dtype


def _reconstruct(subtype, shape, dtype):
    """``numpy.core.multiarray._reconstruct``: an empty array that the pickle's BUILD fills."""
    if subtype is not ARRAY_TYPE:
        _refuse(f"_reconstruct of {subtype!r}; expected numpy.ndarray")
    _check_shape(shape)
    if not isinstance(dtype, (bytes, str)):
        _refuse(f"_reconstruct dtype {dtype!r}; expected a type code")
    return _LoadingArray((0,), dtype=np.uint8)


def _dtype(code, align=False, copy=False):
    """``numpy.dtype(code, align, copy)`` for a plain type code such as 'f8' (see :data:`PLAIN_KINDS`)."""
    if isinstance(code, bytes):
        code = code.decode("latin1")
    if not isinstance(code, str) or not _DTYPE_SPEC.fullmatch(code):
        _refuse(f"dtype {code!r}; expected a plain numeric, boolean or string type code")
    if not isinstance(align, (bool, int)) or not isinstance(copy, (bool, int)):
        _refuse(f"dtype({code!r}, {align!r}, {copy!r}); expected boolean flags")
    return DtypeToken(code)


def _bytes_of(data, what):
    if isinstance(data, str):
        return data.encode("latin1")
    if isinstance(data, pickle.PickleBuffer):
        return bytes(data.raw())
    if isinstance(data, (bytes, bytearray)):
        return bytes(data)
    _refuse(f"{what} data is {type(data).__name__}; expected raw bytes")


def _scalar(dtype, data=None):
    """``numpy.core.multiarray.scalar(dtype, raw bytes)``: one numpy scalar."""
    dtype = _checked_dtype(dtype)
    raw = _bytes_of(data, "scalar")
    if len(raw) != dtype.itemsize:
        _refuse(f"scalar of {dtype} has {len(raw)} bytes; expected {dtype.itemsize}")
    return np.frombuffer(raw, dtype=dtype)[0].copy()


def _frombuffer(buf, dtype, shape, order):
    """``numpy.core.numeric._frombuffer`` (protocol 5 arrays): a writable copy of the buffer."""
    dtype = _checked_dtype(dtype)
    _check_shape(shape)
    if order not in ("C", "F"):
        _refuse(f"array order {order!r}; expected 'C' or 'F'")
    raw = _bytes_of(buf, "array")
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) != expected:
        _refuse(f"array of shape {shape} {dtype} has {len(raw)} data bytes; expected {expected}")
    return np.frombuffer(raw, dtype=dtype).reshape(shape, order=order).copy(order="K").view(_LoadingArray)


def _codecs_encode(text, encoding="utf-8", errors="strict"):
    """``_codecs.encode(str, 'latin1')``: how Python 3 writes bytes in protocols 0-2."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1") or errors != "strict":
        _refuse(f"_codecs.encode({type(text).__name__}, {encoding!r}); expected a str and 'latin1'")
    return text.encode("latin1")


def _getattr(owner, name, *default):
    """``getattr`` of a record only (e.g. ``TensorType.filter``): an inert :class:`LegacyAttribute`."""
    if not isinstance(owner, LegacyRecord) or not isinstance(name, str):
        _refuse(f"getattr on {type(owner).__name__} {name!r}; only attributes of legacy records are read")
    return LegacyAttribute(owner, name)


def _reconstructor(cls, base, state):
    """``copy_reg._reconstructor(cls, base, state)`` (protocols 0, 1) for a legacy class on ``object``."""
    if not (isinstance(cls, type) and issubclass(cls, LegacyRecord)) or base is not object:
        _refuse(f"_reconstructor({cls!r}, {base!r}); expected a legacy class and object")
    record = cls()
    record.args = (state,) if state is not None else ()
    return record


def _defaultdict(default_factory=None, *args):
    """``collections.defaultdict`` whose factory is a builtin container type or None."""
    if default_factory not in _FACTORIES or args:
        _refuse(f"defaultdict({default_factory!r}); expected a factory among list, dict, set, int, float or None")
    return collections.defaultdict(default_factory)


def _bytearray(data=b"", encoding=None):
    """``bytearray`` of bytes (or of a latin-1 str, as protocol 2 writes it)."""
    if isinstance(data, str) and encoding in ("latin1", "latin-1"):
        return bytearray(data.encode("latin1"))
    if isinstance(data, (bytes, bytearray)) and encoding is None:
        return bytearray(data)
    _refuse(f"bytearray({type(data).__name__}); expected bytes")


def _bytes(data=b"", encoding=None):
    """``bytes`` of bytes (or of a latin-1 str)."""
    return bytes(_bytearray(data, encoding))


_FACTORIES = (None, list, dict, set, int, float)
#: The numeric scalar types a legacy object may name (e.g. a Theano cast's ``ctor``); calling one
#: converts a number and nothing else.
_NUMPY_SCALAR_TYPES = ("bool_", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
                       "float16", "float32", "float64", "complex64", "complex128")
class _Sealed:
    """An allowed function as the pickle gets it: callable, and nothing of it can be set (a BUILD on
    it fails), so no pickle changes what a later one gets."""

    __slots__ = ("_func",)

    def __init__(self, func):
        object.__setattr__(self, "_func", func)

    def __setattr__(self, name, value):
        _refuse(f"the pickle sets {name!r} on the allowed function {self._func.__name__}")

    def __call__(self, *args, **kwargs):
        return self._func(*args, **kwargs)

    def __repr__(self):
        return f"<allowed {self._func.__name__}>"


#: (module, name) -> what the pickle gets instead. Why each is safe:
#:
#: - numpy's array and scalar reconstructors (``_reconstruct``, ``scalar``, ``_frombuffer``,
#:   ``dtype``) are re-implemented above: they check their arguments (shape, plain dtype, byte
#:   count) and build arrays from raw bytes only; ``numpy.ndarray`` and the dtypes are tokens
#:   they accept (numpy's own ``__setstate__`` of a dtype is never reachable);
#: - numpy's numeric scalar types convert numbers;
#: - ``collections.OrderedDict``, ``list``, ``dict``, ``tuple``, ``set``, ``frozenset``,
#:   ``slice``, ``complex``, ``object`` (as ``_reconstructor``'s base) only hold values, and
#:   ``defaultdict`` only with a container factory;
#: - ``_codecs.encode``, ``bytes``, ``bytearray``: latin-1 text to bytes (how protocol 2 writes bytes);
#: - ``getattr`` and ``copy_reg._reconstructor`` act on inert records only.
ALLOWED = {key: _Sealed(value) if isinstance(value, types.FunctionType) else value for key, value in {
    **{(module, "_reconstruct"): _reconstruct for module in ("numpy.core.multiarray", "numpy._core.multiarray")},
    **{(module, "scalar"): _scalar for module in ("numpy.core.multiarray", "numpy._core.multiarray")},
    **{(module, "_frombuffer"): _frombuffer for module in ("numpy.core.numeric", "numpy._core.numeric")},
    **{(module, "dtype"): _dtype for module in ("numpy", "numpy.core.multiarray", "numpy._core.multiarray")},
    **{(module, "ndarray"): ARRAY_TYPE for module in ("numpy", "numpy.core.multiarray", "numpy._core.multiarray")},
    **{("numpy", name): getattr(np, name) for name in _NUMPY_SCALAR_TYPES},
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("collections", "defaultdict"): _defaultdict,
    ("_codecs", "encode"): _codecs_encode,
    ("copy_reg", "_reconstructor"): _reconstructor,
    ("copyreg", "_reconstructor"): _reconstructor,
    **{(module, name): value for module in _BUILTINS for name, value in (
        ("list", list), ("dict", dict), ("tuple", tuple), ("set", set), ("frozenset", frozenset),
        ("slice", slice), ("complex", complex), ("object", object), ("getattr", _getattr),
        ("bytearray", _bytearray), ("bytes", _bytes))},
}.items()}


def is_legacy_global(module, name):
    """True when ``module.name`` is read as an inert record (see :data:`LEGACY_PACKAGES`)."""
    return module.split(".")[0] in LEGACY_PACKAGES or (module, name) in LEGACY_NUMPY_GLOBALS


class RestrictedUnpickler(pickle.Unpickler):
    """:class:`pickle.Unpickler` whose ``find_class`` imports nothing (see the module docstring).

    Parameters
    ----------
    file : binary file object
    source : str
        The file's name, for error messages.
    """

    def __init__(self, file, source):
        super().__init__(file, encoding="latin1")
        self.source = source
        self._records = {}
        self.globals_seen = set()

    def find_class(self, module, name):
        self.globals_seen.add(f"{module}.{name}")
        if (module, name) in ALLOWED:
            return ALLOWED[(module, name)]
        if is_legacy_global(module, name):
            key = (module, name)
            if key not in self._records:
                self._records[key] = type(name, (LegacyRecord,), {
                    "legacy_module": module, "legacy_name": name, "__module__": __name__})
            return self._records[key]
        raise LegacyPickleError(f"{self.source}: refused the global {module}.{name} (not a legacy Theano/cle "
                                f"class nor an allowed array or container constructor); nothing in the file "
                                f"was run")

    def persistent_load(self, pid):
        raise LegacyPickleError(f"{self.source}: holds a persistent id; legacy main-loop pickles have none")


def restricted_loads(data, source="<bytes>", seen=None):
    """Read the pickle ``data`` (bytes) with :class:`RestrictedUnpickler`; returns its object.

    ``seen``, a list, receives every global the pickle named (``module.name``), sorted.

    Raises
    ------
    LegacyPickleError
        A refused global, or a file that is not a complete pickle (one line naming ``source``).
    """
    unpickler = RestrictedUnpickler(io.BytesIO(data), source)
    try:
        return unpickler.load()
    except LegacyPickleError as err:
        message = str(err)
        if not message.startswith(f"{source}:"):
            message = f"{source}: {message}"
        raise LegacyPickleError(message) from None
    except (pickle.UnpicklingError, EOFError, TypeError, ValueError, AttributeError, IndexError, KeyError,
            MemoryError, RecursionError, OverflowError) as err:
        reason = " ".join(str(err).split()) or type(err).__name__
        raise LegacyPickleError(f"{source}: not a readable pickle ({type(err).__name__}: {reason})") from None
    finally:
        if seen is not None:
            seen.extend(sorted(unpickler.globals_seen))


def plain_array(value):
    """``value`` as an ordinary ndarray in native byte order when the pickle made it an array, else None."""
    if isinstance(value, np.ndarray):
        return np.array(value, dtype=value.dtype.newbyteorder("="), subok=False)
    return None
