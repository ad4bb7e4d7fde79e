"""The catalog as the Lambdas get it: written into the code asset at synth, loaded at a cold start.

Synth validates every campaign file (:mod:`shared.campaigns.loader`) and writes two files into the
asset's ``campaigns/`` folder: ``campaigns.json``, the catalog serialized for people and tools to read,
and ``campaigns.pickle``, the same catalog compiled: the objects that validating that JSON gives,
pickled. A cold start loads the compiled form, so no campaign is validated a second time and the
campaign models' schemas, which defer their build (:class:`shared.campaigns.fields.Strict`), are
never built in a Lambda (docs/performance.md#cold-starts).

A file that is damaged, truncated, of another format or holding anything but a catalog is refused
with :class:`CatalogBundleError` naming the file: a header line carries a magic word, the format and
the payload's CRC-32. The pickle is part of the code asset, as trusted as the bytecode beside it; it
is never read from anywhere a request could write.
"""

from __future__ import annotations

import pickle
import zlib
from pathlib import Path

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
    payload = pickle.dumps((list(compiled), compiled.policy, compiled.custom), protocol=5)
    header = b"%s %d %08x\n" % (MAGIC, FORMAT, zlib.crc32(payload))
    (directory / COMPILED_CATALOG_FILE).write_bytes(header + payload)


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
