"""Whole networks: their weights, data sets and the methods applied to them (docs/networks.md)."""
