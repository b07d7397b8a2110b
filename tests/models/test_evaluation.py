"""Table 1 of the paper, the text row vrnn-eval prints, and evaluate_run on a fake run and model."""
import contextlib
import types

import numpy as np
import pytest

from cle.backend import Backend
from nips2015_vrnn.models.app import evaluation
from nips2015_vrnn.models.presets import PAPER_CORPORA, PRESETS


def test_paper_table_covers_every_paper_preset():
    paper = {name for name in PRESETS if not name.endswith("/demo") and name.split("/")[0] in PAPER_CORPORA}
    assert set(evaluation.PAPER_TABLE1) == paper


class FakeSplit:
    """A handwriting split of N sequences: ``slices(start, end)`` gives (x (T, n, 2), mask (T, n))."""

    def __init__(self, n, seed=0):
        rng = np.random.default_rng(seed)
        self.x = rng.normal(size=(4, n, 2))
        self.mask = (np.arange(4)[:, None] < rng.integers(1, 5, size=n)).astype(float)

    def num_examples(self):
        return self.x.shape[1]

    def slices(self, start, end):
        return self.x[:, start:end], self.mask[:, start:end]


class FakeRun:
    corpus = "iamondb"
    record = {"preset": "iamondb/vrnn_gmm"}

    def __init__(self, split):
        self.split, self.opened = split, []

    @contextlib.contextmanager
    def open_split(self, name):
        self.opened.append(name)
        yield self.split


class FakeModel:
    """Per-sequence bound = -(masked sum of x); estimate = bound + n_samples; records the calls."""

    def __init__(self, m_batch_size):
        self.config = types.SimpleNamespace(m_batch_size=m_batch_size, model_name="VRNN-GMM")
        self.backend = Backend()  # the C mode: one function for every shape
        self.calls = []

    def lower_bound(self, x, mask, seed):
        self.calls.append(("bound", x.shape[1], seed))
        return -(x.sum(axis=2) * mask).sum(axis=0)

    def importance_sampled_loglik(self, x, mask, n_samples, seed):
        self.calls.append(("is", x.shape[1], seed))
        return -(x.sum(axis=2) * mask).sum(axis=0) + n_samples

    def fivo_loglik(self, x, mask, n_particles, seed, resample):
        self.calls.append(("fivo", x.shape[1], seed))
        return -(x.sum(axis=2) * mask).sum(axis=0) + n_particles / 2


def test_evaluate_run_averages_every_sequence_over_chunks():
    split = FakeSplit(5)
    run, model, progress = FakeRun(split), FakeModel(m_batch_size=2), []
    result = evaluation.evaluate_run(run, model, split="valid", n_samples=7, seed=10,
                                     progress=lambda done, total: progress.append((done, total)))
    per_seq = -(split.x.sum(axis=2) * split.mask).sum(axis=0)
    assert run.opened == ["valid"]
    # No FIVO unless asked for: its particle graph is neither compiled nor run.
    assert model.calls == [("bound", 2, 10), ("is", 2, 10), ("bound", 2, 12), ("is", 2, 12),
                           ("bound", 1, 14), ("is", 1, 14)]
    assert "fivo" not in result and result["particles"] is None and result["resample"] is None
    assert progress == [(2, 5), (4, 5), (5, 5)]
    assert result["n_sequences"] == 5 and result["n_samples"] == 7 and result["split"] == "valid"
    np.testing.assert_allclose(result["lower_bound"], per_seq.mean(), rtol=1e-12)
    np.testing.assert_allclose(result["loglik_is"], per_seq.mean() + 7, rtol=1e-12)
    np.testing.assert_allclose(result["lower_bound_sem"], per_seq.std(ddof=1) / np.sqrt(5), rtol=1e-12)
    assert result["paper"] == evaluation.paper_row("iamondb/vrnn_gmm")


