"""Datasets and batch iterators (the legacy ``cle.cle.data``)."""
from cle.data.base import Data, DesignMatrix, TemporalSeries
from cle.data.iterator import ExampleIterator, Iterator

__all__ = ["Data", "DesignMatrix", "TemporalSeries", "Iterator", "ExampleIterator"]
