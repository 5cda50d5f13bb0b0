"""A results bundle: every data, run and study-chunk artifact of a config in one archive with a
manifest, so that a reader can rebuild every aggregate, figure, table and the report without
recomputing (docs/workflow.md, "Results bundle").

    snakemake bundle --cores 1                          # writes results/bundle/results.tar.gz
    python -m invnet.bundle create [--configfile FILE] [--out FILE]   # the same without Snakemake
    python -m invnet.bundle restore FILE [--configfile FILE] [--force]
    python -m invnet.bundle check FILE [--configfile FILE]            # verify only, write nothing

The archive (``.tar.gz``, members in sorted order, no timestamps: the same artifacts give the
same bytes) holds ``manifest.json`` first: the bundle format, the resolved config and its
sha256, the sha256 and size of every file, and what the artifacts' provenance records (git
commits, versions, hosts, devices), then the files under their ``results/...`` paths.

``restore`` refuses, with one line naming the bundle and the file, a bundle whose manifest was
made with another config, a file the manifest lists that the archive lacks (or the converse),
any file whose bytes differ from its checksum, an unsafe path, an existing file that differs
(without ``--force``) and artifacts made by other code than this checkout (their recorded code
fingerprints, :mod:`invnet.status`); it writes nothing unless every check passes. It then
places the files atomically and sets their modification times to now, in dependency order
(problem sets, then runs, then runs that start from them), so that ``snakemake --cores all`` runs
only the aggregate, figure, table and report jobs: Snakemake compares timestamps (an output older
than an input, or than the rule's script, is redone), and in a fresh clone it has no recorded
params to compare.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import shutil
import sys
import tarfile
import time
import zlib
from pathlib import Path, PurePosixPath
from typing import Any

from . import paths

FORMAT = "invnet-bundle 1"
MANIFEST = "manifest.json"
KINDS = {"results/data/": "data", "results/runs/": "run", "results/studies/": "study_chunk"}


class BundleError(Exception):
    """A bundle refused: one line naming the bundle and what is wrong."""


def config_sha256(config: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(config, sort_keys=True, default=str).encode()).hexdigest()


def _relative(path: str | os.PathLike) -> str:
    """The ``results/...`` path of an artifact (it may lie under a root)."""
    text = Path(path).as_posix()
    at = text.rfind("results/")
    if at < 0:
        raise BundleError(f"{path}: not under results/")
    return text[at:]


def manifest(files: list[str | os.PathLike], config: dict[str, Any]) -> dict[str, Any]:
    """The manifest of ``files`` (artifact paths) made with ``config``."""
    from .artifacts import file_sha256, git_commit
    from .report import provenance_summary

    entries = []
    for path in sorted(files, key=_relative):
        rel = _relative(path)
        kind = next((k for prefix, k in KINDS.items() if rel.startswith(prefix)), "other")
        entries.append({"path": rel, "kind": kind, "size": Path(path).stat().st_size, "sha256": file_sha256(Path(path))})
    return {
        "format": FORMAT,
        "config_sha256": config_sha256(config),
        "config": config,
        "bundled_at_git_commit": git_commit(),
        "provenance": provenance_summary(files),
        "files": entries,
    }


def _tarinfo(name: str, size: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = size, 0, 0o644
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def create(files: list[str | os.PathLike], config: dict[str, Any], out: str | os.PathLike) -> dict[str, Any]:
    """Write the bundle of ``files`` (artifacts) made with ``config`` to ``out``, atomically;
    returns the manifest."""
    import gzip

    from .atomic import atomic_path

    man = manifest(files, config)
    by_rel = {_relative(p): Path(p) for p in files}
    data = json.dumps(man, indent=1, sort_keys=True, default=str).encode()
    with atomic_path(out) as tmp:
        with open(tmp, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as gz:
            with tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar:
                tar.addfile(_tarinfo(MANIFEST, len(data)), io.BytesIO(data))
                for entry in man["files"]:
                    with open(by_rel[entry["path"]], "rb") as f:
                        tar.addfile(_tarinfo(entry["path"], entry["size"]), f)
    return man


# ----------------------------------------------------------------------------- reading and checking


def _open(bundle: Path) -> tarfile.TarFile:
    if not bundle.is_file():
        raise BundleError(f"bundle {bundle}: no such file")
    try:
        return tarfile.open(bundle, mode="r:*")
    except (tarfile.TarError, OSError, EOFError) as err:
        raise BundleError(f"bundle {bundle}: not a readable archive ({err})") from None


def read_manifest(bundle: str | os.PathLike) -> dict[str, Any]:
    bundle = Path(bundle)
    with _open(bundle) as tar:
        return _manifest_of(tar, bundle)


def _manifest_of(tar: tarfile.TarFile, bundle: Path) -> dict[str, Any]:
    try:
        member = tar.getmember(MANIFEST)
        man = json.loads(tar.extractfile(member).read())
    except KeyError:
        raise BundleError(f"bundle {bundle}: no {MANIFEST} in the archive") from None
    except (json.JSONDecodeError, tarfile.TarError, OSError, EOFError, zlib.error) as err:
        raise BundleError(f"bundle {bundle}: {MANIFEST} is unreadable ({err})") from None
    if not isinstance(man, dict) or man.get("format") != FORMAT:
        raise BundleError(f"bundle {bundle}: {MANIFEST} is not an {FORMAT} manifest")
    return man


def _safe(name: str, bundle: Path) -> str:
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or path.parts[:1] != ("results",):
        raise BundleError(f"bundle {bundle}: {name}: unsafe path (every file must lie under results/)")
    return name


def check_config(man: dict[str, Any], config: dict[str, Any], bundle: Path) -> None:
    """Refuse a manifest made with another config, naming the first key that differs."""
    if man.get("config_sha256") == config_sha256(config):
        return
    from .status import _config_difference, _normal

    where = _config_difference(_normal(man.get("config") or {}), _normal(config), "config")
    detail = f"first difference, bundle -> here: {where}" if where else "its config_sha256 differs"
    raise BundleError(f"bundle {bundle}: its manifest was made with another config ({detail}); restore it with "
                      "the --configfile it was made with")


def extract_checked(bundle: str | os.PathLike, dest: str | os.PathLike) -> dict[str, Any]:
    """Unpack every file of ``bundle`` into ``dest`` (a staging folder), checking each against
    the manifest: BundleError with one line on the first file missing, extra, unsafe, or whose
    sha256 or size differs. Returns the manifest."""
    bundle, dest = Path(bundle), Path(dest)
    with _open(bundle) as tar:
        man = _manifest_of(tar, bundle)
        expected = {e["path"]: e for e in man.get("files", [])}
        seen: set[str] = set()
        try:
            for member in tar:
                if member.name == MANIFEST:
                    continue
                name = _safe(member.name, bundle)
                if member.isdir():  # an archive re-packed with tar lists its folders
                    continue
                if name not in expected:
                    raise BundleError(f"bundle {bundle}: {name} is in the archive but not in its manifest")
                if not member.isfile():
                    raise BundleError(f"bundle {bundle}: {name} is not a regular file")
                target = dest / name
                target.parent.mkdir(parents=True, exist_ok=True)
                digest = hashlib.sha256()
                with tar.extractfile(member) as src, open(target, "wb") as out:
                    for block in iter(lambda: src.read(1 << 20), b""):
                        digest.update(block)
                        out.write(block)
                entry = expected[name]
                if digest.hexdigest() != entry["sha256"] or target.stat().st_size != entry["size"]:
                    raise BundleError(f"bundle {bundle}: {name} does not match its checksum in the manifest "
                                      "(altered or corrupt)")
                seen.add(name)
        except (tarfile.TarError, OSError, EOFError, zlib.error) as err:
            raise BundleError(f"bundle {bundle}: the archive is corrupt ({err})") from None
    missing = sorted(set(expected) - seen)
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise BundleError(f"bundle {bundle}: {missing[0]} is listed in its manifest but missing from the archive{more}")
    return man


def _depths(plan) -> dict[str, int]:
    """Each artifact's depth in the DAG: problem sets and study chunks 0, runs from x0 1, a run
    that starts from another one more than that one."""
    out: dict[str, int] = {}
    for job in plan.rule_jobs("generate_data") + plan.rule_jobs("study_chunk"):
        out[job.output_files[0]] = 0
    for exp in plan.experiments.values():
        for n in exp.sizes:
            for seed in exp.seeds:
                for solver in exp.solvers:
                    out[paths.run_file(exp.name, solver, n, seed)] = len(exp.solvers.chain(solver))
        for seed in exp.seeds:
            for solver in exp.test_solvers:
                out[paths.test_run_file(exp.name, solver, seed)] = len(exp.solvers.chain(solver))
    return out


def restore(bundle: str | os.PathLike, plan, root: str | os.PathLike = ".", force: bool = False,
            dry: bool = False) -> dict[str, Any]:
    """Check ``bundle`` against ``plan`` (its config) and every checksum, then put its files in
    place under ``root`` (nothing with ``dry``); BundleError with one line on any refusal (see
    the module docstring). Returns the manifest."""
    from .artifacts import file_sha256
    from .status import status_rows

    bundle, root = Path(bundle), Path(root)
    man = read_manifest(bundle)
    check_config(man, plan.config, bundle)
    stage = root / f".invnet-restore.{os.getpid()}"
    try:
        man = extract_checked(bundle, stage)
        not_made = [r for r in status_rows(plan, stage) if r.state != "done" and (stage / r.path).exists()]
        if not_made and not force:
            r = not_made[0]
            more = f" ({len(not_made) - 1} more)" if len(not_made) > 1 else ""
            raise BundleError(f"bundle {bundle}: {r.path} is {r.state} for this checkout: {r.detail}{more}; check "
                              f"out the commit it was made at ({_commits(man)}) or pass --force")
        names = [e["path"] for e in man["files"]]
        clashes = [n for n in names if (root / n).exists() and file_sha256(root / n) != file_sha256(stage / n)]
        if clashes and not force:
            more = f" ({len(clashes) - 1} more)" if len(clashes) > 1 else ""
            raise BundleError(f"bundle {bundle}: {clashes[0]} exists here and differs from the bundle's{more}; "
                              "delete it or pass --force")
        if dry:
            return man
        depth = _depths(plan)
        # Stamps of the last few milliseconds, in dependency order: an input is never newer than
        # what is made from it, and every artifact is newer than the rule script of the checkout
        # (Snakemake reruns a job whose output is older than its script).
        base = time.time() - 0.01
        for name in names:
            target = root / name
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(stage / name, target)
            stamp = base + 0.001 * depth.get(name, 0)
            os.utime(target, (stamp, stamp))
    finally:
        shutil.rmtree(stage, ignore_errors=True)
    return man


def _commits(man: dict[str, Any]) -> str:
    commits = (man.get("provenance") or {}).get("git_commit") or {}
    return ", ".join(sorted(commits)) or "unknown"


# ----------------------------------------------------------------------------- command line


def main(argv: list[str] | None = None) -> int:
    from .config import InvalidConfig
    from .status import load_plan

    parser = argparse.ArgumentParser(prog="invnet bundle", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    make = sub.add_parser("create", help="write the bundle of a config's artifacts")
    make.add_argument("--out", default=paths.BUNDLE)
    for name, helptext in (("restore", "check a bundle and put its files in place"),
                           ("check", "check a bundle against the config, write nothing")):
        p = sub.add_parser(name, help=helptext)
        p.add_argument("bundle")
        if name == "restore":
            p.add_argument("--force", action="store_true",
                           help="overwrite differing files; accept artifacts made by other code")
    for p in sub.choices.values():
        p.add_argument("--configfile", help="the config (default: config/config.yaml; the whole config)")
        p.add_argument("--root", default=".", help="the workflow's folder (results/ under it)")
    args = parser.parse_args(argv)
    try:
        plan = load_plan(args.configfile, args.root)
        if args.command == "create":
            files = [Path(args.root) / p for p in plan.bundle_job().inputs["artifacts"]]
            absent = [str(p) for p in files if not p.exists()]
            if absent:
                raise BundleError(f"{absent[0]} does not exist ({len(absent)} artifacts missing); "
                                  "run snakemake bundle (it builds them first)")
            man = create(files, plan.config, Path(args.root) / args.out)
            size = sum(e["size"] for e in man["files"])
            print(f"wrote {args.out}: {len(man['files'])} files, {size / 1e6:.1f} MB before compression")
            return 0
        man = restore(args.bundle, plan, args.root, force=getattr(args, "force", False), dry=args.command == "check")
    except (BundleError, InvalidConfig) as err:
        print(err, file=sys.stderr)
        return 1
    verb = "checked" if args.command == "check" else "restored"
    print(f"{verb} {len(man['files'])} files from {args.bundle} (every checksum matches, config {man['config_sha256'][:12]})")
    if args.command == "restore":
        print("next: snakemake --cores all (runs only aggregate, figure, table and report jobs)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
