"""bitsparse: the command-line entry point (:mod:`bitsparse.cli`); the code lives in golden/, hw/, sim/,
fpga/ and host/."""
