"""The results bundle, in-process: a tiny run bundled and restored into an empty folder (every
file byte-identical, timestamps in dependency order, every run done for the status), the same
bundle bytes twice, and the refusals, each one line naming the bundle and the file: an altered
byte, a missing file, a manifest from another config, a corrupt archive, a differing existing
file, artifacts made by other code. (The Snakemake side, `snakemake bundle` and the job list
after a restore, is in tests/test_workflow.py.)"""

from __future__ import annotations

import gzip
import io
import json
import tarfile
from pathlib import Path

import pytest
import yaml

from helpers import plan_of, run_plan, set_key, tiny_wavepacket
from invnet.bundle import MANIFEST, BundleError, create, main, read_manifest, restore
from invnet.status import status_rows

CONFIG = tiny_wavepacket({"bfgs": {"maxiter": 20}, "jpo": {"hidden": [8], "steps": 10}, "jpo_bfgs": {"maxiter": 20}})


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    """A tiny run and its bundle."""
    root = tmp_path_factory.mktemp("made")
    plan = run_plan(CONFIG, root)
    files = [root / p for p in plan.bundle_job().inputs["artifacts"]]
    bundle = root / "bundle.tar.gz"
    create(files, plan.config, bundle)
    return root, plan, bundle


def rewrite(bundle: Path, out: Path, change=None, drop: str | None = None) -> Path:
    """A copy of ``bundle`` with one member's bytes changed by ``change`` or member ``drop`` left out
    (the manifest kept as it was)."""
    with tarfile.open(bundle) as src, tarfile.open(out, "w:gz") as dst:
        for member in src:
            if member.name == drop:
                continue
            data = src.extractfile(member).read()
            if change is not None and member.name != MANIFEST:
                data = change(member.name, data)
            member.size = len(data)
            dst.addfile(member, io.BytesIO(data))
    return out


def test_restore_into_an_empty_folder(made, tmp_path):
    root, plan, bundle = made
    man = restore(bundle, plan_of(CONFIG), tmp_path)
    names = [e["path"] for e in man["files"]]
    assert names == sorted(plan.bundle_job().inputs["artifacts"])  # every artifact, nothing else
    for name in names:
        assert (tmp_path / name).read_bytes() == (root / name).read_bytes(), name
    mtime = {n: (tmp_path / n).stat().st_mtime for n in names}
    data, run, refined = ("results/data/wavepacket/n8/seed0.h5", "results/runs/wavepacket/jpo/n8/seed0.h5",
                          "results/runs/wavepacket/jpo_bfgs/n8/seed0.h5")
    assert mtime[data] < mtime[run] < mtime[refined]  # nothing looks older than what it is made from
    assert {r.state for r in status_rows(plan_of(CONFIG), tmp_path)} == {"done"}
    assert not list(tmp_path.glob(".invnet-restore*"))  # the staging folder is gone
    assert man["provenance"]["artifacts"] == len(names) and man["config"] == json.loads(json.dumps(plan.config))
    assert restore(bundle, plan_of(CONFIG), tmp_path)  # again: identical files are no clash


def test_the_same_artifacts_give_the_same_bundle_bytes(made, tmp_path):
    root, plan, bundle = made
    again = tmp_path / "again.tar.gz"
    create([root / p for p in plan.bundle_job().inputs["artifacts"]], plan.config, again)
    assert again.read_bytes() == bundle.read_bytes()


