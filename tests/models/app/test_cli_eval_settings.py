"""vrnn-eval's FIVO settings refused before anything loads: one line naming the option and value."""
import pytest
from cli_helpers import assert_one_line_error, invoke

from nips2015_vrnn.models.app import cli


@pytest.mark.parametrize("args, fragments", [
    (["--particles", 0], ["--particles", ">= 1", "0"]),
    (["--particles", -3, "--resample", "ess"], ["--particles", "-3"]),
    (["--samples", 40, "--resample", "sometimes"], ["--resample", "ess, always, never", "sometimes"]),
    (["--particles", 4, "--resample", "ESS"], ["--resample", "ESS"]),
])
def test_bad_fivo_settings_are_one_line_errors_before_the_run_is_read(tmp_path, args, fragments):
    # The run folder does not exist: the settings are checked first, so the error names them.
    result = invoke(cli.evaluate, [tmp_path / "no_run", *args])
    assert_one_line_error(result, *fragments)
