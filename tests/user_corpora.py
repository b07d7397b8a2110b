"""Writers of the corpora the tests make themselves: a TIMIT-layout folder of NIST SPHERE files and a
user's sequences as .npy / CSV files (shared by the dataset and command-line tests)."""
import numpy as np
import soundfile as sf

UTTERANCES = ("SA1", "SA2", "SI1", "SX1")


def write_timit(root, n_train=10, n_test=3, lower=False, riff=False, seed=0):
    """A TIMIT-layout folder: {TRAIN,TEST}/DRk/<speaker>/<utt>.WAV as NIST SPHERE (16 kHz int16).

    Returns {(part, region, speaker, utt): int16 samples}.
    """
    rng = np.random.default_rng(seed)
    written = {}
    for part, n in (("TRAIN", n_train), ("TEST", n_test)):
        for s in range(n):
            region, speaker = f"DR{1 + s % 8}", f"{'FM'[s % 2]}SPK{s}"
            for utt in UTTERANCES:
                samples = (rng.normal(0, 800, rng.integers(900, 2500)) + 50 * (part == "TRAIN")).astype(np.int16)
                names = [part, region, speaker, f"{utt}.WAV"]
                if lower:
                    names = [n.lower() for n in names]
                path = root.joinpath(*names)
                path.parent.mkdir(parents=True, exist_ok=True)
                sf.write(str(path), samples, 16000, format="NIST", subtype="PCM_16")
                if riff:  # a re-distribution with a RIFF copy beside each SPHERE file
                    sf.write(str(path) + ".wav", samples, 16000, format="WAV", subtype="PCM_16")
                written[(part, region, speaker, utt)] = samples
    return written


def write_npy(folder, seqs):
    folder.mkdir(parents=True, exist_ok=True)
    for i, s in enumerate(seqs):
        np.save(folder / f"s{i:03d}.npy", s)
    return folder


def write_csv(folder, seqs, header=True):
    folder.mkdir(parents=True, exist_ok=True)
    for i, s in enumerate(seqs):
        lines = [",".join(f"c{d}" for d in range(s.shape[1]))] if header else []
        lines += [",".join(repr(float(v)) for v in row) for row in s]
        (folder / f"s{i:03d}.csv").write_text("\n".join(lines) + "\n")
    return folder
