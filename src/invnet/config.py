"""The workflow configuration: declared once here (global settings, experiment blocks) and in the
plug-ins (a family's ``params_spec``, a solver's ``settings_spec``); validated, completed with
defaults and turned into a JSON schema from those declarations alone.

``resolve_config(raw)`` returns the full config (every default filled in) or raises a
:class:`InvalidConfig` with one line per problem, each naming the key path and the allowed values.
``python -m invnet.config schema [CONFIG]`` prints the JSON schema the checks correspond to.
"""

from __future__ import annotations

import copy
import json
import sys
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from .devices import DEVICES, DTYPES, check_device
from .errors import ConfigError
from .problems import family_class, make_family
from .plugins import load_plugins
from .solvers import resolve_solvers, solvers_schema
from .spec import REQUIRED, ParamSpec, object_schema, resolve
from .studies import studies
from .test_runs import check_test_solvers
from .sweeps import resolve_sweeps, sweeps_schema


GLOBAL_SPECS: dict[str, ParamSpec] = {
    "compare_rtol": ParamSpec(
        1e-3, float, minimum=0.0, maximum=0.5,
        doc="M beats BFGS on problem i when L_M < L_BFGS*(1-rtol), loses when L_M > L_BFGS*(1+rtol), else tie",
    ),
    "dtype": ParamSpec("float64", str, choices=tuple(DTYPES), doc="precision of every forward process, solver, network"),
    "device": ParamSpec(
        "cpu", str, choices=DEVICES,
        doc="where jobs compute: cpu, cuda (refused where torch sees no GPU) or auto (cuda if present)",
    ),
    "threads": ParamSpec(1, int, minimum=1, doc="torch threads per solve job (part of what a run depends on)"),
    "history_points": ParamSpec(200, int, minimum=2, doc="max entries of a run's loss history (log-spaced)"),
}

# Sizes and seeds outside these ranges are typos, not experiments: n = 10**9 asks for GiBs at
# run time; seeds are stored as int64 (h5py) and wildcards of a few digits.
MAX_PROBLEMS = 100_000
MAX_SEED = 2**31 - 1

EXPERIMENT_SPECS: dict[str, ParamSpec] = {
    "family": ParamSpec(
        REQUIRED, str, doc="problem family: a registered name or an import path package.module:Class"
    ),
    "label": ParamSpec("", str, doc="name in tables and figures (default: the family's label)"),
    "n": ParamSpec(
        [16, 64, 256], int, length=-1, minimum=1, maximum=MAX_PROBLEMS, unique=True,
        doc="training-set sizes, one run each",
    ),
    "seeds": ParamSpec(
        [0, 1, 2, 3, 4], int, length=-1, minimum=0, maximum=MAX_SEED, unique=True,
        doc="seeds (problem set + inits)",
    ),
    "n_test": ParamSpec(
        64, int, minimum=1, maximum=MAX_PROBLEMS, doc="held-out test problems per seed (shared by all n)"
    ),
    "test_solvers": ParamSpec(
        ["bfgs"], str, length=-1, unique=True,
        doc="configured per-problem solvers that also solve each seed's test set, once per seed (§2.5)",
    ),
    "draws": ParamSpec(
        "", str, doc="the experiment whose random problem draws (seed streams) this one uses (default: its own "
        "name); a sweep point uses its base's, so a sweep changes one parameter of the same problems",
    ),
}
BLOCKS = ("problem", "solvers")  # mappings inside an experiment block, resolved by the plug-ins


class InvalidConfig(ConfigError):
    """One or more config errors, one line each."""

    def __init__(self, lines: list[str]):
        self.lines = lines
        ValueError.__init__(self, "Invalid configuration:" + "".join(f"\n  {line}" for line in lines))
        self.key = lines[0].split(":", 1)[0] if lines else ""


# ----------------------------------------------------------------------------- schema


