"""``vrnn-prepare``: corpora into the HDF5 files ``vrnn-train --data`` reads."""
from pathlib import Path

import click

from nips2015_vrnn.models.app.cli.common import FRACTION, progress_bar, setup_logging, user_errors, verbose_option

__all__ = ["prepare"]


@click.group(help="""Prepare a corpus for training (HDF5 files read by vrnn-train --data).

\b
Examples:
  vrnn-prepare blizzard ~/blizzard2013/mp3 data/
  vrnn-prepare timit ~/TIMIT data/timit.h5
  vrnn-prepare sequences ~/my_sequences/ data/mine.h5
  vrnn-prepare pianoroll JSB_Chorales.pickle data/
  vrnn-prepare text shakespeare.txt data/
  vrnn-prepare iamondb ~/iamondb data/
  vrnn-prepare demo data/demo
""")
def prepare():
    pass


def _print_prepared(info):
    for key, value in info.items():
        if key != "skipped":
            click.echo(f"  {key}: {value:.6g}" if isinstance(value, float) else f"  {key}: {value}")
    if info.get("skipped"):
        click.echo(f"  skipped: {len(info['skipped'])} files (first: {info['skipped'][0]})")


def _out_file(out, corpus):
    """OUT as given when it names a .h5 file, else OUT/<corpus>.h5 (a folder)."""
    out = Path(out)
    folder = out.parent if out.suffix.lower() in (".h5", ".hdf5") else out
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise click.ClickException(f"{folder}: cannot make the output folder ({err.strerror}); "
                                   "expected a folder this user can write") from None
    return out if folder != out else out / f"{corpus}.h5"


def _whole_frames(ctx, param, value):
    """--seq-len: whole frames of the Blizzard frame size (training cuts each row into frames)."""
    from nips2015_vrnn.datasets.blizzard import FRAME_SIZE

    if value % FRAME_SIZE:
        raise click.BadParameter(f"{value} is not a multiple of the frame size {FRAME_SIZE}; "
                                 f"expected e.g. {max(1, round(value / FRAME_SIZE)) * FRAME_SIZE}")
    return value


def _fractions(valid_frac, test_frac):
    if valid_frac + test_frac >= 1:
        raise click.UsageError(f"--valid-frac {valid_frac} and --test-frac {test_frac} leave no "
                               "training data; expected a sum below 1")


#: Seeds numpy's generators take.
SEED = click.IntRange(0, 2 ** 32 - 1)


@prepare.command("blizzard", help="""Cut a folder of speech audio into the Blizzard TBPTT layout.

SRC is searched recursively for audio files in any format libsndfile decodes: WAV (any width,
float), FLAC, OGG/Vorbis, MP3 (Blizzard 2013's audiobooks as distributed), NIST SPHERE, AIFF ...
(any rate / channels; mixed to mono and resampled to 16 kHz). Every file is decoded once to
check it first: a truncated or undecodable file is an error naming it (--skip-bad: a warning,
and it is left out); float files with samples beyond full scale are reported.
OUT is the HDF5 file to write, or a folder (then OUT/blizzard.h5). The batch size fixes the
number of parallel streams: train with the same --set batch_size.

\b
Example:
  vrnn-prepare blizzard ~/blizzard2013/mp3 data/ --seq-len 8000 --batch-size 128
""")
@click.argument("src", type=click.Path(file_okay=False))
@click.argument("out", type=click.Path())
@click.option("--seq-len", default=8000, show_default=True, type=click.IntRange(min=1), callback=_whole_frames,
              help="Samples per row (0.5 s); a multiple of the 200-sample frame.")
@click.option("--batch-size", default=128, show_default=True, type=click.IntRange(min=1), help="Parallel streams B.")
@click.option("--valid-frac", default=0.05, show_default=True, type=FRACTION,
              help="Fraction kept for validation.")
@click.option("--test-frac", default=0.05, show_default=True, type=FRACTION,
              help="Fraction kept for test.")
@click.option("--allow-pickle", is_flag=True,
              help="Also read the legacy data_*.npy files (pickled lists of int16 waveforms): "
                   "loading them can run code, so only for files you trust.")
@click.option("--skip-bad", is_flag=True,
              help="Leave out files that do not decode or are truncated (each named in a warning).")
@verbose_option
@user_errors
def prepare_blizzard_command(src, out, seq_len, batch_size, valid_frac, test_frac, allow_pickle,
                             skip_bad, verbose):
    from nips2015_vrnn.datasets.blizzard import prepare_blizzard

    setup_logging(verbose)
    _fractions(valid_frac, test_frac)
    out_file = _out_file(out, "blizzard")
    with progress_bar("preparing") as progress:
        info = prepare_blizzard(src, out_file, seq_len=seq_len, batch_size=batch_size,
                                allow_pickle=allow_pickle, valid_frac=valid_frac, test_frac=test_frac,
                                skip_bad=skip_bad, progress=progress)
    click.echo(f"wrote {out_file}")
    _print_prepared(info)


