"""What a sweep covers: its points, read from a TOML or YAML file or from command-line ranges (docs/sweep.md).

A **point** is one hardware configuration on one device: an architecture of :data:`ARCHS`, its PE's
``lanes`` (weights per pass, ``pe_length``) and the one parameter of its method (BitVert's ``N``, the
bits pruned per weight; Bit-balance's ``k``; EBSP's ``window``; the bit-parallel MAC's ``multiplier``),
``rows x cols`` when it is a whole layer engine (absent: the PE alone), and the ``device``
(``ice40``: iCE40 UP5K, ``ecp5``: ECP5-85F). Each architecture runs one method of
:data:`network.compress.METHODS` (BitVert N = 2: ``bbs_cons``, N = 4: ``bbs_mod``; Bit-balance ``k``:
``bitbalance_k<k>``; EBSP: ``ebsp_w<window>``; Bitlet: ``bitlet``; the dense baselines ``int8``), which
fixes the accuracy and bits per weight of the point.

A sweep file::

    network = "mnist"            # efficientnet_lite0, mnist, fashion, minilm or reference (default)
    limit = 500                  # optional: the first so many inputs of the network's data
    devices = ["ice40", "ecp5"]  # default for every grid
    timeout = 3600               # seconds per point (default 3600)

    [[grid]]                     # the product of the lists; a scalar is a list of one
    arch = ["stripes", "bitvert"]
    lanes = [8, 16]
    N = [2, 4]                   # applies to bitvert only; the other archs ignore it

    [[grid]]
    arch = "bitvert"
    lanes = 16
    rows = 2
    cols = 2                     # a 2 x 2 layer engine

A parameter in a grid applies to the architectures that take it; one that none of the grid's
architectures takes is refused, naming the parameter and who takes it. Points are deduplicated and kept
in the order they were first listed.
"""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass, field
from pathlib import Path

from golden.check import check_choice, check_int

__all__ = ["Arch", "ARCHS", "DEVICES", "NETWORKS", "Point", "Spec", "parse_spec", "load_spec", "from_ranges",
           "PARAMS"]

#: devices: name -> what reports call it
DEVICES = {"ice40": "iCE40 UP5K", "ecp5": "ECP5-85F"}
#: the networks a sweep can take its weights from (``reference``: :func:`golden.workloads.reference_layer`)
NETWORKS = ("reference", "mnist", "fashion", "efficientnet_lite0", "minilm")
#: the sweep parameters besides ``arch`` and ``device``
PARAMS = ("lanes", "N", "k", "window", "multiplier", "rows", "cols")


@dataclass(frozen=True)
class Arch:
    """An architecture a sweep can place: ``generator`` its PE in :data:`fpga.registry.GENERATORS`;
    ``params`` the sweep parameters it takes besides ``lanes`` (with their defaults and allowed values);
    ``scopes``: ``pe`` (the PE alone) and/or ``array`` (a layer engine of :data:`hw.array.archs.ARCHS`)."""
    name: str
    generator: str
    params: dict = field(default_factory=dict)          # name -> (default, allowed values)
    scopes: tuple = ("pe", "array")
    lanes: tuple = (2, 4, 8, 16, 32, 64)

    def method(self, point: "Point") -> str:
        """The method of :data:`network.compress.METHODS` this architecture runs at ``point``."""
        if self.name.startswith("bitvert"):
            return {2: "bbs_cons", 4: "bbs_mod"}[point.N]
        if self.name == "bitbalance":
            return f"bitbalance_k{point.k}"
        if self.name == "ebsp":
            return f"ebsp_w{point.window}"
        if self.name == "bitlet":
            return "bitlet"
        return "int8"


ARCHS = {a.name: a for a in [
    Arch("stripes", "stripes_pe"),
    Arch("pragmatic", "pragmatic_pe"),
    Arch("parallel", "parallel_mac", {"multiplier": ("lut", ("lut", "sb_mac16"))}),
    Arch("bitvert", "bitvert_pe", {"N": (2, (2, 4))}, lanes=(8, 16, 32, 64)),
    Arch("bitvert_unshared", "bitvert_pe", {"N": (2, (2, 4))}, scopes=("array",), lanes=(8, 16, 32, 64)),
    Arch("bitbalance", "bitbalance_pe", {"k": (3, (2, 3, 4))}),
    Arch("ebsp", "ebsp_pe", {"window": (3, (3, 4, 5))}),
    Arch("bitlet", "bitlet_pe", scopes=("pe",), lanes=(8, 16, 32, 64)),
]}


