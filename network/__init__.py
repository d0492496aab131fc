"""Real networks in: weights files read into layer records (network.load, network.layers) and the
ccexam digit classifiers' weights and architectures (network.models). See docs/networks.md."""