def config_schema(raw: dict[str, Any] | None = None) -> dict[str, Any]:
    """The JSON schema of the config; experiments of ``raw`` get their family's problem schema."""
    solvers = solvers_schema()

    def experiment_schema(problem: dict[str, Any]) -> dict[str, Any]:
        out = object_schema(EXPERIMENT_SPECS, "one experiment: a family, its parameters, sizes, seeds, solvers")
        out["properties"].update({"problem": problem, "solvers": solvers})
        out["required"] = [*out.get("required", []), "solvers"]
        return out

    experiments: dict[str, Any] = {}
    for name, block in ((raw or {}).get("experiments") or {}).items():
        family = block.get("family") if isinstance(block, dict) else None
        try:
            problem = object_schema(family_class(family).params_spec) if isinstance(family, str) else {}
        except ConfigError:
            problem = {}
        experiments[name] = experiment_schema(problem)
    schema = object_schema(GLOBAL_SPECS, "invnet workflow configuration")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["properties"]["experiments"] = {
        "type": "object",
        "minProperties": 1,
        "description": "one block per experiment; the keys present select the experiments",
        "properties": experiments,
        "additionalProperties": experiment_schema({"type": "object"}),
        "propertyNames": {"pattern": "^[A-Za-z][A-Za-z0-9_]*$"},
    }
    schema["properties"]["plugins"] = PLUGINS_SCHEMA
    schema["properties"]["studies"] = {
        "type": "object",
        "description": "studies to run (e.g. the alignment theory of Figure 2): the keys present select them",
        "additionalProperties": False,
        "properties": {name: object_schema(s.all_settings(), s.doc) for name, s in studies().items()},
    }
    schema["properties"]["sweeps"] = sweeps_schema()
    schema["required"] = ["experiments"]
    return schema