def test_evaluate_run_gives_nats_per_unmasked_time_step():
    split = FakeSplit(5)
    result = evaluation.evaluate_run(FakeRun(split), FakeModel(m_batch_size=2), n_samples=7)
    per_seq = -(split.x.sum(axis=2) * split.mask).sum(axis=0)
    assert result["n_steps"] == split.mask.sum() and result["per_sequence"]["steps"] == split.mask.sum(0).tolist()
    np.testing.assert_allclose(result["lower_bound_per_step"], per_seq.sum() / split.mask.sum(), rtol=1e-12)
    np.testing.assert_allclose(result["loglik_is_per_step"], (per_seq + 7).sum() / split.mask.sum(), rtol=1e-12)
    assert evaluation.format_per_step(result).startswith("per time step: >= ")


def test_evaluate_run_limit_takes_the_first_sequences():
    split = FakeSplit(5)
    result = evaluation.evaluate_run(FakeRun(split), FakeModel(m_batch_size=2), limit=3)
    per_seq = -(split.x.sum(axis=2) * split.mask).sum(axis=0)[:3]
    assert result["n_sequences"] == 3
    np.testing.assert_allclose(result["lower_bound"], per_seq.mean(), rtol=1e-12)


def test_evaluate_run_gives_every_bound_per_sequence_and_per_step():
    split = FakeSplit(5)
    model = FakeModel(m_batch_size=2)
    result = evaluation.evaluate_run(FakeRun(split), model, n_samples=8, seed=3, particles=6)
    assert [call for call in model.calls if call[0] == "fivo"] == [("fivo", 2, 3), ("fivo", 2, 5), ("fivo", 1, 7)]
    per_seq = -(split.x.sum(axis=2) * split.mask).sum(axis=0)
    for key, shift in (("elbo", 0), ("iwae", 8), ("fivo", 3)):  # the fake's FIVO: bound + K / 2
        np.testing.assert_allclose(result["per_sequence"][key], per_seq + shift, rtol=1e-12)
        np.testing.assert_allclose(result[key], (per_seq + shift).mean(), rtol=1e-12)
        np.testing.assert_allclose(result[f"{key}_per_step"], (per_seq + shift).sum() / split.mask.sum(),
                                   rtol=1e-12)
    assert result["elbo"] == result["lower_bound"] and result["iwae"] == result["loglik_is"]
    assert result["particles"] == 6 and result["resample"] == "ess" and "fivo" in evaluation.format_per_step(result)


def test_evaluate_run_passes_the_resampling_scheme_to_fivo():
    model = FakeModel(m_batch_size=2)
    seen = []
    model.fivo_loglik = lambda x, mask, n_particles, seed, resample: seen.append((n_particles, resample)) or \
        np.zeros(x.shape[1])
    result = evaluation.evaluate_run(FakeRun(FakeSplit(3)), model, n_samples=2, particles=5, resample="never")
    assert seen == [(5, "never"), (5, "never")] and result["resample"] == "never" and result["fivo"] == 0.0


@pytest.mark.parametrize("kwargs", [dict(split="bogus"), dict(n_samples=0), dict(limit=0), dict(particles=0),
                                    dict(particles=2.5), dict(particles=2, resample="sometimes")])
def test_evaluate_run_refuses_bad_settings(kwargs):
    with pytest.raises(ValueError):
        evaluation.evaluate_run(FakeRun(FakeSplit(2)), FakeModel(2), **kwargs)


def test_paper_row_is_none_for_a_custom_configuration():
    assert evaluation.paper_row(None) is None
    assert evaluation.paper_row("blizzard/demo") is None


def test_table_row_shows_both_numbers_and_the_paper_beside_them():
    row = evaluation.format_table_row("VRNN-GMM", "IAM-OnDB", 1300.04, 1310.0,
                                      evaluation.paper_row("iamondb/vrnn_gmm"))
    assert ">= 1300.0" in row and "~= 1310.0" in row and "(paper: >= 1384  ~= 1384)" in row


def test_timit_rows_show_the_paper_bounds_and_no_unchecked_estimate():
    assert evaluation.paper_row("timit/rnn_gauss") == {"bound": -1900, "estimate": -1900}
    row = evaluation.format_table_row("VRNN-GMM", "TIMIT", 1.0, 2.0, evaluation.paper_row("timit/vrnn_gmm"))
    assert row.endswith("(paper: >= 28982  ~= n/a)")
    assert evaluation.CORPUS_TITLES["timit"] == "TIMIT"
