"""A legacy-style training script, as a user ports one: the legacy Blizzard VRNN-GMM wiring
(``legacy_wiring``), TBPTT carry, ``Training`` with GradientClipping -> Adam -> WeightNorm, graphs of
dynamic shape, and no compile mode or precision chosen anywhere (PyTensor's float64, as
``THEANO_FLAGS=floatX=float64`` gave the legacy code).

Run as a program (``python tests/legacy_training_script.py``), it takes the three golden training
steps of ``tests/golden/blizzard_vrnn_gmm_train_steps.npz`` and prints, as JSON, the worst relative
error of the parameters, Adam moments, returned cost and carried state after each, and the
compile mode the training function ran in. Not a test module: ``test_legacy_script.py`` runs it in
a process of its own.
"""
import json
import sys
from pathlib import Path


def main():
    sys.path.insert(0, str(Path(__file__).parent))
    import numpy as np
    import pytensor
    import pytensor.tensor as pt
    from golden_data import load_golden
    from legacy_wiring import build_legacy_vrnn_gmm
    from numerics import rel_err

    from cle.models import Model
    from cle.train import Training
    from cle.train.ext import EpochCount, GradientClipping, WeightNorm
    from cle.train.opt import Adam

    golden = load_golden("blizzard_vrnn_gmm_train_steps")
    dims = dict(x_dim=8, z_dim=4, rnn_dim=6, q_z_dim=5, p_z_dim=5, p_x_dim=5, x2s_dim=5, z2s_dim=5, k=3)
    names = [str(n) for n in golden["param_names"]]
    x, eps = pt.tensor3("x"), pt.tensor3("eps")
    batch = golden["x"].shape[2]
    step_count = pytensor.shared(np.int64(0), name="step_count")
    rnn_tm1 = pytensor.shared(np.zeros((batch, 2 * dims["rnn_dim"])), name="rnn_tm1")
    s_0 = pt.switch(pt.eq(step_count % 4, 0), pt.zeros_like(rnn_tm1), rnn_tm1)
    results, params = build_legacy_vrnn_gmm(dims, x, eps, s_0=s_0,
                                            params={n: golden[f"param0__{n}"] for n in names})
    cost = results["nll_upper_bound"]
    cost.name = "nll_upper_bound"
    model = Model(inputs=[x, eps], params=params)
    model.set_updates([(step_count, step_count + 1), (rnn_tm1, results["s"][-1])])
    training = Training("legacy", None, model, Adam(lr=float(golden["lr"])), cost, [cost],
                        extension=[GradientClipping(batch_size=int(golden["batch_size"]), check_nan=1),
                                   EpochCount(1), WeightNorm()])
    report = {"linker": type(training._train_fn.maker.linker).__name__,
              "jax_imported": "jax" in sys.modules, "steps": []}
    for i in range(3):
        returned = training.cost_fn(golden["x"][i], golden["eps"][i])
        state = training.optimizer.state
        errors = [rel_err(params[n].get_value(), golden[f"step{i}_param__{n}"]) for n in names]
        errors += [rel_err(state[f"adam_m__{n}"].get_value(), golden[f"step{i}_adam_m__{n}"]) for n in names]
        errors += [rel_err(state[f"adam_v__{n}"].get_value(), golden[f"step{i}_adam_v__{n}"]) for n in names]
        errors += [rel_err(returned[0], golden[f"step{i}_returned_cost"]),
                   rel_err(rnn_tm1.get_value(), golden[f"step{i}_rnn_tm1"])]
        report["steps"].append(max(errors))
    print(json.dumps(report))


if __name__ == "__main__":
    main()
