"""DataError: what every reader raises for bad input data, one line naming the file and what was
expected, and a UserError (a ValueError), so the commands print it as one line."""
import numpy as np
import pytest

from cle.errors import UserError
from nips2015_vrnn.datasets.errors import DataError
from nips2015_vrnn.datasets.sequences import load_sources


def test_data_error_names_file_and_expectation():
    err = DataError("/x/a.wav", "holds no samples; expected a non-empty WAV")
    assert str(err) == "/x/a.wav: holds no samples; expected a non-empty WAV"
    assert err.path == "/x/a.wav"


def bad_csv(folder):
    (folder / "a.csv").write_text("x,y\n1,2\n3,oops\n")
    return folder / "a.csv", "row 3, column 2 is 'oops'; expected a number"


def nan_npy(folder):
    np.save(folder / "a.npy", np.array([[1.0, 2.0], [np.nan, 4.0]]))
    return folder / "a.npy", "step 1, dimension 0 is NaN or infinite; expected finite values"


def ragged(folder):
    np.save(folder / "a.npy", np.zeros((3, 2)))
    np.save(folder / "b.npy", np.zeros((3, 5)))
    return folder / "b.npy", "has 5 values per step; expected 2 like a.npy (every sequence needs the same width D)"


@pytest.mark.parametrize("make", [bad_csv, nan_npy, ragged])
def test_a_reader_given_bad_data_raises_a_one_line_data_error_naming_the_file(tmp_path, make):
    path, problem = make(tmp_path)
    with pytest.raises(DataError) as caught:
        load_sources(tmp_path)
    err = caught.value
    assert err.path == str(path) and err.problem == problem
    assert str(err) == f"{path}: {problem}" and "\n" not in str(err)
    assert isinstance(err, UserError) and isinstance(err, ValueError)  # one line from the commands
