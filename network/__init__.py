"""Whole networks: real pretrained models, their compression by every method, and their accuracy."""
