"""A persistent store of compiled functions in the user's cache directory.

Compiling the training function costs most of a minute (the gradient through ``scan``, PyTensor's
graph rewrites, the C code); what comes out depends only on what went in: a *spec* (the model's
configuration, which function, the precision), the source of the packages that build the graphs,
the library versions and PyTensor's flags. :class:`FunctionStore` keeps each compiled function's
``FunctionMaker`` (the rewritten graph and its linker, pickled) under the SHA-256 of all of these,
and on a later call re-links it (the C modules come from PyTensor's own cache): seconds.

Shared variables are never stored. The caller names the shared variables it owns (``live``:
parameters, model state, generators, optimizer settings); in the pickle each of them (and its
storage) is a reference by that name, resolved to the caller's object when the entry is loaded,
so the loaded function reads and updates the caller's variables. Shared variables made while
the graph was built (an optimizer's slots) are stored with the values they had at compile time
(the entry is written before the function is first called) and come back in ``extra``, for the
caller to adopt. A function with any other shared input is not stored.

On disk (``$VRNN_FUNCTION_CACHE``, else ``$XDG_CACHE_HOME/vrnn-pytensor/functions``, with
``~/.cache`` when XDG_CACHE_HOME is unset; ``VRNN_FUNCTION_CACHE=off`` turns the store off)::

    <key>.pkl.gz   the pickled {'maker', 'extra'} (gzip)
    <key>.json     spec, environment, the pickle's SHA-256 and size, when it was written

Both are written to temporary names and renamed, mode 0600 in folders of mode 0700 (whatever the
umask). An entry is found by its key (so its spec and environment are the caller's) and loaded
only when the pickle's digest matches its JSON; an entry that fails any check or fails to load is
deleted and the function compiled again.

Threat model: loading an entry unpickles it, and unpickling runs code: whoever can write an entry
(and recompute its SHA-256, which detects damage, not authorship) runs code as the next user of
the store. So an entry is loaded only from a folder nobody else could have written
(:mod:`cle.private_dir`, OpenSSH's rule): the store folder owned by the user and not writable by
group or others (a shared folder, a sticky 1777 folder, a folder made under umask 000 all fail),
no symbolic link, the folders above it not replaceable by another user, and each file a regular
file of the user's, not writable by group or others, checked on the open file. A store that fails
is refused in one warning line, and every function is compiled afresh and nothing is stored
there; an entry that fails is refused, deleted and compiled again. Nothing is ever repaired into
trust. Not covered: another process of the same user, or root (they can change the code itself).
Loading an entry touches its JSON; entries not loaded for MAX_IDLE_DAYS, and temporaries a
killed writer left, are deleted when the next entry is written. Deleting the folder is always safe.
Only this store's own files are unpickled: run directories and checkpoints stay arrays + JSON.

Example
-------
>>> import tempfile, numpy as np, pytensor, pytensor.tensor as pt
>>> store = FunctionStore(tempfile.mkdtemp())
>>> w = pytensor.shared(np.float64(2.0), name='w')
>>> def build():
...     x = pt.dscalar('x')
...     return pytensor.function([x], w * x, updates=[(w, w + 1)]), None
>>> fn, _ = store.compile({'what': 'doubling'}, {'w': w}, build)
>>> store.last_event
'compiled'
>>> w2 = pytensor.shared(np.float64(10.0), name='w')    # a later process: new variables
>>> fn2, _ = store.compile({'what': 'doubling'}, {'w': w2}, build)
>>> store.last_event, float(fn2(3.0)), float(w2.get_value())
('loaded', 30.0, 11.0)
"""
import gzip
import hashlib
import io
import json
import logging
import os
import pickle
import platform
import sys
import time
from functools import lru_cache
from importlib import metadata
from pathlib import Path

import numpy as np
import pytensor
from pytensor.compile.sharedvalue import SharedVariable

from cle.finish import finish
from cle.private_dir import UnsafeFileError, open_private, private_folder, unsafe_folder, write_private

log = logging.getLogger(__name__)

__all__ = ["FunctionStore", "default_store", "compile_with_store", "STORE_ENV", "STORED_MODES",
           "source_digest"]