@dataclass(frozen=True)
class Point:
    """One configuration on one device (module docstring); parameters an architecture does not take are
    None."""
    arch: str
    device: str
    lanes: int = 16
    N: int | None = None
    k: int | None = None
    window: int | None = None
    multiplier: str | None = None
    rows: int | None = None
    cols: int | None = None

    def __post_init__(self):
        a = ARCHS[check_choice("arch", self.arch, ARCHS)]
        check_choice("device", self.device, DEVICES)
        check_choice(f"lanes of {self.arch}", check_int("lanes", self.lanes), a.lanes)
        for name in ("N", "k", "window", "multiplier"):
            value = getattr(self, name)
            if name in a.params:
                default, allowed = a.params[name]
                object.__setattr__(self, name, check_choice(f"{name} of {self.arch}", default if value is None
                                                            else value, allowed))
            elif value is not None:
                raise ValueError(f"{self.arch} takes no parameter {name} (got {name}={value!r}); "
                                 f"it takes lanes{''.join(', ' + p for p in a.params)}" + _rows_cols(a))
        if (self.rows is None) != (self.cols is None):
            raise ValueError(f"rows and cols go together (a rows x cols layer engine), got rows={self.rows}, "
                             f"cols={self.cols}")
        if self.rows is not None:
            if "array" not in a.scopes:
                raise ValueError(f"{self.arch} has no layer engine (rows, cols): it is swept as a PE alone")
            check_int("rows", self.rows, lo=1, hi=8)
            check_int("cols", self.cols, lo=1, hi=8)
        elif "pe" not in a.scopes:
            raise ValueError(f"{self.arch} is a layer engine only: give rows and cols")
        if self.multiplier == "sb_mac16" and self.device != "ice40":
            raise ValueError(f"multiplier='sb_mac16' is the iCE40's DSP block; device {self.device!r} has none "
                             "(use multiplier='lut')")
        if self.multiplier == "sb_mac16" and self.rows is not None:
            raise ValueError("multiplier='sb_mac16' is a PE option; the layer engine's MACs use LUT multipliers")

    @property
    def scope(self) -> str:
        return "pe" if self.rows is None else "array"

    @property
    def method(self) -> str:
        return ARCHS[self.arch].method(self)

    @property
    def name(self) -> str:
        """``<arch>_l<lanes>[_n<N>|_k<k>|_w<window>|_dsp][_<rows>x<cols>]``: the same for every device."""
        s = f"{self.arch}_l{self.lanes}"
        s += "".join(f"_{tag}{getattr(self, p)}" for p, tag in (("N", "n"), ("k", "k"), ("window", "w"))
                     if getattr(self, p) is not None)
        s += "_dsp" if self.multiplier == "sb_mac16" else ""
        return s + ("" if self.rows is None else f"_{self.rows}x{self.cols}")

    @property
    def key(self) -> str:
        """The point on its device: ``<name>@<device>``."""
        return f"{self.name}@{self.device}"

    def to_dict(self) -> dict:
        return asdict(self)


def _rows_cols(a: Arch) -> str:
    return ", rows, cols" if "array" in a.scopes else ""


@dataclass(frozen=True)
class Spec:
    """A sweep: its points and where their figures come from."""
    points: tuple
    network: str = "reference"
    limit: int | None = None
    timeout: float = 3600.0

    def __post_init__(self):
        check_choice("network", self.network, NETWORKS)
        if self.limit is not None:
            check_int("limit", self.limit, lo=1)
        if isinstance(self.timeout, bool) or not isinstance(self.timeout, (int, float)) or not self.timeout > 0:
            raise ValueError(f"timeout must be a number of seconds > 0, got {self.timeout!r}")
        if not self.points:
            raise ValueError("the sweep has no point: give at least one grid (arch = ...)")


_TOP = ("network", "limit", "devices", "timeout", "grid")


def _listed(name: str, value) -> list:
    values = value if isinstance(value, list) else [value]
    if not values:
        raise ValueError(f"{name} is an empty list")
    return values


