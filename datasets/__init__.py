"""Blizzard, TIMIT, IAM-OnDB and user-sequence preparation and loading (``nips2015_vrnn.datasets``).

Modules, one idea each:

- :mod:`~nips2015_vrnn.datasets.blizzard`: ``prepare_blizzard`` (audio folder -> TBPTT HDF5),
  readers ``Blizzard`` and ``Blizzard_tbptt`` (batches (T, B, 200));
- :mod:`~nips2015_vrnn.datasets.iamondb`: ``prepare_iamondb`` (corpus -> HDF5 cache), reader
  ``IAMOnDB`` (batches [x (T, B, 3), mask (T, B)]) and ``offsets_to_strokes``;
- :mod:`~nips2015_vrnn.datasets.timit`: ``prepare_timit`` (LDC folder -> whole utterances),
  readers ``TIMIT`` (whole utterances) and ``TIMIT_chunks`` (training chunks), [x, mask];
- :mod:`~nips2015_vrnn.datasets.sequences`: ``prepare_sequences`` (.npy / .npz / CSV -> HDF5),
  reader ``Sequences`` ([x (T, B, D), mask]);
- :mod:`~nips2015_vrnn.datasets.demo`: ``make_demo_corpus`` / ``prepare_demo``, a generated
  corpus in the real formats;
- helpers: ``reader`` (the readers' shared base), ``ragged`` (the base of the masked
  variable-length readers), ``audio`` (every libsndfile format through soundfile, 16 kHz
  resampling), ``audio_headers`` (declared lengths, to catch cut files), ``iamondb_files``
  (XML / ascii / split files), ``alphabet`` (57 symbols),
  ``stats`` (streaming mean / std), ``hdf5`` (atomic writes, layout checks), ``errors``
  (``DataError``), ``demo_font``, ``demo_speech``.

Both readers derive from :class:`~nips2015_vrnn.datasets.reader.SplitReader`, a
:class:`cle.data.Data`: ``num_examples()``, ``slices(start, end)`` (a list of numpy arrays),
``theano_vars()`` (the matching PyTensor inputs), ``X_mean``, ``X_std``, ``denormalise(x)``,
``close()`` and use as a context manager. ``audio.frames_to_waveforms`` turns normalised
Blizzard frames back into int16 waveforms; ``audio.TARGET_RATE`` is the one 16 kHz rate.
"""
