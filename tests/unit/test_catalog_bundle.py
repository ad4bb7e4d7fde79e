"""The catalog bundled into the code asset (shared/campaigns/bundle.py): a cold start loads the catalog
validated at synth without validating a campaign again, and refuses a damaged or foreign file by name."""

from __future__ import annotations

import pickle
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
from fakes import CAMPAIGNS

from shared.campaigns.bundle import COMPILED_CATALOG_FILE, CatalogBundleError, load_bundle, write_bundle
from shared.campaigns.loader import CATALOG_FILE, Catalog, load_campaign_dir

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_campaign_dir(CAMPAIGNS)


@pytest.fixture
def bundled(catalog: Catalog, tmp_path: Path) -> Path:
    write_bundle(catalog, tmp_path / "campaigns")
    return tmp_path / "campaigns"


def test_the_bundle_loads_what_validating_its_json_gives(catalog: Catalog, bundled: Path) -> None:
    validated = Catalog.from_json((bundled / CATALOG_FILE).read_text())
    loaded = load_bundle(bundled)
    assert [c.id for c in loaded] == [c.id for c in validated] == [c.id for c in catalog]
    assert list(loaded) == list(validated)
    assert [c.model_dump(mode="json") for c in loaded] == [c.model_dump(mode="json") for c in catalog]
    assert loaded.policy == validated.policy == catalog.policy
    assert loaded.custom == catalog.custom
    assert loaded.vocabulary == catalog.vocabulary
    audience = next(c for c in loaded if c.audience)
    assert audience.parsed_audience == next(c for c in catalog if c.id == audience.id).parsed_audience


def test_loading_the_bundle_builds_no_campaign_schema(bundled: Path) -> None:
    """In a fresh interpreter, as in a Lambda: the campaign models' schemas stay unbuilt."""
    code = (
        "import sys; from pathlib import Path; from shared.campaigns.bundle import load_bundle; "
        "from shared.campaigns.fields import Strict; "
        "catalog = load_bundle(Path(sys.argv[1])); "
        "kinds = set(); todo = [Strict]\n"
        "while todo: kind = todo.pop(); kinds.add(kind); todo += kind.__subclasses__()\n"
        "print(len(catalog), sorted(k.__name__ for k in kinds if k.__pydantic_complete__))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(bundled)], capture_output=True, text=True, check=True, cwd=ROOT
    ).stdout
    assert out.split(" ", 1)[1].strip() == "[]"
    assert int(out.split(" ", 1)[0]) == len(list(CAMPAIGNS.glob("[!_]*.yaml")))


def _header_and_payload(bundled: Path) -> tuple[bytes, bytes]:
    header, _, payload = (bundled / COMPILED_CATALOG_FILE).read_bytes().partition(b"\n")
    return header, payload


def test_a_damaged_bundle_is_refused_by_its_checksum(bundled: Path) -> None:
    header, payload = _header_and_payload(bundled)
    middle = len(payload) // 2
    damaged = payload[:middle] + bytes([payload[middle] ^ 0x01]) + payload[middle + 1 :]
    (bundled / COMPILED_CATALOG_FILE).write_bytes(header + b"\n" + damaged)
    with pytest.raises(CatalogBundleError, match=r"pickle: damaged \(its checksum does not match\)$"):
        load_bundle(bundled)


def test_a_truncated_bundle_is_refused(bundled: Path) -> None:
    header, payload = _header_and_payload(bundled)
    (bundled / COMPILED_CATALOG_FILE).write_bytes(header + b"\n" + payload[:-10])
    with pytest.raises(CatalogBundleError, match="damaged"):
        load_bundle(bundled)


def test_a_file_that_is_not_a_bundle_is_refused(bundled: Path) -> None:
    (bundled / COMPILED_CATALOG_FILE).write_text((bundled / CATALOG_FILE).read_text())
    with pytest.raises(CatalogBundleError, match=r"campaigns\.pickle: not a compiled campaign catalog$"):
        load_bundle(bundled)


def test_a_bundle_of_another_format_is_refused(bundled: Path) -> None:
    header, payload = _header_and_payload(bundled)
    other = header.replace(b"nudge-catalog 1 ", b"nudge-catalog 2 ")
    (bundled / COMPILED_CATALOG_FILE).write_bytes(other + b"\n" + payload)
    with pytest.raises(CatalogBundleError, match=r"format 2, this code reads format 1$"):
        load_bundle(bundled)


def _rewrite(bundled: Path, payload: bytes) -> None:
    (bundled / COMPILED_CATALOG_FILE).write_bytes(b"nudge-catalog 1 %08x\n" % zlib.crc32(payload) + payload)


def test_a_bundle_holding_something_else_is_refused(bundled: Path, catalog: Catalog) -> None:
    _rewrite(bundled, pickle.dumps((["not a campaign"], catalog.policy, catalog.custom)))
    with pytest.raises(CatalogBundleError, match=r"does not hold a campaign catalog$"):
        load_bundle(bundled)
    _rewrite(bundled, pickle.dumps((list(catalog), catalog.custom, catalog.policy)))
    with pytest.raises(CatalogBundleError, match=r"does not hold a campaign catalog$"):
        load_bundle(bundled)


def test_a_bundle_that_does_not_unpickle_is_refused(bundled: Path) -> None:
    _rewrite(bundled, b"\x80\x05not a pickle")
    with pytest.raises(CatalogBundleError, match=r"cannot be read \(UnpicklingError: "):
        load_bundle(bundled)
    _rewrite(bundled, pickle.dumps(42))
    with pytest.raises(CatalogBundleError, match=r"cannot be read \(TypeError: "):
        load_bundle(bundled)


def test_a_missing_bundle_is_named(tmp_path: Path) -> None:
    with pytest.raises(CatalogBundleError, match=r"campaigns\.pickle: cannot read the bundled catalog: "):
        load_bundle(tmp_path)


def test_the_same_catalog_bundles_to_the_same_bytes_whatever_the_processes_hashing(tmp_path: Path) -> None:
    """The code asset's hash (and so each function's version) changes only when the catalog does: two
    synths with different string hashing write the same compiled catalog."""
    script = (
        "import sys; from pathlib import Path; sys.path.insert(0, sys.argv[1]); "
        "from shared.campaigns.bundle import write_bundle; "
        "from shared.campaigns.loader import load_campaign_dir; "
        "write_bundle(load_campaign_dir(Path(sys.argv[2])), Path(sys.argv[3]))"
    )
    written = []
    for seed in ("1", "2"):
        out = tmp_path / seed
        subprocess.run(
            [sys.executable, "-c", script, str(ROOT), str(CAMPAIGNS), str(out)],
            check=True,
            env={"PYTHONHASHSEED": seed, "PATH": ""},
        )
        written.append((out / COMPILED_CATALOG_FILE).read_bytes())
    assert written[0] == written[1]
    assert list(load_bundle(tmp_path / "1")) == list(load_campaign_dir(CAMPAIGNS))
