"""vrnn-prepare refuses what training would refuse, checks every option at the command line, and
says which symbolic links to folders it followed or skipped."""
import logging

import numpy as np
import pytest
import soundfile as sf
from click.testing import CliRunner

from nips2015_vrnn.datasets.errors import DataError
from nips2015_vrnn.datasets.stats import check_statistics
from nips2015_vrnn.models.app import cli


def invoke(args):
    return CliRunner().invoke(cli.prepare, [str(a) for a in args], catch_exceptions=False)


def one_error_line(result, *fragments):
    assert result.exit_code in (1, 2), result.output
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1, result.output
    for fragment in fragments:
        assert fragment in lines[0], result.output
    return lines[0]


def write_wav(path, samples):
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), np.asarray(samples, dtype=np.int16), 16000, subtype="PCM_16")


TINY = ["--seq-len", 200, "--batch-size", 1, "--valid-frac", 0, "--test-frac", 0]


def test_silent_audio_is_refused_and_nothing_is_left(tmp_path):
    write_wav(tmp_path / "src" / "silence.wav", np.zeros(4000))
    result = invoke(["blizzard", tmp_path / "src", tmp_path / "out", *TINY])
    one_error_line(result, str(tmp_path / "src"), "deviation above 0")
    assert list((tmp_path / "out").iterdir()) == []


@pytest.mark.parametrize("mean, std", [(np.nan, 1.0), (0.0, np.inf), (1e200, 0.0), (0.0, 0.0)])
def test_statistics_training_would_refuse_are_refused(mean, std):
    with pytest.raises(DataError, match="expected finite statistics"):
        check_statistics("data.h5", mean, std)
    check_statistics("data.h5", [0.0, 1.0], [1.0, 2.0])  # fine


@pytest.mark.parametrize("args, fragment", [
    (["--seq-len", 0], "--seq-len"), (["--seq-len", 8001], "multiple of the frame size 200"),
    (["--batch-size", 0], "--batch-size"), (["--valid-frac", 2], "--valid-frac"),
    (["--test-frac", -1], "--test-frac"), (["--valid-frac", 0.6, "--test-frac", 0.5], "expected a sum below 1"),
    (["--test-frac", "nan"], "not a finite number"),
])
def test_blizzard_options_out_of_range_are_one_line(tmp_path, args, fragment):
    one_error_line(invoke(["blizzard", tmp_path, tmp_path / "out", *args]), fragment)


@pytest.mark.parametrize("command", ["sequences", "timit"])
def test_a_negative_seed_is_one_line(tmp_path, command):
    one_error_line(invoke([command, tmp_path, tmp_path / "out.h5", "--seed", -1]), "--seed")


def test_symbolic_links_to_folders_are_followed_and_said(tmp_path, caplog):
    rng = np.random.default_rng(0)
    write_wav(tmp_path / "src" / "a.wav", rng.normal(0, 1000, 2000))
    write_wav(tmp_path / "disk2" / "b.wav", rng.normal(0, 1000, 2000))
    (tmp_path / "src" / "more").symlink_to(tmp_path / "disk2")
    (tmp_path / "src" / "loop").symlink_to(tmp_path / "src")
    with caplog.at_level(logging.WARNING):
        result = invoke(["blizzard", tmp_path / "src", tmp_path / "out", *TINY])
    assert result.exit_code == 0, result.output
    assert "files: 2" in result.output  # both files, the linked one included
    assert "followed 1 symbolic link(s) to folders" in caplog.text and "disk2" in caplog.text
    assert "skipped 1 symbolic link(s)" in caplog.text and "inside the corpus" in caplog.text


def test_a_folder_that_cannot_be_made_is_one_line(tmp_path):
    (tmp_path / "file").write_text("")
    one_error_line(invoke(["sequences", tmp_path, tmp_path / "file" / "out.h5"]), "cannot make the output folder")
