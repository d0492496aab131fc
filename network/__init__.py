"""Whole networks on the project's arithmetic: network descriptions, an integer inference engine with the
layer engine's requantization, and its float reference (docs/networks.md)."""
