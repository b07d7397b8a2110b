"""Characters: bits per character of an evaluation, and text sampled from a character model.

Sampling (:func:`sample_text`) feeds the categorical output's Gumbel-max draw (see
:mod:`nips2015_vrnn.models.outputs`) with uniform noise u (steps, n, V) drawn here:

- the temperature tau: ``u <- exp(-(-log u)^tau)``, so the Gumbel value ``-log(-log u)`` is tau
  times a standard Gumbel draw and each symbol follows ``p^(1/tau)`` renormalised (tau < 1: more
  likely symbols, tau > 1: more varied);
- a prime text of P characters: its P steps get u = 1 at the prime's symbol and 0 elsewhere, so
  the draw is that symbol whatever the model predicts; generation goes on from the state the
  prime left. For the VRNN each z_t of the prime is drawn from the prior (the generator's
  graph); the RNN is conditioned exactly.

Example
-------
>>> bits = bits_per_character({"lower_bound_per_step": -1.3863, "loglik_is_per_step": -1.3, "n_steps": 10})
>>> round(bits["bits_per_character_bound"], 3), round(bits["bits_per_character_is"], 3)
(2.0, 1.876)
"""
import logging
import math
from pathlib import Path

import numpy as np

from nips2015_vrnn.datasets.text import decode, encode

log = logging.getLogger(__name__)

__all__ = ["bits_per_character", "format_bits", "text_noise", "sample_text"]

#: The smallest positive float32: a tempered u never underflows to 0 (which would forbid the symbol).
TINY = float(np.finfo(np.float32).tiny)


def bits_per_character(result):
    """Bits per character of an evaluation ``result`` (nats per step / ln 2): ``bits_per_character_bound``
    (an upper bound for a VRNN, exact for an RNN) and ``bits_per_character_is`` (importance sampled)."""
    return {"bits_per_character_bound": -result["lower_bound_per_step"] / math.log(2),
            "bits_per_character_is": -result["loglik_is_per_step"] / math.log(2)}


def format_bits(result, width):
    """One line: the bits per character of ``result`` beside the uniform rate log2(``width``).

    >>> format_bits({"bits_per_character_bound": 2.0, "bits_per_character_is": 1.9}, 32)
    'bits per character: <= 2.000  ~= 1.900 (uniform over the 32 symbols: 5.000)'
    """
    return (f"bits per character: <= {result['bits_per_character_bound']:.3f}  ~= "
            f"{result['bits_per_character_is']:.3f} (uniform over the {width} symbols: {math.log2(width):.3f})")


def text_noise(model, rng, n_steps, n, prime_ids=(), temperature=1.0):
    """The generator's noise (OrderedDict name -> (n_steps, n, ...)) for tempered, primed text.

    Parameters
    ----------
    model : a categorical-output model (``generation_noise`` gives ``u_x`` (n_steps, n, V))
    rng : numpy Generator
    n_steps : int, the prime's steps included
    n : int
    prime_ids : sequence of int, the symbols the first steps are forced to
    temperature : float > 0
    """
    if not temperature > 0 or not math.isfinite(temperature):
        raise ValueError(f"temperature must be a finite number > 0; got {temperature!r}")
    if len(prime_ids) >= n_steps:
        raise ValueError(f"the prime's {len(prime_ids)} steps leave none of {n_steps} to generate")
    noise = model.generation_noise(rng, n_steps, n)
    u = noise["u_x"].astype(np.float64)
    if temperature != 1.0:
        u = np.maximum(np.exp(-(-np.log(np.maximum(u, TINY))) ** temperature), TINY)
    for t, symbol in enumerate(prime_ids):
        u[t] = 0.0
        u[t, :, int(symbol)] = 1.0
    noise["u_x"] = u.astype(noise["u_x"].dtype)
    return noise


def sample_text(model, vocabulary, out_dir, n=10, steps=200, seed=0, prime="", temperature=1.0, progress=None,
                bias=0.0):
    """Generate ``n`` texts of ``steps`` characters after ``prime`` into ``out_dir/sample_<i>.txt``.

    Parameters
    ----------
    model : a trained categorical model
    vocabulary : list of str, the prepared file's (id i + 1 is character i)
    out_dir : Path
    prime : str
        Text the samples start with (characters outside the vocabulary read as the unknown symbol).
    bias : float > -1
        The generator's sampling bias (``log p * (1 + bias)``: the same symbols as
        ``temperature = 1 / (1 + bias)``).

    Returns
    -------
    dict: ``files`` (list of Path), ``texts`` (list of str, prime included), ``frames``
    (the generated one-hot frames (len(prime) + steps, n, V))
    """
    prime_ids = encode(prime, vocabulary)
    total = len(prime_ids) + steps
    noise = text_noise(model, np.random.default_rng(seed), total, n, prime_ids, temperature)
    bias = np.asarray(bias, dtype=noise["u_x"].dtype)
    frames = np.asarray(model.shaped(total, n).generate_fn()(*noise.values(), bias)[0])
    out_dir = Path(out_dir)
    files, texts = [], []
    for i in range(n):
        texts.append(prime + decode(frames[len(prime_ids):, i].argmax(axis=-1), vocabulary))
        files.append(out_dir / f"sample_{i:02d}.txt")
        tmp = files[-1].with_name(f".{files[-1].name}.tmp")
        tmp.write_text(texts[-1], encoding="utf-8")
        tmp.replace(files[-1])
        if progress:
            progress(i + 1, n)
    log.info("wrote %d texts to %s", n, out_dir)
    return {"files": files, "texts": texts, "frames": frames}