def _grid_points(i: int, grid, devices) -> list[Point]:
    where = f"grid {i + 1}"
    if not isinstance(grid, dict):
        raise ValueError(f"{where} must be a table of parameters, got {grid!r}")
    unknown = [k for k in grid if k not in ("arch", "device", "devices") + PARAMS]
    if unknown:
        from fpga.params import suggest
        raise ValueError(f"{where}: unknown parameter {unknown[0]!r}; a grid takes arch, devices, "
                         f"{', '.join(PARAMS)}" + suggest(unknown[0], ("arch", "devices") + PARAMS))
    if "arch" not in grid:
        raise ValueError(f"{where} names no arch (one or a list of {', '.join(ARCHS)})")
    archs = [check_choice(f"{where}: arch", a, ARCHS) for a in _listed("arch", grid["arch"])]
    devs = _listed("devices", grid.get("devices", grid.get("device", devices)))
    for name in ("N", "k", "window", "multiplier"):
        takers = [a for a, spec in ARCHS.items() if name in spec.params]
        if name in grid and not any(a in takers for a in archs):
            raise ValueError(f"{where}: {name} applies to {', '.join(takers)}, none of which is in this grid's "
                             f"arch ({', '.join(archs)})")
    lists = {p: _listed(f"{where}: {p}", grid[p]) for p in PARAMS if p in grid}
    points = []
    for arch in archs:
        own = [p for p in lists if p in ("lanes", "rows", "cols") or p in ARCHS[arch].params]
        for values in itertools.product(devs, *(lists[p] for p in own)):
            kw = dict(zip(own, values[1:]))
            try:
                points.append(Point(arch, values[0], **kw))
            except (TypeError, ValueError) as e:
                raise type(e)(f"{where}: {e}") from None
    return points


def parse_spec(data: dict, source: str = "the sweep") -> Spec:
    """A :class:`Spec` from the parsed contents of a sweep file (module docstring)."""
    if not isinstance(data, dict):
        raise ValueError(f"{source} must be a table (network = ..., [[grid]] ...), got {type(data).__name__}")
    unknown = [k for k in data if k not in _TOP]
    if unknown:
        from fpga.params import suggest
        raise ValueError(f"{source}: unknown key {unknown[0]!r}; a sweep file takes {', '.join(_TOP)}"
                         + suggest(unknown[0], _TOP))
    devices = _listed("devices", data.get("devices", ["ice40"]))
    grids = data.get("grid", [])
    if isinstance(grids, dict):
        grids = [grids]
    if not isinstance(grids, list) or not grids:
        raise ValueError(f"{source} has no grid: add a [[grid]] table with arch = ...")
    points = []
    for i, g in enumerate(grids):
        points += [p for p in _grid_points(i, g, devices) if p not in points]
    return Spec(tuple(points), data.get("network", "reference"), data.get("limit"),
                data.get("timeout", 3600.0))


def load_spec(path) -> Spec:
    """A :class:`Spec` from a ``.toml`` file or (with PyYAML installed) a ``.yaml``/``.yml`` file."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"sweep file {str(path)!r} does not exist")
    text = path.read_text()
    if path.suffix == ".toml":
        try:
            import tomllib
        except ModuleNotFoundError:                          # Python 3.10
            import tomli as tomllib
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as e:
            raise ValueError(f"{path}: not valid TOML: {e}") from None
    elif path.suffix in (".yaml", ".yml"):
        try:
            import yaml
        except ModuleNotFoundError:
            raise ValueError(f"{path}: reading YAML needs PyYAML (pip install pyyaml, or the 'dask' extra, "
                             "which brings it); or write the sweep as TOML") from None
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as e:
            raise ValueError(f"{path}: not valid YAML: {e}") from None
    else:
        raise ValueError(f"sweep file {str(path)!r} must end in .toml, .yaml or .yml")
    return parse_spec(data, str(path))


def from_ranges(arch, devices=("ice40",), network="reference", limit=None, timeout=3600.0, **params) -> Spec:
    """A :class:`Spec` of one grid from command-line ranges: ``arch`` and each parameter a list (or
    None: not given)."""
    grid = {"arch": list(arch), "devices": list(devices)}
    grid.update({k: list(v) for k, v in params.items() if v is not None})
    return parse_spec({"network": network, "grid": [grid], "timeout": timeout,
                       **({"limit": limit} if limit is not None else {})}, "the command line")
