from nips2015_vrnn.datasets.errors import DataError


def test_data_error_names_file_and_expectation():
    err = DataError("/x/a.wav", "holds no samples; expected a non-empty WAV")
    assert str(err) == "/x/a.wav: holds no samples; expected a non-empty WAV"
    assert err.path == "/x/a.wav"


def test_data_error_is_a_value_error():
    assert issubclass(DataError, ValueError)