@prepare.command("iamondb", help="""Parse the IAM-OnDB corpus (lineStrokes/, ascii/, split files).

OUT is the HDF5 cache to write, or a folder (then OUT/iamondb.h5).

\b
Example:
  vrnn-prepare iamondb ~/iamondb data/
""")
@click.argument("src", type=click.Path(file_okay=False))
@click.argument("out", type=click.Path())
@verbose_option
@user_errors
def prepare_iamondb_command(src, out, verbose):
    from nips2015_vrnn.datasets.iamondb import prepare_iamondb

    setup_logging(verbose)
    out_file = _out_file(out, "iamondb")
    with progress_bar("parsing forms") as progress:
        info = prepare_iamondb(src, out_file, progress=progress)
    click.echo(f"wrote {out_file}")
    _print_prepared(info)


@prepare.command("demo", help="""Generate the demo corpus (speech + handwriting, deterministic,
offline, a few seconds) and prepare it: OUT/blizzard.h5 and OUT/iamondb.h5.

\b
Example:
  vrnn-prepare demo data/demo && vrnn-train demo --data data/demo --out runs/demo
""")
@click.argument("out", type=click.Path(file_okay=False))
@verbose_option
@user_errors
def prepare_demo_command(out, verbose):
    from nips2015_vrnn.datasets.demo import prepare_demo

    setup_logging(verbose)
    paths = prepare_demo(out)
    for key, value in paths.items():
        click.echo(f"  {key}: {value}")


@prepare.command("timit", help="""Prepare the TIMIT corpus (LDC layout) as whole, normalised utterances.

ROOT holds TRAIN/ and TEST/ (any letter case, possibly below e.g. TIMIT/), dialect regions
DR1..DR8, one folder per speaker and one .WAV per utterance (NIST SPHERE; RIFF WAV
re-distributions too). Split: the TRAIN utterances (SA sentences included: 4620) by speaker
into train and valid (--valid-frac of the 462 speakers: 4390 / 230 utterances by default), the
1680 TEST utterances as test. Frames of 200 samples normalised by the train mean / std; training
reads chunks of --chunk-frames frames, evaluation whole utterances. OUT is the HDF5 file to
write, or a folder (then OUT/timit.h5).

\b
Example:
  vrnn-prepare timit ~/TIMIT data/timit.h5
  vrnn-train timit --data data/timit.h5 --out runs/timit --model vrnn-gmm
""")
@click.argument("root", type=click.Path(file_okay=False))
@click.argument("out", type=click.Path())
@click.option("--valid-frac", default=0.05, show_default=True, type=FRACTION,
              help="Fraction of training speakers held out.")
@click.option("--seed", default=1234, show_default=True, type=SEED, help="Seed of the choice of validation speakers.")
@click.option("--chunk-frames", default=40, show_default=True, type=click.IntRange(min=0),
              help="Training chunk length in 200-sample frames (0: whole utterances).")
@click.option("--no-sa", is_flag=True, help="Leave out the SA1 / SA2 dialect sentences.")
@click.option("--skip-bad", is_flag=True, help="Leave out utterances that do not decode (each named in a warning).")
@verbose_option
@user_errors
def prepare_timit_command(root, out, valid_frac, seed, chunk_frames, no_sa, skip_bad, verbose):
    from nips2015_vrnn.datasets.timit import prepare_timit

    setup_logging(verbose)
    out_file = _out_file(out, "timit")
    with progress_bar("utterances") as progress:
        info = prepare_timit(root, out_file, valid_frac=valid_frac, seed=seed, include_sa=not no_sa,
                             chunk_frames=chunk_frames, skip_bad=skip_bad, progress=progress)
    click.echo(f"wrote {out_file}")
    _print_prepared(info)


@prepare.command("sequences", help="""Prepare your own sequences for training.

SRC is a folder of .npy files (one numeric array (T, D) each), one .npz file of such arrays, or a
folder of .csv files (one row of D numbers per step; a header row of names is skipped).
Sequences may differ in length T (batches are padded and masked) but not in width D. They are
assigned at random (--seed) to train / valid / test, unless SRC holds train/, valid/ and test/
folders (data that come split: that split is kept). --normalise auto (the default) normalises
each dimension by the training mean / std unless every value is 0 or 1 (binary data, for
--model vrnn-bernoulli / rnn-bernoulli). OUT is the HDF5 file to write, or a folder (then
OUT/sequences.h5).

\b
Example:
  vrnn-prepare sequences ~/my_sequences/ data/mine.h5 --valid-frac 0.1 --test-frac 0.1
  vrnn-train sequences --data data/mine.h5 --out runs/mine --model vrnn-gmm
""")
@click.argument("src", type=click.Path())
@click.argument("out", type=click.Path())
@click.option("--valid-frac", default=0.1, show_default=True, type=FRACTION,
              help="Fraction of sequences for validation.")
