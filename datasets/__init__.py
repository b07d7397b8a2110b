"""Blizzard and IAM-OnDB data preparation and loading (imported as ``nips2015_vrnn.datasets``)."""
