"""vrnn-table on sweeps of the new corpora (hand-written evaluations, nothing trained): a piano-roll
and a text column, the Bernoulli and categorical rows, the per-step numbers, no paper number."""
import json

from test_table import table_rows

from nips2015_vrnn.models.app.sweepdir import SweepSpec, cell_name, create_sweep
from nips2015_vrnn.models.app.table import collect, markdown

#: (corpus, model, bound, IS estimate, steps): per-sequence nats of a run evaluated on 10 sequences.
EVALS = [("pianoroll", "vrnn-bernoulli", -476.5, -476.2, 426), ("pianoroll", "rnn-bernoulli", -493.5, -493.5, 426),
         ("text", "vrnn-categorical", -297.5, -297.2, 108), ("text", "rnn-categorical", -325.6, -325.6, 108)]


def test_piano_roll_and_text_sweeps_make_their_columns_and_rows(tmp_path):
    for corpus in ("pianoroll", "text"):
        models = tuple(m for c, m, *_ in EVALS if c == corpus)
        create_sweep(tmp_path / corpus, SweepSpec(corpus, False, f"/data/{corpus}.h5", models, (1,)))
    for corpus, model, bound, estimate, steps in EVALS:
        run = tmp_path / corpus / cell_name(model, 1)
        run.mkdir(parents=True, exist_ok=True)
        (run / "eval_test.json").write_text(json.dumps({
            "split": "test", "lower_bound": bound, "loglik_is": estimate, "n_sequences": 1, "n_steps": steps,
            "lower_bound_per_step": bound / steps, "loglik_is_per_step": estimate / steps,
            "preset": f"{corpus}/{model.replace('-', '_')}"}))
    rows = table_rows(markdown(collect([tmp_path / "pianoroll", tmp_path / "text"])))
    assert rows[0] == ["Model", "Piano rolls", "Piano rolls: paper", "Text", "Text: paper"]
    assert [r[0] for r in rows[1:]] == ["VRNN-Bernoulli", "RNN-Bernoulli", "VRNN-Categorical", "RNN-Categorical"]
    assert rows[1][1].startswith("≥ -476.5, ≈ -476.2") and f"per step ≥ {-476.5 / 426:.4f}" in rows[1][1]
    assert f"per step ≥ {-297.5 / 108:.4f}" in rows[3][3] and rows[3][4] == "—" and rows[3][1] == "not in the sweep"
