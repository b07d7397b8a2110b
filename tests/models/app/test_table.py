"""vrnn-table from hand-written sweeps: the layout of Table 1, its numbers (mean ± std over
seeds against numpy), the paper's numbers only beside paper presets, unfinished cells named, and
the CSV / PNG files. Nothing is trained or compiled here."""
import csv
import importlib.util
import json

import numpy as np
import pytest
from click.testing import CliRunner

from nips2015_vrnn.models.app import cli
from nips2015_vrnn.models.app.sweepdir import SweepError, SweepSpec, cell_name, create_sweep, write_json
from nips2015_vrnn.models.app.table import collect, format_stat, markdown

needs_matplotlib = pytest.mark.skipif(importlib.util.find_spec("matplotlib") is None,
                                      reason="matplotlib (the 'plot' extra) is not installed")

#: Blizzard sweep at the paper's presets: VRNN-GMM 3 seeds evaluated, RNN-Gauss seed 3 interrupted.
BLIZZARD_GMM = {1: (9000.0, 9300.0), 2: (9010.0, 9310.0), 3: (9026.0, 9290.0)}
BLIZZARD_RNN = {1: (3500.0, 3500.0), 2: (3520.0, 3520.0)}
#: IAM-OnDB sweep of a custom size: VRNN-GMM seed 1 only; RNN-Gauss seed 1 failed.
IAM_GMM = {1: (1200.5, 1210.25)}


def write_eval(sweep, model, seed, bound, estimate, preset, name="eval_test.json"):
    run = sweep / cell_name(model, seed)
    run.mkdir(parents=True, exist_ok=True)
    (run / name).write_text(json.dumps({"split": "test", "lower_bound": bound, "loglik_is": estimate,
                                        "preset": preset, "n_sequences": 10}))


@pytest.fixture
def sweeps(tmp_path):
    blizzard = tmp_path / "blizzard"
    create_sweep(blizzard, SweepSpec("blizzard", False, "/data/blizzard.h5", ("vrnn-gmm", "rnn-gauss"), (1, 2, 3)))
    for seed, (bound, estimate) in BLIZZARD_GMM.items():
        # seed 3 under the name with the checkpoint (eval_<split>_<checkpoint>.json)
        write_eval(blizzard, "vrnn-gmm", seed, bound, estimate, "blizzard/vrnn_gmm",
                   name="eval_test_best.json" if seed == 3 else "eval_test.json")
    for seed, (bound, estimate) in BLIZZARD_RNN.items():
        write_eval(blizzard, "rnn-gauss", seed, bound, estimate, "blizzard/rnn_gauss")
    (blizzard / cell_name("rnn-gauss", 3) / "checkpoints" / "last").mkdir(parents=True)

    iam = tmp_path / "iamondb"
    create_sweep(iam, SweepSpec("iamondb", False, "/data/iamondb.h5", ("rnn-gauss", "vrnn-gmm"), (1,),
                                sets=("rnn_dim=8",)))
    write_eval(iam, "vrnn-gmm", 1, *IAM_GMM[1], None)
    write_json(iam / "status.json", {"rnn-gauss-seed1": {"state": "failed", "error": "vrnn-train killed by SIGKILL"}})
    return blizzard, iam


def table_rows(text):
    """The Markdown table as lists of cells (header first, separator dropped)."""
    rows = [[c.strip() for c in line.strip().strip("|").split("|")] for line in text.splitlines()
            if line.startswith("|")]
    return [rows[0]] + rows[2:]


def test_rows_are_models_in_paper_table_order_and_columns_are_corpora_with_the_paper_beside(sweeps):
    rows = table_rows(markdown(collect(list(sweeps))))
    assert rows[0] == ["Model", "Blizzard", "Blizzard: paper", "IAM-OnDB", "IAM-OnDB: paper"]
    assert [row[0] for row in rows[1:]] == ["VRNN-GMM", "RNN-Gauss"]


def test_cells_are_mean_and_sample_std_over_seeds(sweeps):
    rows = table_rows(markdown(collect(list(sweeps))))
    bounds, estimates = np.array(list(BLIZZARD_GMM.values())).T
    expected = (f"≥ {bounds.mean():.1f} ± {bounds.std(ddof=1):.1f}, "
                f"≈ {estimates.mean():.1f} ± {estimates.std(ddof=1):.1f} (3/3 seeds)")
    assert rows[1][1] == expected
    assert rows[1][1] == "≥ 9012.0 ± 13.1, ≈ 9300.0 ± 10.0 (3/3 seeds)"