#: Where the store lives (a folder), or ``off`` to compile every time.
STORE_ENV = "VRNN_FUNCTION_CACHE"
#: Bumped when the entry format changes (older entries are then never matched).
FORMAT = 2
#: Libraries whose version is part of every key.
LIBRARIES = ("pytensor", "numpy", "scipy", "jax", "jaxlib")
#: Environment variables that change how graphs are built or compiled.
GRAPH_ENV = ("PYTENSOR_FLAGS",)
#: Modes whose compiled functions are kept in the store (in JAX mode the rewritten graph is
#: stored and re-traced when loaded; XLA's own persistent cache keeps the programs).
STORED_MODES = ("c", "jax")
#: gzip level of the pickles: speed matters more than size.
COMPRESSION = 1
#: All-zero arrays from this size on (an optimizer's slots as compiled: the paper's Blizzard model
#: has 2 x 380 MB of Adam moments) are stored as their shape and dtype and made again when loaded,
#: instead of gzipping and unzipping their bytes.
ZEROS_BY_SHAPE_BYTES = 1 << 16
#: The dtype kinds such arrays may have (bool, signed and unsigned integers, floats).
ZEROS_DTYPE_KINDS = "biuf"
#: Entries not loaded for this long are deleted when an entry is written (loading one marks it used).
MAX_IDLE_DAYS = 30
#: A temporary file older than this is left over from a killed writer and is deleted.
STALE_TEMPORARY_S = 3600