PLUGINS_SCHEMA: dict[str, Any] = {
    "type": "array",
    "description": "plug-ins outside the package, each an import path package.module:Object (a family "
    "or solver class, a FigureSpec, TableSpec or StudySpec); they register under their own name",
    "items": {"type": "string", "pattern": r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$"},
    "default": [],
}


def _load_plugins(raw: dict[str, Any]) -> list[str]:
    """Import the plug-ins the config names (before the schema, which lists their settings)."""
    paths = raw.get("plugins", [])
    if paths is None:
        return []
    if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
        raise InvalidConfig([f"plugins: expected a list of import paths package.module:Object, got {paths!r}"[:200]])
    try:
        load_plugins(paths)
    except ConfigError as err:
        raise InvalidConfig([f"{err.key}: {err.message}"]) from None
    return list(paths)


def _key_path(parts: Any) -> str:
    out = ""
    for part in parts:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "<top level>"


def _format_schema_error(err: jsonschema.ValidationError) -> str:
    """One line per error, naming the key path and, where the set is closed, what is allowed."""
    where = _key_path(err.absolute_path)
    prefix = "" if where == "<top level>" else f"{where}."
    if err.validator == "additionalProperties":
        allowed = sorted(err.schema.get("properties", {}))
        extra = sorted(set(err.instance) - set(allowed))
        return "; ".join(f"{prefix}{key}: unknown key; allowed: {', '.join(allowed)}" for key in extra)
    if err.validator == "enum":
        return f"{where}: got {err.instance!r}; allowed: {', '.join(map(str, err.validator_value))}"
    if err.validator == "type":
        expected = {"object": "mapping", "array": "list"}.get(err.validator_value, err.validator_value)
        return f"{where}: expected {expected}, got {type(err.instance).__name__} {err.instance!r}"[:200]
    if err.validator == "required":
        missing = [k for k in err.validator_value if k not in err.instance]
        return "; ".join(f"{prefix}{key}: required key is missing" for key in missing)
    if err.validator == "dependentRequired":
        return "; ".join(
            f"{where}.{key}: starts from '{dep}', which is not configured"
            for key, deps in err.validator_value.items() if key in err.instance
            for dep in deps if dep not in err.instance
        )
    bounds = {"minimum": ">=", "maximum": "<=", "exclusiveMinimum": ">", "exclusiveMaximum": "<"}
    if err.validator in bounds:
        return f"{where}: must be {bounds[err.validator]} {err.validator_value}, got {err.instance!r}"
    if err.validator == "pattern" and err.validator_value.startswith("^[A-Za-z]"):
        return f"{prefix}{err.instance}: experiment names are letters, digits and _, starting with a letter"
    return f"{where}: {err.message}"[:300]


# ----------------------------------------------------------------------------- resolution


def resolve_config(raw: dict[str, Any], check_cuda: bool = True) -> dict[str, Any]:
    """The validated config with every default filled in (a deep copy; ``raw`` is not changed).

    ``check_cuda=False`` skips the CUDA availability check (a cluster's submit host has no GPU).
    """
    if not isinstance(raw, dict):
        raise InvalidConfig([f"<top level>: expected a mapping, got {type(raw).__name__}"])
    _load_plugins(raw)
    validator = jsonschema.Draft202012Validator(config_schema(raw))
    lines: list[str] = []
    for err in sorted(validator.iter_errors(raw), key=lambda e: [str(p) for p in e.absolute_path]):
        line = _format_schema_error(err)
        if line and line not in lines:
            lines.append(line)
    if lines:
        raise InvalidConfig(lines)
    try:
        return _resolve(copy.deepcopy(raw), check_cuda)
    except InvalidConfig:
        raise
    except ConfigError as err:
        raise InvalidConfig([f"{err.key}: {err.message}"]) from None


def _resolve(raw: dict[str, Any], check_cuda: bool) -> dict[str, Any]:
    experiments = raw.pop("experiments")
    configured_studies = raw.pop("studies", None) or {}
    configured_sweeps = raw.pop("sweeps", None) or {}
    plugins = raw.pop("plugins", None) or []
    out = resolve(GLOBAL_SPECS, raw, "")
    out["plugins"] = list(plugins)
    if not out["compare_rtol"] < 1:
        raise ConfigError("compare_rtol", "must be < 1")
    if check_cuda:
        check_device(out["device"])
    out["experiments"] = {
        name: resolve_experiment(name, block, out["history_points"]) for name, block in experiments.items()
    }
    out["studies"] = {name: resolve_study(name, block) for name, block in configured_studies.items()}
    out["sweeps"], derived = resolve_sweeps(
        configured_sweeps, out["experiments"], lambda name, block: resolve_experiment(name, block, out["history_points"])
    )
    out["experiments"].update(derived)  # sweep points are experiments of their own (docs/experiments.md §2.6)
    return out


def resolve_study(name: str, block: dict[str, Any] | None) -> dict[str, Any]:
    """One study block (``studies.<name>``): its settings with defaults filled in and checked."""
    registered = studies()
    if name not in registered:
        raise ConfigError(f"studies.{name}", f"unknown study; allowed: {', '.join(registered)}")
    spec = registered[name]
    out = resolve(spec.all_settings(), block, f"studies.{name}")
    if spec.validate is not None:
        spec.validate(out, f"studies.{name}")
    return out


def resolve_experiment(name: str, block: dict[str, Any], history_points: int | None = None) -> dict[str, Any]:
    """One experiment block: sweep keys, the family's parameters and every solver's settings.

    ``history_points`` (global) is no solver setting: the solve job passes it to the driver.
    """
    where = f"experiments.{name}"
    block = dict(block)
    parts = {key: block.pop(key, None) for key in BLOCKS}
    out = resolve(EXPERIMENT_SPECS, block, where)
    family = make_family(out["family"], parts["problem"], experiment=name)
    out["problem"] = family.params
    out["label"] = out["label"] or (family.display_name() if name == family.name else name)
    resolved = resolve_solvers(name, parts["solvers"], family)
    check_test_solvers(out["test_solvers"], resolved, f"{where}.test_solvers")
    out["solvers"] = {solver: r.block for solver, r in resolved.items()}
    return out


def load_yaml(path: str | Path) -> dict[str, Any]:
    """A YAML config file; a syntax error names the file and line."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        at = f" line {mark.line + 1}" if mark is not None else ""
        raise InvalidConfig([f"{path}:{at} not valid YAML ({getattr(err, 'problem', err)})"]) from None
    except OSError as err:
        raise InvalidConfig([f"{path}: cannot read ({err.strerror})"]) from None
    return data or {}


def main(argv: list[str] | None = None) -> int:
    """``python -m invnet.config schema [CONFIG]`` or ``check CONFIG``."""
    args = sys.argv[1:] if argv is None else argv
    if not args or args[0] not in ("schema", "check"):
        print(__doc__)
        return 2
    raw = load_yaml(args[1]) if len(args) > 1 else None
    if args[0] == "schema":
        print(json.dumps(config_schema(raw), indent=2))
        return 0
    print(json.dumps(resolve_config(raw or {}), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
