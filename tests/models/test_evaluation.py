"""Table 1 of the paper and the text row vrnn-eval prints."""
from nips2015_vrnn.models import evaluation
from nips2015_vrnn.models.presets import PRESETS


def test_paper_table_covers_every_paper_preset():
    paper = {name for name in PRESETS if not name.endswith("/demo")}
    assert set(evaluation.PAPER_TABLE1) == paper


def test_paper_bound_never_exceeds_the_estimate():
    for row in evaluation.PAPER_TABLE1.values():
        assert row["bound"] <= row["estimate"]


def test_paper_row_is_none_for_a_custom_configuration():
    assert evaluation.paper_row(None) is None
    assert evaluation.paper_row("blizzard/demo") is None


def test_table_row_shows_both_numbers_and_the_paper_beside_them():
    row = evaluation.format_table_row("VRNN-GMM", "IAM-OnDB", 1300.04, 1310.0,
                                      evaluation.paper_row("iamondb/vrnn_gmm"))
    assert ">= 1300.0" in row and "~= 1310.0" in row and "(paper: >= 1384  ~= 1384)" in row