def test_an_altered_byte_is_refused_naming_the_file(made, tmp_path):
    _, _, bundle = made
    target = "results/runs/wavepacket/bfgs/n8/seed0.h5"

    def flip(name: str, data: bytes) -> bytes:
        if name != target:
            return data
        b = bytearray(data)
        b[len(b) // 2] ^= 0x01
        return bytes(b)

    bad = rewrite(bundle, tmp_path / "bad.tar.gz", change=flip)
    with pytest.raises(BundleError) as err:
        restore(bad, plan_of(CONFIG), tmp_path / "dest")
    assert str(err.value) == (f"bundle {bad}: {target} does not match its checksum in the manifest "
                              "(altered or corrupt)")
    assert not (tmp_path / "dest" / "results").exists()  # nothing written


def test_a_missing_file_is_refused_naming_it(made, tmp_path):
    _, _, bundle = made
    target = "results/data/wavepacket/n8/seed0.h5"
    bad = rewrite(bundle, tmp_path / "bad.tar.gz", drop=target)
    with pytest.raises(BundleError, match=f"bundle {bad}: {target} is listed in its manifest but missing"):
        restore(bad, plan_of(CONFIG), tmp_path / "dest")
    assert not (tmp_path / "dest" / "results").exists()


def test_a_manifest_from_another_config_is_refused(made, tmp_path):
    _, _, bundle = made
    other = set_key(CONFIG, "experiments.wavepacket.n_test", 5)
    with pytest.raises(BundleError) as err:
        restore(bundle, plan_of(other), tmp_path)
    assert str(err.value).startswith(f"bundle {bundle}: its manifest was made with another config (first difference, "
                                     "bundle -> here: config.experiments.wavepacket.n_test: 4 -> 5)")
    assert "\n" not in str(err.value)


def test_a_corrupt_archive_is_refused(made, tmp_path):
    _, _, bundle = made
    data = bytearray(bundle.read_bytes())
    data[len(data) // 2] ^= 0xFF  # inside the compressed stream
    bad = tmp_path / "bad.tar.gz"
    bad.write_bytes(bytes(data))
    with pytest.raises(BundleError, match=f"^bundle {bad}: ") as err:
        restore(bad, plan_of(CONFIG), tmp_path / "dest")
    assert "\n" not in str(err.value)


def test_existing_differing_files_and_other_code_are_refused(made, tmp_path, monkeypatch):
    root, _, bundle = made
    restore(bundle, plan_of(CONFIG), tmp_path)
    changed = tmp_path / "results/runs/wavepacket/jpo/n8/seed0.h5"
    changed.write_bytes(changed.read_bytes() + b"\0")
    with pytest.raises(BundleError, match="results/runs/wavepacket/jpo/n8/seed0.h5 exists here and differs"):
        restore(bundle, plan_of(CONFIG), tmp_path)
    restore(bundle, plan_of(CONFIG), tmp_path, force=True)
    assert changed.read_bytes() == (root / "results/runs/wavepacket/jpo/n8/seed0.h5").read_bytes()

    from invnet import fingerprint

    target = (fingerprint.ROOT / "solvers/networks.py").resolve()
    code = fingerprint._code
    monkeypatch.setattr(fingerprint, "_code", lambda p: code(p) + ("#edited" if p == target else ""))
    with pytest.raises(BundleError, match=r"results/runs/wavepacket/jpo/n8/seed0.h5 is stale for this checkout: "
                                          r"code changed \(fingerprint"):
        restore(bundle, plan_of(CONFIG), tmp_path / "elsewhere")


def test_command_line(made, tmp_path, capsys):
    root, plan, _ = made
    configfile = tmp_path / "tiny.yaml"
    configfile.write_text(yaml.safe_dump(CONFIG))
    assert main(["create", "--configfile", str(configfile), "--root", str(root), "--out", "b.tar.gz"]) == 0
    # 1 problem set, 3 runs (bfgs, jpo, jpo_bfgs) and BFGS on the seed's test set
    assert "wrote b.tar.gz: 5 files" in capsys.readouterr().out
    dest = tmp_path / "dest"
    assert main(["check", str(root / "b.tar.gz"), "--configfile", str(configfile), "--root", str(dest)]) == 0
    assert not (dest / "results").exists()  # check writes nothing
    assert main(["restore", str(root / "b.tar.gz"), "--configfile", str(configfile), "--root", str(dest)]) == 0
    assert "next: snakemake --cores all" in capsys.readouterr().out
    assert len(read_manifest(root / "b.tar.gz")["files"]) == 5
    other = tmp_path / "other.yaml"
    other.write_text(yaml.safe_dump(set_key(CONFIG, "experiments.wavepacket.seeds", [0, 1])))
    assert main(["restore", str(root / "b.tar.gz"), "--configfile", str(other), "--root", str(dest)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "made with another config" in err
    assert gzip.open(root / "b.tar.gz").read(10)  # an ordinary gzip file (tar -xzf works too)


def test_a_bundle_repacked_with_tar_restores(made, tmp_path):
    """Folders listed in the archive (as `tar -czf b.tar.gz manifest.json results` writes them)
    are no files: the bundle still restores; a path outside results/ is refused."""
    _, _, bundle = made
    repacked = tmp_path / "repacked.tar.gz"
    with tarfile.open(bundle) as src, tarfile.open(repacked, "w:gz") as dst:
        for member in src:
            if member.name != MANIFEST and not any(m.name == "results" for m in dst.getmembers()):
                folder = tarfile.TarInfo("results")
                folder.type = tarfile.DIRTYPE
                dst.addfile(folder)
            dst.addfile(member, src.extractfile(member))
    assert len(restore(repacked, plan_of(CONFIG), tmp_path / "dest")["files"]) == 5
    evil = tmp_path / "evil.tar.gz"
    with tarfile.open(bundle) as src, tarfile.open(evil, "w:gz") as dst:
        for member in src:
            dst.addfile(member, src.extractfile(member))
        extra = tarfile.TarInfo("../outside.txt")
        extra.size = 1
        dst.addfile(extra, io.BytesIO(b"x"))
    with pytest.raises(BundleError, match=r"\.\./outside\.txt: unsafe path"):
        restore(evil, plan_of(CONFIG), tmp_path / "dest2")
    assert not (tmp_path / "outside.txt").exists()
