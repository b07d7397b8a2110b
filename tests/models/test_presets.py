"""The presets reproduce the legacy scripts' and the paper's settings."""
import pytest

from nips2015_vrnn.models.presets import get_preset, preset_names


def test_blizzard_vrnn_gmm_is_the_paper_setting():
    c = get_preset("blizzard/vrnn_gmm")
    assert (c.x_dim, c.z_dim, c.rnn_dim, c.num_k, c.batch_size, c.lr, c.reset_freq, c.depth) == \
        (200, 200, 4000, 20, 128, 3e-4, 4, 4)
    assert {c.x2s_dim, c.z2s_dim, c.q_z_dim, c.p_z_dim, c.p_x_dim} == {500}
    assert c.cost_norm == "frame_mean"


def test_vrnn_gauss_widens_the_x_side_to_600():
    c = get_preset("blizzard/vrnn_gauss")
    assert (c.x2s_dim, c.p_x_dim, c.z2s_dim, c.q_z_dim, c.p_z_dim, c.output) == (600, 600, 500, 500, 500, "gauss")


def test_rnn_presets_use_width_700():
    for name in ("blizzard/rnn_gmm", "blizzard/rnn_gauss"):
        c = get_preset(name)
        assert (c.family, c.x2s_dim, c.p_x_dim, c.rnn_dim) == ("rnn", 700, 700, 4000)


def test_iamondb_presets_are_the_paper_setting():
    c = get_preset("iamondb/vrnn_gmm")
    assert (c.x_dim, c.z_dim, c.rnn_dim, c.num_k, c.batch_size, c.depth, c.reset_freq) == (3, 50, 1200, 20, 20, 1, 0)
    assert (c.x2s_dim, c.p_x_dim, c.z2s_dim, c.q_z_dim, c.p_z_dim) == (250, 250, 150, 150, 150)
    assert (c.output, c.cost_norm) == ("bigmm", "sequence_sum")


def test_every_family_has_a_preset_per_corpus():
    names = set(preset_names())
    for corpus in ("blizzard", "iamondb"):
        for model in ("vrnn_gmm", "vrnn_gauss", "vrnn_i_gauss", "rnn_gmm", "rnn_gauss", "demo"):
            assert f"{corpus}/{model}" in names


def test_unknown_preset_lists_the_known_ones():
    with pytest.raises(ValueError, match="blizzard/vrnn_gmm"):
        get_preset("blizzard/lstm")


def test_demo_presets_are_the_paper_models_small():
    s, h = get_preset("blizzard/demo"), get_preset("iamondb/demo")
    assert (s.family, s.output, s.prior, s.depth, s.x_dim) == ("vrnn", "gmm", "learned", 1, 200)
    assert (s.sample_output, h.sample_output) == ("mean", "sample")  # speech: the drawn component's mean
    assert (h.family, h.output, h.prior, h.depth, h.x_dim) == ("vrnn", "bigmm", "learned", 1, 3)
    assert (s.cost_norm, s.reset_freq) == (get_preset("blizzard/vrnn_gmm").cost_norm, 4)
