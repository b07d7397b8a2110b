"""Blizzard and IAM-OnDB data preparation and loading (imported as ``nips2015_vrnn.datasets``).

Modules, one idea each:

- :mod:`~nips2015_vrnn.datasets.blizzard`: ``prepare_blizzard`` (audio folder -> TBPTT HDF5),
  readers ``Blizzard`` and ``Blizzard_tbptt`` (batches (T, B, 200));
- :mod:`~nips2015_vrnn.datasets.iamondb`: ``prepare_iamondb`` (corpus -> HDF5 cache), reader
  ``IAMOnDB`` (batches [x (T, B, 3), mask (T, B)]) and ``offsets_to_strokes``;
- :mod:`~nips2015_vrnn.datasets.demo`: ``make_demo_corpus`` / ``prepare_demo``, a generated
  corpus in the real formats;
- helpers: ``reader`` (the readers' shared base), ``audio`` (WAV reading, 16 kHz
  resampling), ``iamondb_files`` (XML / ascii / split files), ``alphabet`` (57 symbols),
  ``stats`` (streaming mean / std), ``hdf5`` (atomic writes, layout checks), ``errors``
  (``DataError``), ``demo_font``, ``demo_speech``.

Both readers derive from :class:`~nips2015_vrnn.datasets.reader.SplitReader`, a
:class:`cle.data.Data`: ``num_examples()``, ``slices(start, end)`` (a list of numpy arrays),
``theano_vars()`` (the matching PyTensor inputs), ``X_mean``, ``X_std``, ``denormalise(x)``,
``close()`` and use as a context manager. ``audio.frames_to_waveforms`` turns normalised
Blizzard frames back into int16 waveforms; ``audio.TARGET_RATE`` is the one 16 kHz rate.
"""
