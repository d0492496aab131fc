"""Whole networks on the project's arithmetic (docs/networks.md): weights files read into layer records
(network.load, network.layers), the networks' descriptions (network.models, network.efficientnet,
network.minilm), every method applied to a whole network (network.compress), and an integer inference
engine with the layer engine's requantization and its float reference (network.engine)."""
