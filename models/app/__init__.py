"""The application around the model families: run directories, training, sampling, evaluation,
learning curves and the command line (imported as ``nips2015_vrnn.models.app``).

Data flows one way, one module per step::

    configuration   app.configure      preset + config.txt + --set -> ModelConfig
    dataset         datasets.lookup    corpus table, prepared file, split readers
    model graph     models.build_model VRNN / RNN builders (models.sequence_model hooks)
    Training        app.trainer        cle.train.Training with the legacy extensions
    extensions      cle.train.ext      clipping, Adam, weight norm, monitoring, best/last
    run directory   app.rundir         config.json, log.jsonl (app.runlog), checkpoints/

then, from a run directory: ``app.sampling`` (WAV / SVG / PNG), ``app.evaluation`` (Table 1),
``app.learning_curve`` (monitor tables and plots); ``app.cli`` parses arguments and calls them.
"""
