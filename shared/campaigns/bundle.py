"""The catalog as the Lambdas get it: written into the code asset at synth, loaded at a cold start.

Synth validates every campaign file (:mod:`shared.campaigns.loader`) and writes two files into the
asset's ``campaigns/`` folder: ``campaigns.json``, the catalog serialized for people and tools to read,
and ``campaigns.pickle``, the same catalog compiled: the objects that validating that JSON gives,
pickled. A cold start loads the compiled form, so no campaign is validated a second time and the
campaign models' schemas, which defer their build (:class:`shared.campaigns.fields.Strict`), are
never built in a Lambda (docs/performance.md#cold-starts).

A file that is damaged, truncated, of another format or holding anything but a catalog is refused
with :class:`CatalogBundleError` naming the file: a header line carries a magic word, the format and
the payload's CRC-32. The same catalog always pickles to the same bytes (sets are written sorted, not
in the hash order of the process that wrote them), so an unchanged catalog leaves the code asset's hash,
and the functions' versions, unchanged at the next deploy. The pickle is part of the code asset, as
trusted as the bytecode beside it; it is never read from anywhere a request could write.
"""

from __future__ import annotations

import io
import pickle
import zlib
from pathlib import Path
from typing import Any

from shared.campaigns.loader import CATALOG_FILE, Catalog
from shared.campaigns.model import Campaign, VocabularyFile
from shared.campaigns.policy import DeliveryPolicy

COMPILED_CATALOG_FILE = "campaigns.pickle"
MAGIC = b"nudge-catalog"
FORMAT = 1


class CatalogBundleError(RuntimeError):
    """The bundled catalog cannot be used: the asset is damaged or was not built by this code."""


def write_bundle(catalog: Catalog, directory: Path) -> None:
    """``campaigns.json`` and its compiled form, ``campaigns.pickle``, into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    text = catalog.to_json()
    (directory / CATALOG_FILE).write_text(text)
    compiled = Catalog.from_json(text)  # exactly what validating the bundled JSON gives
    payload = _stable_pickle((list(compiled), compiled.policy, compiled.custom))
    header = b"%s %d %08x\n" % (MAGIC, FORMAT, zlib.crc32(payload))
    (directory / COMPILED_CATALOG_FILE).write_bytes(header + payload)


class _SortedSets(pickle._Pickler):
    """A pickler that writes a set's members sorted (by type, then text), as a call that rebuilds it:
    the bytes do not depend on the writing process's string hashing (PYTHONHASHSEED)."""

    def reducer_override(self, obj: Any) -> Any:
        if type(obj) in (set, frozenset):
            return type(obj), (sorted(obj, key=lambda member: (type(member).__name__, repr(member))),)
        return NotImplemented


def _stable_pickle(value: Any) -> bytes:
    out = io.BytesIO()
    _SortedSets(out, protocol=5).dump(value)
    return out.getvalue()


def load_bundle(directory: Path) -> Catalog:
    """The catalog compiled at synth, as :func:`write_bundle` wrote it; :class:`CatalogBundleError`
    when the file is missing, damaged or not a catalog."""
    path = directory / COMPILED_CATALOG_FILE
    try:
        data = path.read_bytes()
    except OSError as error:
        reason = error.strerror or error
        raise CatalogBundleError(f"{path}: cannot read the bundled catalog: {reason}") from None
    header, _, payload = data.partition(b"\n")
    fields = header.split(b" ")
    if len(fields) != 3 or fields[0] != MAGIC:
        raise CatalogBundleError(f"{path}: not a compiled campaign catalog")
    if fields[1] != b"%d" % FORMAT:
        raise CatalogBundleError(
            f"{path}: format {fields[1].decode(errors='replace')}, this code reads format {FORMAT}"
        )
    if fields[2] != b"%08x" % zlib.crc32(payload):
        raise CatalogBundleError(f"{path}: damaged (its checksum does not match)")
    try:
        campaigns, policy, custom = pickle.loads(payload)
    except Exception as error:  # whatever a bad pickle raises, the asset is unusable
        raise CatalogBundleError(f"{path}: cannot be read ({type(error).__name__}: {error})") from None
    if not (
        isinstance(campaigns, list)
        and all(isinstance(c, Campaign) for c in campaigns)
        and isinstance(policy, DeliveryPolicy)
        and isinstance(custom, VocabularyFile)
    ):
        raise CatalogBundleError(f"{path}: does not hold a campaign catalog")
    return Catalog(campaigns, policy, custom)
