"""Whole networks on the project's arithmetic (docs/networks.md): weights files read into layer records
(network.load, network.layers), the networks and their data (network.models, network.fashion,
network.efficientnet, network.minilm, network.datasets, network.digits), every method applied to a whole
network (network.compress, network.report), and an integer inference engine with the layer engine's
requantization and its float reference (network.engine)."""
