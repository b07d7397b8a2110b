"""The NIPS 2015 VRNN and RNN model families (imported as ``nips2015_vrnn.models``)."""
