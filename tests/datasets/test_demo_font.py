import numpy as np

from nips2015_vrnn.datasets.demo import WORDS
from nips2015_vrnn.datasets.demo_font import GLYPHS, LETTER_GAP, POINT_SPACING, render_line

UPRIGHT = {"slant": 0.0, "size": 1.0, "spacing": 1.0, "jitter": 0.0, "wave": 0.0}


def test_font_draws_every_demo_word():
    assert set("".join(WORDS)) <= set(GLYPHS)


def test_l_is_one_vertical_stroke_of_ascender_height():
    (stroke,) = render_line("l", UPRIGHT, np.random.default_rng(0))
    np.testing.assert_allclose(stroke[:, 0], 0.1)
    assert stroke[0, 1] == 2.0 and stroke[-1, 1] == 0.0


def test_slant_shears_x_by_height():
    slanted = dict(UPRIGHT, slant=0.5)
    (stroke,) = render_line("l", slanted, np.random.default_rng(0))
    np.testing.assert_allclose(stroke[:, 0], 0.1 + 0.5 * stroke[:, 1])


def test_size_scales_every_point():
    a = render_line("ab", UPRIGHT, np.random.default_rng(0))
    b = render_line("ab", dict(UPRIGHT, size=2.0), np.random.default_rng(0))
    for s, t in zip(a, b):
        np.testing.assert_allclose(t, 2.0 * s)


def test_a_cursive_writer_joins_the_letters_of_a_word_into_one_stroke():
    cursive = dict(UPRIGHT, joining=1.0)
    # 'n' is two strokes; the second n's first stroke continues the first n's last one.
    assert len(render_line("nn", cursive, np.random.default_rng(0))) == 3
    assert len(render_line("n n", cursive, np.random.default_rng(0))) == 4   # not across words
    assert len(render_line("nn", UPRIGHT, np.random.default_rng(0))) == 4    # default: no joining


def test_a_joined_stroke_moves_at_the_pen_speed_across_the_link():
    joined, _ = render_line("ln", dict(UPRIGHT, joining=1.0), np.random.default_rng(0))
    assert joined[0, 0] == 0.1 and np.isclose(joined[-1, 0], 0.3 + LETTER_GAP)  # the l, then the n
    steps = np.hypot(*np.diff(joined, axis=0).T)
    assert steps.max() <= 1.25 * POINT_SPACING + 1e-9