def test_the_paper_number_stands_beside_paper_presets_only(sweeps):
    rows = table_rows(markdown(collect(list(sweeps))))
    assert rows[1][2] == "≥ 9107, ≈ 9392"       # Blizzard VRNN-GMM at the paper's preset
    assert rows[2][2] == "≥ 3539, ≈ 3539"       # Blizzard RNN-Gauss (exact log-likelihood)
    assert rows[1][3] == "≥ 1200.5, ≈ 1210.2"   # IAM-OnDB VRNN-GMM, one seed, custom size
    assert rows[1][4] == "—"


def test_unfinished_and_missing_cells_are_named_with_their_state(sweeps):
    text = markdown(collect(list(sweeps)))
    rows = table_rows(text)
    assert rows[2][1] == "≥ 3510.0 ± 14.1, ≈ 3510.0 ± 14.1 (2/3 seeds)"
    assert rows[2][3] == "missing"
    assert "- Blizzard RNN-Gauss, seed 3: interrupted" in text
    assert "- IAM-OnDB RNN-Gauss, seed 1: failed: vrnn-train killed by SIGKILL" in text


def test_csv_holds_one_row_per_cell_with_the_numbers(sweeps, tmp_path):
    result = CliRunner().invoke(cli.table, [str(p) for p in sweeps] + ["--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    with open(tmp_path / "out" / "table1.csv", newline="") as handle:
        rows = {(r["corpus"], r["model"]): r for r in csv.DictReader(handle)}
    assert list(rows) == [("Blizzard", "VRNN-GMM"), ("Blizzard", "RNN-Gauss"), ("IAM-OnDB", "VRNN-GMM"),
                          ("IAM-OnDB", "RNN-Gauss")]
    gmm = rows[("Blizzard", "VRNN-GMM")]
    bounds = np.array([b for b, _ in BLIZZARD_GMM.values()])
    assert float(gmm["bound_mean"]) == pytest.approx(bounds.mean(), rel=1e-12)
    assert float(gmm["bound_std"]) == pytest.approx(bounds.std(ddof=1), rel=1e-12)
    assert (gmm["paper_bound"], gmm["paper_is"], gmm["seeds_evaluated"], gmm["seeds"]) == ("9107", "9392", "3", "3")
    assert rows[("Blizzard", "RNN-Gauss")]["unfinished"] == "seed 3: interrupted"
    assert rows[("IAM-OnDB", "VRNN-GMM")]["paper_bound"] == ""
    assert rows[("IAM-OnDB", "RNN-Gauss")]["seeds_evaluated"] == "0"
    assert (tmp_path / "out" / "table1.md").read_text() in result.output


@needs_matplotlib
def test_the_bar_chart_is_a_png(sweeps, tmp_path):
    result = CliRunner().invoke(cli.table, [str(sweeps[0]), "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "table1.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_sweeps_of_one_corpus_and_settings_share_a_column(tmp_path):
    spec = SweepSpec("iamondb", False, "/d.h5", ("vrnn-gmm",), (1,))
    create_sweep(tmp_path / "a", spec)
    create_sweep(tmp_path / "b", SweepSpec(**{**spec.__dict__, "seeds": (2,)}))
    write_eval(tmp_path / "a", "vrnn-gmm", 1, 1.0, 2.0, None)
    write_eval(tmp_path / "b", "vrnn-gmm", 2, 3.0, 4.0, None)
    table = collect([tmp_path / "a", tmp_path / "b"])
    assert table.columns == ["IAM-OnDB"]
    assert table.cell("IAM-OnDB", "vrnn-gmm").bounds == [1.0, 3.0]


def test_sweeps_of_one_corpus_with_other_settings_are_refused(tmp_path):
    create_sweep(tmp_path / "a", SweepSpec("iamondb", False, "/d.h5", ("vrnn-gmm",), (1,)))
    create_sweep(tmp_path / "b", SweepSpec("iamondb", False, "/d.h5", ("vrnn-gmm",), (2,), max_updates=5))
    with pytest.raises(SweepError, match="different settings"):
        collect([tmp_path / "a", tmp_path / "b"])


def test_a_folder_without_sweep_is_a_one_line_error(tmp_path):
    result = CliRunner().invoke(cli.table, [str(tmp_path)])
    assert result.exit_code == 1
    assert result.output.startswith("Error: ") and "sweep.json" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_format_stat_of_nothing_is_a_dash():
    assert format_stat([]) == "—"


def test_a_cell_is_the_sweeps_evaluation_and_other_evaluations_stand_beside_it(tmp_path):
    """A hand-made ``vrnn-eval --checkpoint last --samples 1 --limit 2`` after the sweep's own
    evaluation changes no number of the table; it is listed beside it, with what differs."""
    import os

    from nips2015_vrnn.models.app.sweepdir import cell_state

    spec = SweepSpec("blizzard", False, "/data/blizzard.h5", ("vrnn-gmm",), (1, 2))
    sweep = tmp_path / "sweep"
    create_sweep(sweep, spec)
    protocol = {"checkpoint": "best", "n_samples": 40, "seed": 0, "limit": None}
    for seed, bound in ((1, -11369.6), (2, -11369.6)):
        run = sweep / cell_name("vrnn-gmm", seed)
        run.mkdir()
        (run / "eval_test_best.json").write_text(json.dumps({**protocol, "lower_bound": bound,
                                                             "loglik_is": bound + 1}))
    hand_made = sweep / cell_name("vrnn-gmm", 1) / "eval_test_last.json"
    hand_made.write_text(json.dumps({"checkpoint": "last", "n_samples": 1, "seed": 0, "limit": 2,
                                     "lower_bound": -9792.0, "loglik_is": -9791.0}))
    os.utime(hand_made, (2e9, 2e9))  # the newest file of the run
    # and over the sweep's own file of seed 2, another sample count (vrnn-eval --force --samples 1)
    forced = sweep / cell_name("vrnn-gmm", 2) / "eval_test_best.json"
    forced.write_text(json.dumps({**protocol, "n_samples": 1, "lower_bound": -10000.0, "loglik_is": -9999.0}))
    table = collect([sweep])
    cell = table.cell("Blizzard", "vrnn-gmm")
    assert cell.bounds == [-11369.6]                  # seed 1: the sweep's; seed 2: not evaluated by it
    assert cell_state(sweep, spec, "vrnn-gmm", 2) != "done"
    text = markdown(table)
    assert "-9792.0" in text and "checkpoint last (the sweep: best)" in text and "limit 2 (the sweep: None)" in text
    assert "seed 2, eval_test_best.json: ≥ -10000.0" in text and "n_samples 1 (the sweep: 40)" in text
    assert "checkpoint best, 40 importance samples, seed 0, all test sequences" in text


def test_cells_and_csv_give_nats_per_time_step_where_the_evaluation_has_them(sweeps, tmp_path):
    run = sweeps[1] / cell_name("vrnn-gmm", 1)
    result = json.loads((run / "eval_test.json").read_text())
    result.update(lower_bound_per_step=1.25, loglik_is_per_step=1.5, n_steps=960)
    (run / "eval_test.json").write_text(json.dumps(result))
    table = collect(sweeps)
    assert "per step ≥ 1.2500, ≈ 1.5000" in markdown(table)
    result = CliRunner().invoke(cli.table, [str(p) for p in sweeps] + ["--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    with open(tmp_path / "out" / "table1.csv", newline="") as handle:
        rows = {(r["corpus"], r["model"]): r for r in csv.DictReader(handle)}
    assert float(rows[("IAM-OnDB", "VRNN-GMM")]["bound_per_step_mean"]) == 1.25
    assert rows[("Blizzard", "VRNN-GMM")]["is_per_step_mean"] == ""


def test_cells_and_csv_give_fivo_beside_the_other_bounds_where_evaluated(sweeps, tmp_path):
    run = sweeps[1] / cell_name("vrnn-gmm", 1)
    result = json.loads((run / "eval_test.json").read_text())
    result.update(lower_bound_per_step=1.25, loglik_is_per_step=1.5, n_steps=960, fivo=-5.25, fivo_per_step=1.75)
    (run / "eval_test.json").write_text(json.dumps(result))
    table = collect(sweeps)
    assert table.cell("IAM-OnDB", "vrnn-gmm").fivos == ((-5.25, 1.75),)
    assert table.cell("Blizzard", "vrnn-gmm").fivos == ()
    text = markdown(table)
    assert "FIVO -5.2" in text and "per step ≥ 1.2500, ≈ 1.5000, FIVO 1.7500" in text
    result = CliRunner().invoke(cli.table, [str(p) for p in sweeps] + ["--out", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    with open(tmp_path / "out" / "table1.csv", newline="") as handle:
        rows = {(r["corpus"], r["model"]): r for r in csv.DictReader(handle)}
    assert float(rows[("IAM-OnDB", "VRNN-GMM")]["fivo_mean"]) == -5.25
    assert float(rows[("IAM-OnDB", "VRNN-GMM")]["fivo_per_step_mean"]) == 1.75
    assert rows[("Blizzard", "VRNN-GMM")]["fivo_mean"] == ""


def test_a_full_disk_while_writing_the_table_is_one_line_and_leaves_no_temporary(sweeps, tmp_path, monkeypatch):
    import errno
    import pathlib

    def full(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device", str(self))
    monkeypatch.setattr(pathlib.Path, "write_text", full)
    out = tmp_path / "tables"
    result = CliRunner().invoke(cli.table, [str(sweeps[0]), "--out", str(out)])
    monkeypatch.undo()
    assert result.exit_code == 1 and "Traceback" not in result.output, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "No space left on device" in errors[0]
    assert list(out.iterdir()) == []
