"""Progress while waiting: compile stages with elapsed time, training speed and time left."""
import io
import time
import types

from nips2015_vrnn.models.app.progress import CompileProgress, TrainProgress, format_seconds, frames_per_sequence


def test_compile_progress_prints_plain_lines_with_the_stage_when_not_a_terminal():
    out = io.StringIO()
    with CompileProgress(stream=out, terminal=False, every=0.05) as progress:
        progress.stage("the training function")
        time.sleep(1.3)
    lines = out.getvalue().splitlines()
    assert lines[0] == "compiling the training function ..."
    assert any(line.startswith("still compiling the training function: 1 s") for line in lines[1:]), lines
    assert "\r" not in out.getvalue()
    assert progress.stages[0][0] == "the training function" and progress.stages[0][1] >= 1.3


def test_compile_progress_rewrites_one_line_on_a_terminal_and_clears_it():
    out = io.StringIO()
    with CompileProgress(stream=out, terminal=True) as progress:
        progress.stage("the generator")
        time.sleep(0.7)
    text = out.getvalue()
    assert "\n" not in text
    assert "\rcompiling the generator ... 0 s (total 0 s)" in text
    assert text.endswith("\r\033[K")


def fake_training(batch_seen):
    return types.SimpleNamespace(trainlog=types.SimpleNamespace(batch_seen=batch_seen))


def test_train_progress_shows_speed_frames_and_both_etas():
    progress = TrainProgress(monitoring_freq=50, stream=io.StringIO(), terminal=False)
    progress.attach(fake_training(120), total_updates=400, frames_per_update=640)
    progress._stamps.extend([0.0, 0.5, 1.0, 1.5, 2.0])  # 2 updates/s
    text = progress.text(120, 0, 20, 100, {"nll_upper_bound": 1.5})
    assert text.startswith("update 120/400 (epoch 1, batch 20/100)")
    assert "2.00 updates/s" in text and "1,280 frames/s" in text
    assert "next monitoring in 15 s" in text  # 30 updates to update 150
    assert "end in 2 min 20 s" in text        # 280 updates


def test_train_progress_says_monitoring_at_the_end_when_the_end_comes_first():
    progress = TrainProgress(monitoring_freq=200, stream=io.StringIO(), terminal=False)
    progress.attach(fake_training(20), total_updates=30, frames_per_update=640)
    progress._stamps.extend([0.0, 0.5, 1.0])  # 2 updates/s
    text = progress.text(20, 0, 4, 4, {})
    assert "monitoring and end in 5 s" in text and "next monitoring" not in text  # 10 updates left


def test_train_progress_prints_a_plain_line_at_a_steady_interval():
    out = io.StringIO()
    progress = TrainProgress(monitoring_freq=10, stream=out, terminal=False, every=3600)
    training = fake_training(0)
    progress.attach(training, total_updates=100, frames_per_update=1)
    for done in range(1, 30):
        training.trainlog.batch_seen = done
        progress.update(0, done, 100, {"cost": 1.0})
    assert len(out.getvalue().splitlines()) == 1  # the first line, then nothing for an hour


def test_format_seconds():
    assert [format_seconds(s) for s in (4.4, 65, 3720)] == ["4 s", "1 min 05 s", "1 h 02 min"]


def test_frames_per_sequence_counts_the_mask():
    import numpy as np
    mask = np.array([[1, 1], [1, 1], [1, 0]], dtype=float)
    data = types.SimpleNamespace(num_examples=lambda: 2, slices=lambda a, b: [np.zeros((3, 2, 3)), mask])
    assert frames_per_sequence(data) == 2.5


def test_train_progress_shows_the_kl_term():
    progress = TrainProgress(monitoring_freq=100, frames_per_update=10.0, total_updates=1000)
    progress._stamps.extend([0.0, 1.0])
    text = progress.text(5, 0, 5, 100, {"nll_upper_bound": 1.5, "recon_term": 1.25, "kl_term": 0.25})
    assert text.endswith("nll_upper_bound 1.5, kl_term 0.25")
