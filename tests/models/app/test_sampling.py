"""Writing generated sequences: WAV de-normalisation and the hand-written SVG of pen strokes."""
import re
import wave

import numpy as np
import pytest

from nips2015_vrnn.models.app import sampling as sampling_io


def polylines(svg):
    """[(n points) per polyline] parsed from the SVG text."""
    return [len(m.split()) for m in re.findall(r'<polyline points="([^"]*)"', svg)]


def test_write_wav_writes_mono_16bit_at_16khz(tmp_path):
    sampling_io.write_wav(tmp_path / "a.wav", np.arange(10, dtype=np.int16))
    with wave.open(str(tmp_path / "a.wav")) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth(), w.getnframes()) == (16000, 1, 2, 10)


def test_svg_draws_one_polyline_per_stroke_and_no_pen_up_moves():
    strokes = [np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0]]), np.array([[5.0, 0.0], [6.0, 0.0]])]
    svg = sampling_io.strokes_svg(strokes)
    assert polylines(svg) == [3, 2]


def test_svg_flips_y_so_up_is_up():
    svg = sampling_io.strokes_svg([np.array([[0.0, 0.0], [0.0, 1.0]])])
    points = re.search(r'points="([^"]*)"', svg).group(1).split()
    y_low, y_high = (float(p.split(",")[1]) for p in points)
    assert y_high < y_low       # the higher point is nearer the top of the picture


def test_svg_scales_the_longer_side_to_svg_size():
    svg = sampling_io.strokes_svg([np.array([[0.0, 0.0], [2.0, 1.0]])])
    width = float(re.search(r'width="([0-9.]+)"', svg).group(1))
    height = float(re.search(r'height="([0-9.]+)"', svg).group(1))
    assert width == pytest.approx(sampling_io.SVG_SIZE + 2 * sampling_io.SVG_MARGIN)
    assert height == pytest.approx(sampling_io.SVG_SIZE / 2 + 2 * sampling_io.SVG_MARGIN)


def test_svg_of_no_strokes_is_an_empty_picture():
    assert polylines(sampling_io.strokes_svg([])) == []


def test_default_steps_are_half_a_second_of_speech():
    assert sampling_io.default_steps("speech") == 40
    assert sampling_io.default_steps("handwriting") == sampling_io.HANDWRITING_STEPS