@click.option("--test-frac", default=0.1, show_default=True, type=FRACTION,
              help="Fraction of sequences for test.")
@click.option("--seed", default=0, show_default=True, type=SEED, help="Seed of the assignment to the splits.")
@click.option("--normalise", type=click.Choice(["auto", "yes", "no"]), default="auto", show_default=True,
              help="Per-dimension normalisation by the training statistics.")
@verbose_option
@user_errors
def prepare_sequences_command(src, out, valid_frac, test_frac, seed, normalise, verbose):
    from nips2015_vrnn.datasets.sequences import prepare_sequences

    setup_logging(verbose)
    _fractions(valid_frac, test_frac)
    out_file = _out_file(out, "sequences")
    info = prepare_sequences(src, out_file, valid_frac=valid_frac, test_frac=test_frac, seed=seed,
                             normalise=normalise)
    click.echo(f"wrote {out_file}")
    _print_prepared(info)


@prepare.command("pianoroll", help="""Prepare a piano-roll pickle (JSB Chorales, Nottingham, MuseData,
Piano-midi.de as distributed by Boulanger-Lewandowski et al., 2012) for the Bernoulli models.

FILE is a pickle of a dict with 'train', 'valid' and 'test', each a list of sequences, each a list
of time steps, each the MIDI pitches sounding (21..108, the 88 piano keys; Python 2 pickles as
distributed load). It is read by a reader that builds only lists, tuples, dicts, numbers and
strings: a file naming any class or function is refused and nothing in it runs. The file's own
split is kept; frames are 88 keys of 0/1. OUT is the HDF5 file to write, or a folder (then
OUT/pianoroll.h5).

\b
Example:
  vrnn-prepare pianoroll JSB_Chorales.pickle data/
  vrnn-train pianoroll --data data/ --out runs/jsb --model vrnn-bernoulli
""")
@click.argument("file", type=click.Path(dir_okay=False))
@click.argument("out", type=click.Path())
@verbose_option
@user_errors
def prepare_pianoroll_command(file, out, verbose):
    from nips2015_vrnn.datasets.pianoroll import prepare_pianoroll

    setup_logging(verbose)
    out_file = _out_file(out, "pianoroll")
    info = prepare_pianoroll(file, out_file)
    click.echo(f"wrote {out_file}")
    _print_prepared(info)


@prepare.command("text", help="""Prepare UTF-8 text for the character models (vrnn-categorical, rnn-categorical).

SRC is a UTF-8 text file, or a folder whose .txt files are joined (sorted by path). The text is cut
into three contiguous blocks (train, then valid, then test); the vocabulary is the training block's
characters plus an unknown symbol (for characters met later), stored with the data. Training reads
--batch-size parallel streams in examples of --seq-len characters, the LSTM state carried from one
batch to the next (truncated BPTT, as for Blizzard): train with the same --set batch_size.
Evaluation reads the valid / test blocks in examples of --eval-len characters. A byte that is not
UTF-8 is an error naming the file and line. OUT is the HDF5 file to write, or a folder (then
OUT/text.h5).

\b
Example:
  vrnn-prepare text shakespeare.txt data/ --seq-len 100 --batch-size 32
  vrnn-train text --data data/ --out runs/chars --model vrnn-categorical
""")
@click.argument("src", type=click.Path())
@click.argument("out", type=click.Path())
@click.option("--seq-len", default=100, show_default=True, type=click.IntRange(min=1),
              help="Characters per training example.")
@click.option("--batch-size", default=32, show_default=True, type=click.IntRange(min=1),
              help="Parallel training streams B.")
@click.option("--eval-len", default=1000, show_default=True, type=click.IntRange(min=1),
              help="Characters per evaluation example.")
@click.option("--valid-frac", default=0.05, show_default=True, type=FRACTION, help="Share of the valid block.")
@click.option("--test-frac", default=0.05, show_default=True, type=FRACTION, help="Share of the test block.")
@verbose_option
@user_errors
def prepare_text_command(src, out, seq_len, batch_size, eval_len, valid_frac, test_frac, verbose):
    from nips2015_vrnn.datasets.text import prepare_text

    setup_logging(verbose)
    _fractions(valid_frac, test_frac)
    if valid_frac == 0 or test_frac == 0:
        raise click.UsageError("--valid-frac and --test-frac must be above 0: evaluation needs a valid "
                               "and a test block")
    out_file = _out_file(out, "text")
    info = prepare_text(src, out_file, seq_len=seq_len, batch_size=batch_size, eval_len=eval_len,
                        valid_frac=valid_frac, test_frac=test_frac)
    click.echo(f"wrote {out_file}")
    _print_prepared(info)
