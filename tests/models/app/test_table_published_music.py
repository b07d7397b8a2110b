"""vrnn-table's published piano-roll numbers: RNN-NADE's and STORN's log-likelihood per time step on
the four corpora of Boulanger-Lewandowski et al. (2012), written here from the source (Krishnan,
Shalit & Sontag 2017, AAAI, Tables 4 and 3, negative log-likelihoods), not read from the code; shown
after a table with a piano-roll column or when the corpus is named."""
import json

from cli_helpers import invoke

from nips2015_vrnn.models.app import cli
from nips2015_vrnn.models.app.sweepdir import SweepSpec, cell_name, create_sweep
from nips2015_vrnn.models.app.table import collect, markdown

#: Krishnan et al. (2017) Table 4, RNN-NADE (Boulanger-Lewandowski et al. 2012): NLL 5.19, 2.31, 7.05, 5.60
#: (JSB, Nottingham, Piano, MuseData) -> log-likelihood per time step.
RNN_NADE = {"JSB Chorales": "-5.19", "Nottingham": "-2.31", "MuseData": "-5.60", "Piano-midi.de": "-7.05"}
#: Krishnan et al. (2017) Table 3, STORN (Bayer & Osendorfer 2014): NLL 6.91, 2.85, 7.13, 6.16.
STORN = {"JSB Chorales": "-6.91", "Nottingham": "-2.85", "MuseData": "-6.16", "Piano-midi.de": "-7.13"}


def _sweep(tmp_path, corpus, model, bound, estimate, steps):
    create_sweep(tmp_path / corpus, SweepSpec(corpus, False, f"/data/{corpus}.h5", (model,), (1,)))
    run = tmp_path / corpus / cell_name(model, 1)
    run.mkdir(parents=True)
    (run / "eval_test.json").write_text(json.dumps({
        "split": "test", "lower_bound": bound, "loglik_is": estimate, "n_sequences": 1, "n_steps": steps,
        "lower_bound_per_step": bound / steps, "loglik_is_per_step": estimate / steps, "preset": None}))
    return tmp_path / corpus


def test_a_piano_roll_table_lists_rnn_nade_on_every_corpus_with_its_source(tmp_path):
    text = markdown(collect([_sweep(tmp_path, "pianoroll", "vrnn-bernoulli", -476.5, -476.2, 426)]))
    for model, values, source in (("RNN-NADE", RNN_NADE, "Boulanger-Lewandowski"), ("STORN", STORN, "Bayer")):
        line = next(line for line in text.splitlines() if line.startswith(f"- {model}:"))
        for corpus, value in values.items():
            assert f"{corpus} {value}" in line
        assert source in line and "Krishnan" in line


def test_the_named_corpus_sets_our_runs_beside_its_published_number(tmp_path):
    text = markdown(collect([_sweep(tmp_path, "pianoroll", "vrnn-bernoulli", -476.5, -476.2, 426)]), "nottingham")
    lines = text.splitlines()
    assert any(line.startswith("- RNN-NADE: -2.31 (Boulanger-Lewandowski") for line in lines)
    assert any(line.startswith("- STORN: -2.85 (Bayer") for line in lines)
    ours = [line for line in lines if line.startswith("- ours, VRNN-Bernoulli (Piano rolls)")]
    assert ours == [f"- ours, VRNN-Bernoulli (Piano rolls): ≥ {-476.5 / 426:.4f}, ≈ {-476.2 / 426:.4f}"]
    assert "-5.19" not in text  # only Nottingham's


def test_no_music_numbers_beside_a_table_without_piano_rolls(tmp_path):
    text = markdown(collect([_sweep(tmp_path, "text", "vrnn-categorical", -297.5, -297.2, 108)]))
    assert "RNN-NADE" not in text


def test_vrnn_table_prints_them_for_the_corpus_asked(tmp_path):
    sweep = _sweep(tmp_path, "text", "vrnn-categorical", -297.5, -297.2, 108)
    result = invoke(cli.table, [sweep, "--out", tmp_path / "out", "--pianoroll-corpus", "musedata"])
    assert result.exit_code == 0, result.output
    assert "- RNN-NADE: -5.60 (" in result.output and "- STORN: -6.16 (" in result.output
    assert "- RNN-NADE: -5.60 (" in (tmp_path / "out" / "table1.md").read_text()