@lru_cache(maxsize=None)
def source_digest(*roots):
    """SHA-256 of every ``.py`` file under the folders ``roots`` (paths and contents, sorted)."""
    digest = hashlib.sha256()
    for root in roots:
        for path in sorted(Path(root).rglob("*.py")):
            digest.update(str(path.relative_to(root)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def _version(name):
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def environment(source_roots=()):
    """What besides the spec decides a compiled function: versions, flags, compiler, source."""
    config = pytensor.config
    return {
        "format": FORMAT,
        "python": sys.version.split()[0],
        "machine": platform.machine(),
        "libraries": {name: _version(name) for name in LIBRARIES},
        "env": {name: os.environ.get(name) for name in GRAPH_ENV},
        "cxx": config.cxx,
        "blas": config.blas__ldflags,
        "compiledir": config.compiledir,
        "source": source_digest(*(str(Path(r).resolve()) for r in source_roots)),
    }


def default_directory():
    """``$VRNN_FUNCTION_CACHE``, else ``$XDG_CACHE_HOME`` (or ``~/.cache``) ``/vrnn-pytensor/functions``;
    None when the variable is ``off``."""
    chosen = os.environ.get(STORE_ENV)
    if chosen:
        return None if chosen.lower() in ("off", "0", "no", "false") else Path(chosen)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "vrnn-pytensor" / "functions"


def default_store(source_roots=()):
    """The store at :func:`default_directory` (a store that compiles every time when it is off)."""
    return FunctionStore(default_directory(), source_roots=source_roots)


def compile_with_store(backend, spec, live, build):
    """The function of ``spec`` compiled by ``backend`` (a :class:`cle.backend.Backend`): loaded
    from ``backend.store`` when it holds it, else ``build()`` and stored. The one place a store
    key is made: the caller's ``spec`` with the backend's (:meth:`~cle.backend.Backend.spec`).

    Parameters
    ----------
    backend : cle.backend.Backend
    spec : dict (JSON-serialisable)
        Everything of the caller's that decides the graph (configuration, which function).
    live : dict name -> SharedVariable
        The caller's shared variables (see :meth:`FunctionStore.compile`).
    build : callable () -> (pytensor Function, extra)
        Compiles the function (called inside ``backend.compiling()``).

    Returns
    -------
    (function, extra, loaded): ``loaded`` is True when the function came from the store.
    """
    store = backend.store
    with backend.compiling():
        if store is None or not store.enabled or backend.mode not in STORED_MODES:
            fn, extra = build()
            return fn, extra, False
        fn, extra = store.compile(dict(spec, backend=backend.spec()), live, build)
        return fn, extra, store.last_event == "loaded"


class _Pickler(pickle.Pickler):
    """Pickles the caller's shared variables and their containers as references by name, and a
    large all-zero array (an optimizer's fresh slots) as its shape and dtype only."""

    def __init__(self, file, references):
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self.references = references

    def persistent_id(self, obj):
        found = self.references.get(id(obj))
        if found is None and _is_large_zeros(obj):
            return ("zeros", (tuple(int(n) for n in obj.shape), obj.dtype.str))
        return found


def _is_large_zeros(obj):
    """Whether ``obj`` is a plain numeric ndarray of at least ZEROS_BY_SHAPE_BYTES, all zeros."""
    return (type(obj) is np.ndarray and obj.nbytes >= ZEROS_BY_SHAPE_BYTES
            and obj.dtype.kind in ZEROS_DTYPE_KINDS and obj.dtype.isnative and not obj.any())


class _Unpickler(pickle.Unpickler):
    def __init__(self, file, live):
        super().__init__(file)
        self.live = live

    def persistent_load(self, pid):
        kind, name = pid
        if kind == "zeros":
            shape, dtype = name
            dtype = np.dtype(dtype)
            if dtype.kind not in ZEROS_DTYPE_KINDS or not all(isinstance(n, int) and n >= 0 for n in shape):
                raise ValueError(f"stored zeros of shape {shape} and dtype {dtype} are not plain numbers")
            return np.zeros(shape, dtype)
        variable = self.live[name]  # a KeyError: the caller no longer has it (stale entry)
        return variable if kind == "variable" else variable.container


class FunctionStore:
    """Compiled functions kept on disk between processes, keyed by spec and environment.

    Parameters
    ----------
    directory : str or Path or None
        The store's folder (made when first written); None: compile every time, store nothing.
    source_roots : sequence of str or Path
        Folders whose ``.py`` files build the graphs (their digest is part of every key).
    """

    def __init__(self, directory, source_roots=()):
        self.directory = None if directory is None else Path(directory)
        self.source_roots = tuple(str(r) for r in source_roots)
        #: What the last :meth:`compile` did: 'loaded', 'compiled' (and stored), 'unstored'.
        self.last_event = None
        #: Why the store's folder is not trusted (the warning given once), or None.
        self.refused = None

    @property
    def enabled(self):
        return self.directory is not None

    def key(self, spec, env=None):
        """The entry name of ``spec``: SHA-256 of the spec and the environment (``env``, default
        :func:`environment` of this store's source roots)."""
        document = {"spec": spec, "environment": env or environment(self.source_roots)}
        return hashlib.sha256(json.dumps(document, sort_keys=True, default=str).encode()).hexdigest()

    def compile(self, spec, live, build):
        """The function of ``spec``: loaded from the store, else ``build()`` and stored.

        Parameters
        ----------
        spec : dict (JSON-serialisable)
            Everything of the caller's that decides the graph (configuration, function name, mode).
        live : dict name -> SharedVariable
            The caller's shared variables; the loaded function is bound to these.
        build : callable () -> (pytensor Function, extra)
            Compiles the function; ``extra`` (any picklable object, e.g. an optimizer's slots) is
            stored with it and returned as it was after ``build`` (its shared variables other than
            ``live`` ones with their values at compile time).

        Returns
        -------
        (function, extra)
        """
        if not self.enabled:
            self.last_event = "unstored"
            return build()
        env = environment(self.source_roots)
        key = self.key(spec, env)
        loaded = self._load(key, live)
        if loaded is not None:
            self.last_event = "loaded"
            return loaded
        fn, extra = build()
        stored = self._store(key, {"spec": spec, "environment": env}, live, fn, extra)
        self.last_event = "compiled" if stored else "unstored"
        return fn, extra

    # ------------------------------------------------------------------ disk
    def _paths(self, key):
        return self.directory / f"{key}.pkl.gz", self.directory / f"{key}.json"

    def _trusted(self):
        """True when the store's folder is private (:func:`cle.private_dir.unsafe_folder`); the
        first refusal is logged in one line."""
        if not os.path.lexists(self.directory):
            return True  # nothing to load; made private when first written
        reason = unsafe_folder(self.directory)
        if reason and reason != self.refused:
            log.warning("compiled-function cache %s refused: %s; compiling afresh, nothing loaded or "
                        "stored there (another user could have written its entries: remove it, or "
                        "set %s to a folder of your own)", self.directory, reason, STORE_ENV)
        self.refused = reason
        return reason is None

    def _load(self, key, live):
        data_path, meta_path = self._paths(key)
        if not (os.path.lexists(data_path) and os.path.lexists(meta_path)) or not self._trusted():
            return None
        start = time.perf_counter()
        try:
            with open_private(meta_path) as file:
                meta = json.loads(file.read())
            with open_private(data_path) as file:
                data = file.read()
        except (OSError, ValueError) as err:
            refused = isinstance(err, UnsafeFileError)
            log.warning("compiled-function cache entry %s %s (%s); compiling again%s", data_path,
                        "refused" if refused else "unreadable", err,
                        " (never loaded)" if refused else "")
            self._remove(key)
            return None
        try:
            if hashlib.sha256(data).hexdigest() != meta["sha256"]:
                raise ValueError("the pickle's SHA-256 does not match its JSON")
            payload = _Unpickler(io.BytesIO(gzip.decompress(data)), live).load()
            maker = payload["maker"]
            unpickled = time.perf_counter()
            fn = maker.create()
            fn.trust_input = maker.trust_input
            finish(fn)  # in JAX mode XLA compiles now (from its persistent cache, when it has it)
        except Exception as err:  # noqa: BLE001 (any failure: drop the entry and compile again)
            log.warning("compiled-function cache entry %s is unusable (%s: %s); compiling again",
                        data_path, type(err).__name__, err)
            self._remove(key)
            return None
        _mark_used(meta_path)
        log.info("loaded %s from the compiled-function cache in %.1f s (%.1f s unpickling, %.1f s "
                 "linking)", maker.name, time.perf_counter() - start, unpickled - start,
                 time.perf_counter() - unpickled)
        return fn, payload["extra"]

    def _store(self, key, document, live, fn, extra):
        references = {}
        for name, variable in live.items():
            references[id(variable)] = ("variable", name)
            references[id(variable.container)] = ("container", name)
        adoptable = _shared_in(extra)
        foreign = [inp.variable.name or repr(inp.variable) for inp in fn.maker.inputs
                   if isinstance(inp.variable, SharedVariable) and id(inp.variable) not in references
                   and id(inp.variable) not in adoptable]
        if foreign:
            log.info("%s not stored in the compiled-function cache: shared inputs %s are not the "
                     "caller's", fn.maker.name, foreign)
            return False
        fn.free()
        buffer = io.BytesIO()
        try:
            _Pickler(buffer, references).dump({"maker": fn.maker, "extra": extra})
        except Exception as err:  # noqa: BLE001 (some graphs do not pickle: then they are not stored)
            log.info("%s not stored in the compiled-function cache (%s: %s)", fn.maker.name,
                     type(err).__name__, err)
            return False
        data = gzip.compress(buffer.getvalue(), compresslevel=COMPRESSION)
        meta = {**document, "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data),
                "written": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        data_path, meta_path = self._paths(key)
        try:
            private_folder(self.directory)
            if not self._trusted():
                return False
            self.prune()
            write_private(data_path, data)
            write_private(meta_path, json.dumps(meta, indent=1, default=str).encode())
        except OSError as err:
            log.warning("could not write the compiled-function cache entry %s (%s)", data_path, err)
            self._remove(key)
            return False
        return True

    def prune(self, now=None):
        """Delete entries not loaded for MAX_IDLE_DAYS and temporaries older than STALE_TEMPORARY_S."""
        now = time.time() if now is None else now
        for path in self.directory.iterdir():
            try:
                age = now - path.lstat().st_mtime
                if path.name.startswith(".") and ".tmp-" in path.name and age > STALE_TEMPORARY_S:
                    path.unlink()
                elif path.suffix == ".json" and age > MAX_IDLE_DAYS * 86400:
                    self._remove(path.stem)
            except OSError:
                pass  # another process removed it first

    def _remove(self, key):
        for path in self._paths(key):
            try:
                path.unlink()
            except OSError:
                pass


def _mark_used(meta_path):
    try:
        os.utime(meta_path)
    except OSError:
        pass  # a read-only store still works; its entries are then pruned by age of writing


def _shared_in(extra):
    """ids of the shared variables in ``extra`` (a shared variable, or a dict / list of them)."""
    if isinstance(extra, SharedVariable):
        return {id(extra)}
    if isinstance(extra, dict):
        return {id(v) for v in extra.values() if isinstance(v, SharedVariable)}
    if isinstance(extra, list | tuple):
        return {id(v) for v in extra if isinstance(v, SharedVariable)}
    return set()

