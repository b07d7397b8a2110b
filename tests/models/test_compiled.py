"""models.compiled: a model's functions come from the persistent store when it holds them.

A second model of the same configuration (as in a later command) loads its functions instead of
compiling them; what they compute, and the parameters and state they read, are those of the
second model, equal to what a model compiled without the store gives.
"""
import numpy as np
from model_helpers import speech_batches, tiny_config

from cle.backend import Backend
from cle.function_store import STORE_ENV, FunctionStore
from nips2015_vrnn.models import build_model
from nips2015_vrnn.models.compiled import SOURCE_ROOTS, graph_spec, shared_variables

PRESET = "blizzard/vrnn_gmm"
T, B, X = 6, 3, 4


def _model(seed=1, store=None):
    return build_model(tiny_config(PRESET, x_dim=X, z_dim=2, num_k=2, batch_size=B, seed=seed),
                       backend=Backend(floatX="float64", store=store))


def test_a_later_model_loads_its_functions_and_computes_with_its_own_parameters(tmp_path):
    x = speech_batches(1, T, B, X, seed=4)[0]
    store = FunctionStore(tmp_path, source_roots=SOURCE_ROOTS)
    first = _model(store=store)
    assert not first.generate_fn().loaded
    first.monitor_fn()
    assert store.last_event == "compiled" and len(list(tmp_path.glob("*.pkl.gz"))) == 2

    later = _model(store=store)
    later.set_param_values({k: v * 1.5 for k, v in later.get_param_values().items()})
    generated = later.generate(5, 2, seed=7)
    assert later.generate_fn().loaded
    monitored = later.monitor_fn()(x)
    assert later.monitor_fn().loaded

    direct = _model(store=None)
    direct.set_param_values(later.get_param_values())
    np.testing.assert_array_equal(generated, direct.generate(5, 2, seed=7))
    for got, expected in zip(monitored, direct.monitor_fn()(x)):
        np.testing.assert_array_equal(got, expected)
    # The monitor function drew its noise from the later model's generator, as the direct one did.
    assert (later.monitor_rng.get_value().bit_generator.state
            == direct.monitor_rng.get_value().bit_generator.state)


def test_the_graph_spec_holds_what_changes_a_graph_and_nothing_else():
    base = _model()
    same_graph = build_model(tiny_config(PRESET, x_dim=X, z_dim=2, num_k=2, batch_size=B, seed=9,
                                         lr=0.5, epoch=7, monitoring_freq=3), dtype="float64")
    assert graph_spec(same_graph) == graph_spec(base)
    wider = build_model(tiny_config(PRESET, x_dim=X, z_dim=3, num_k=2, batch_size=B), dtype="float64")
    assert graph_spec(wider) != graph_spec(base)
    assert graph_spec(base.static(T, B)) != graph_spec(base)
    assert graph_spec(build_model(tiny_config(PRESET, x_dim=X, z_dim=2, num_k=2, batch_size=B),
                                  dtype="float32")) != graph_spec(base)
    live = shared_variables(base)
    assert set(live) == {f"param:{k}" for k in base.params} | {
        "state:step_count", "state:rnn_tm1", "state:train_rng", "state:monitor_rng"}


#: Run twice in fresh interpreters: a float32 model's training cost in JAX mode, from injected
#: noise, and what the store did. The second process loads what the first stored (PyTensor's JAX
#: linker is then first imported while a stored function is unpickled).
JAX_SCRIPT = """
import json, sys
import numpy as np
sys.path.insert(0, {helpers!r})
from model_helpers import speech_batches, tiny_config
from nips2015_vrnn.models import build_model
from nips2015_vrnn.models.compiled import program_backend
backend = program_backend(mode="jax").start_process()
model = build_model(tiny_config({preset!r}, x_dim={X}, z_dim=2, num_k=2, batch_size={B}),
                    backend=backend).static({T}, {B})
x = speech_batches(1, {T}, {B}, {X}, seed=4)[0].astype("float32")
eps = np.random.default_rng(5).standard_normal(({T}, {B}, 2)).astype("float32")
values = model.monitor_fn(eps_input=True)(x, eps)
print(json.dumps({{"event": backend.store.last_event,
                  "values": [np.asarray(v).astype(float).tolist() for v in values]}}))
"""


def test_a_jax_function_stored_by_one_process_is_loaded_by_the_next_with_the_same_values(tmp_path):
    import json
    import os
    import subprocess
    import sys
    from pathlib import Path

    script = JAX_SCRIPT.format(helpers=str(Path(__file__).parent), preset=PRESET, T=T, B=B, X=X)
    env = {**os.environ, STORE_ENV: str(tmp_path / "store")}
    env.pop("VRNN_MODE", None)
    runs = []
    for _ in range(2):
        result = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                                text=True, cwd=tmp_path, timeout=600)
        assert result.returncode == 0, result.stderr
        runs.append(json.loads(result.stdout.strip().splitlines()[-1]))
    assert [r["event"] for r in runs] == ["compiled", "loaded"]
    assert runs[1]["values"] == runs[0]["values"]
    assert any((tmp_path / "store" / "xla").iterdir()), "XLA's programs are kept beside the store"
