"""Feed-forward layers (the legacy ``cle.cle.layers.feedforward``)."""
from cle.layers import InitCell, StemCell

__all__ = ["FullyConnectedLayer"]


class FullyConnectedLayer(StemCell):
    """A fully connected layer over one or more parents.

    ``out = unit(sum_p x_p[..., :dim_p] @ W_<p>__<name> + b_<name>) + cons``

    Parameters
    ----------
    name : str
    parent : list of str
        Parent labels; they name the weights (``W_<parent>__<name>``), whatever tensor is fed.
    parent_dim : list of int
        Width read from each parent (a wider input contributes its first ``dim_p`` columns).
    nout : int
    unit : str
        A key of :data:`cle.layers.UNITS` (softmax normalises over the last axis).
    cons : float
        Constant added after the unit (the paper's sigma layers: softplus + 1e-4).
    init_W, init_b : InitCell

    Examples
    --------
    >>> layer = FullyConnectedLayer('h', parent=['x'], parent_dim=[3], nout=2, unit='relu')
    >>> {k: v.shape for k, v in layer.initialize().items()}
    {'W_x__h': (3, 2), 'b_h': (2,)}
    """

    def __init__(self, name, parent, parent_dim, nout, unit="linear", cons=0.0, init_W=None, init_b=None):
        if nout is None:
            raise ValueError(f"layer {name!r}: nout is required, got None")
        if len(list(parent)) == 0:
            raise ValueError(f"layer {name!r}: needs at least one parent, got {parent!r}")
        super().__init__(name, parent=parent, parent_dim=parent_dim, nout=nout,
                         init_W=init_W if init_W is not None else InitCell("randn"),
                         init_b=init_b if init_b is not None else InitCell("zeros"),
                         cons=cons, unit=unit)

    def fprop(self, xs, params):
        """The layer's output.

        Parameters
        ----------
        xs : list of tensors aligned with ``parent``, each (B, D_p) or (T, B, D_p), D_p >= dim_p
        params : dict name -> tensor (shared variables or symbolic)

        Returns
        -------
        tensor (B, nout) or (T, B, nout)
        """
        return self.finish(self.project(xs, params), params)

    def finish(self, preact, params):
        """``unit(preact + b) + cons``: the output from a weighted sum computed elsewhere.

        Lets a caller compute part of ``preact`` outside a scan (e.g. the x part of a layer
        over all time steps at once) and the rest inside it.
        """
        out = self.nonlin(preact + params[self.bias_name])
        return out + float(self.cons) if self.cons != 0 else out
