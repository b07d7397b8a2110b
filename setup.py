"""Installs ``cle`` and the NIPS 2015 VRNN scripts as ``nips2015_vrnn.models`` / ``nips2015_vrnn.datasets``.

The top-level folders ``models/`` and ``datasets/`` are mapped under the ``nips2015_vrnn``
namespace so the generic names ``models`` and ``datasets`` are never claimed.
"""
from setuptools import find_packages, setup

cle_packages = find_packages(include=["cle", "cle.*"])
JAX = ["jax[cpu]>=0.10,<0.11"]
CLUSTER = ["distributed"]
TENSORBOARD = ["tensorboardX>=2.6"]
# MLflow's tracking client without its server and UI, and the SQLite store a run logs into when
# no MLFLOW_TRACKING_URI is set (MLflow 3 refuses its file store by default)
MLFLOW = ["mlflow-skinny>=3", "sqlalchemy>=2", "alembic"]
# OpenBLAS as a wheel of its own (8 MB, no other dependency): the BLAS PyTensor's C mode links its
# matrix products to (cle/blas.py); without it they run through numpy from Python.
BLAS = ["scipy-openblas32>=0.3.30"]
vrnn_packages = ["nips2015_vrnn.models", "nips2015_vrnn.models.app", "nips2015_vrnn.models.app.cli",
                 "nips2015_vrnn.datasets"]

setup(
    name="vrnn-pytensor",
    version="0.1.0",
    description="A faithful PyTensor port of cle and the NIPS 2015 VRNN (Chung et al.)",
    long_description=open("README.rst", encoding="utf-8").read(),
    long_description_content_type="text/x-rst",
    python_requires=">=3.10",
    packages=cle_packages + vrnn_packages,
    package_dir={
        "nips2015_vrnn.models": "models",
        "nips2015_vrnn.models.app": "models/app",
        "nips2015_vrnn.models.app.cli": "models/app/cli",
        "nips2015_vrnn.datasets": "datasets",
    },
    install_requires=[
        # The PyTensor release line the project is tested with: a new minor/major release may
        # change defaults (backend, scan's JAX support) and with them the numbers.
        "pytensor>=3.0,<3.1",
        "numpy",
        "scipy",
        "h5py",
        "click>=8",
        # libsndfile (bundled in the wheels): every audio format vrnn-prepare blizzard / timit read
        "soundfile>=0.12",
    ],
    extras_require={
        # vrnn-train --mode c: PyTensor's C products on a linked OpenBLAS (cle/blas.py), and no
        # "could not link to a BLAS" warning
        "blas": BLAS,
        # vrnn-sweep --scheduler dask: cells as tasks of a dask.distributed cluster
        "cluster": CLUSTER,
        # PyTensor's JAX backend (vrnn-train --mode jax): CPU wheels; for a CUDA GPU install the
        # CUDA wheels as README.rst says. The tested range:
        "jax": JAX,
        "plot": ["matplotlib"],
        # vrnn-train --log-to tensorboard: event files without TensorFlow or PyTorch
        "tensorboard": TENSORBOARD,
        # vrnn-train --log-to mlflow
        "mlflow": MLFLOW,
        # benchmarks/chorales.py: Bach chorales from music21's corpus (shipped in the package)
        "bench": ["music21"],
        # What the test suite needs: hypothesis fuzzes the readers of untrusted files; the JAX-vs-C
        # tests, the BLAS link test, the Dask sweep test and the TensorBoard and MLflow log tests run
        # against their extras.
        "test": ["pytest", "hypothesis"] + JAX + BLAS + CLUSTER + TENSORBOARD + MLFLOW,
    },
    entry_points={
        "console_scripts": [
            "vrnn-prepare=nips2015_vrnn.models.app.cli:scripts.prepare",
            "vrnn-train=nips2015_vrnn.models.app.cli:scripts.train",
            "vrnn-sample=nips2015_vrnn.models.app.cli:scripts.sample",
            "vrnn-eval=nips2015_vrnn.models.app.cli:scripts.eval",
            "vrnn-monitor=nips2015_vrnn.models.app.cli:scripts.monitor",
            "vrnn-sweep=nips2015_vrnn.models.app.cli:scripts.sweep",
            "vrnn-table=nips2015_vrnn.models.app.cli:scripts.table",
            "vrnn-import-legacy=nips2015_vrnn.models.app.cli:scripts.import_legacy",
        ],
    },
)
