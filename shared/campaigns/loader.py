"""Loading a folder of campaign files (with its vocabulary and policy) into a checked :class:`Catalog`,
templates included; the bundle Lambda reads is the same catalog, serialized and compiled at synth
(:mod:`shared.campaigns.bundle`)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from pydantic import (
    ValidationError,
)

from shared.campaigns.audience.vocabulary import Vocabulary, default_vocabulary
from shared.campaigns.model import Campaign, VocabularyFile
from shared.campaigns.policy import DEFAULT_POLICY, DeliveryPolicy
from shared.campaigns.yaml_lines import (
    CampaignFileError,
    Path_,
    _problems,
    _read_yaml,
    _Source,
    validate_yaml_file,
)
from shared.core.vocabulary import Channel

CATALOG_FILE = "campaigns.json"
VOCABULARY_FILE = "_vocabulary.yaml"


class Catalog:
    """The set of campaigns a deployment runs, keyed by id, with the delivery policy and vocabulary."""

    def __init__(
        self,
        campaigns: list[Campaign],
        policy: DeliveryPolicy = DEFAULT_POLICY,
        custom: VocabularyFile | None = None,
        origins: dict[str, Path] | None = None,
    ) -> None:
        self._by_id = {c.id: c for c in campaigns}
        self.policy = policy
        self.custom = custom or VocabularyFile()
        self.origins = origins or {}  # campaign id -> the file it was read from (not bundled)

    @property
    def vocabulary(self) -> Vocabulary:
        return self.custom.vocabulary()

    def __iter__(self) -> Iterator[Campaign]:
        return iter(self._by_id.values())

    def __len__(self) -> int:
        return len(self._by_id)

    def get(self, campaign_id: str) -> Campaign | None:
        return self._by_id.get(campaign_id)

    def to_json(self) -> str:
        return json.dumps(
            {
                "policy": self.policy.model_dump(mode="json"),
                "vocabulary": self.custom.model_dump(mode="json"),
                "campaigns": [c.model_dump(mode="json") for c in self],
            },
            indent=1,
            sort_keys=True,
        )

    @classmethod
    def from_json(cls, text: str) -> Catalog:
        data = json.loads(text)
        custom = VocabularyFile.model_validate(data.get("vocabulary", {}))
        context = {"vocabulary": custom.vocabulary()}
        return cls(
            [Campaign.model_validate(c, context=context) for c in data["campaigns"]],
            DeliveryPolicy.model_validate(data["policy"]),
            custom,
        )


def load_campaign_file(path: Path, vocabulary: Vocabulary | None = None) -> Campaign:
    """Parse and validate one campaign file and its templates; raise :class:`CampaignFileError`.

    Template files (``html_file``, ``text_file``) are read and inlined, template syntax and the
    variables templates use are checked, and every problem names its file and line.
    """
    from shared.campaigns.template_check import check_campaign_templates

    vocabulary = vocabulary or default_vocabulary()
    source = _read_yaml(path)
    problems: list[str] = []
    origins = _inline_template_files(source, problems)
    problems += check_campaign_templates(
        source.data, vocabulary, lambda loc: origins.get(loc) or _inline(source, loc)
    )
    try:
        campaign = Campaign.model_validate(source.data, context={"vocabulary": vocabulary})
    except ValidationError as error:
        raise CampaignFileError(sorted(problems + _problems(source, error), key=_position)) from None
    if problems:
        raise CampaignFileError(sorted(problems, key=_position))
    return campaign


def _position(problem: str) -> tuple[str, int]:
    file, line, _ = problem.split(":", 2)
    return file, int(line) if line.isdigit() else 0


TEMPLATE_FILE_FIELDS = {"html_file": "html", "text_file": "text"}


def _inline_template_files(source: _Source, problems: list[str]) -> dict[Path_, tuple[Path, int]]:
    """Read each ``*_file`` template into its field; returns where each inlined template came from."""
    from shared.campaigns.template_check import content_locations

    origins: dict[Path_, tuple[Path, int]] = {}
    for base in content_locations(source.data):
        channels = source.data
        for part in base:
            channels = channels[part]
        email = channels.get(Channel.EMAIL)
        if isinstance(email, dict):
            _inline_email_files(source, email, base, origins, problems)
    return origins


def _inline_email_files(
    source: _Source,
    email: dict[str, object],
    base: Path_,
    origins: dict[Path_, tuple[Path, int]],
    problems: list[str],
) -> None:
    for file_field, field in TEMPLATE_FILE_FIELDS.items():
        name = email.get(file_field)
        loc: Path_ = (*base, Channel.EMAIL, file_field)
        if name is None:
            continue
        label = ".".join(str(part) for part in loc)
        where = f"{source.path}:{source.line(loc)}: {label}"
        if field in email:
            problems.append(f"{where}: give either '{field}' or '{file_field}', not both")
            continue
        if not isinstance(name, str) or not name.strip():
            continue  # the model reports the type
        base_dir = source.path.parent.resolve()
        template = (base_dir / name).resolve()
        if Path(name).is_absolute() or not template.is_relative_to(base_dir):
            problems.append(
                f"{where}: {name!r} must be a path inside {base_dir.name}/ (relative to this file)"
            )
            continue
        try:
            email[field] = template.read_text()
        except OSError as error:
            problems.append(f"{where}: cannot read {name!r}: {error.strerror or error}")
            continue
        origins[(*base, Channel.EMAIL, field)] = (template, 1)


def _inline(source: _Source, loc: Path_) -> tuple[Path, int]:
    """Where the first line of an inline template is: the next line for a block scalar (| or >)."""
    import yaml

    node = source.nodes.get(loc)
    if isinstance(node, yaml.ScalarNode):
        first = node.start_mark.line + 1
        return source.path, first + 1 if node.style in ("|", ">") else first
    return source.path, source.line(loc)


def load_vocabulary(directory: Path) -> VocabularyFile:
    """``directory/_vocabulary.yaml`` if present, else nothing beyond the built-in vocabulary."""
    path = directory / VOCABULARY_FILE
    return validate_yaml_file(path, VocabularyFile) if path.exists() else VocabularyFile()


def load_campaign_dir(directory: Path) -> Catalog:
    """Every ``*.yaml`` / ``*.yml`` file in ``directory`` (``_policy.yaml`` is the delivery policy,
    ``_vocabulary.yaml`` the shop's own events and traits, other files starting with ``_`` are
    ignored); all problems are reported together."""
    from shared.campaigns.policy import load_policy

    campaigns: list[Campaign] = []
    problems: list[str] = []
    seen: dict[str, Path] = {}
    policy = DEFAULT_POLICY
    custom = VocabularyFile()
    try:
        policy = load_policy(directory)
    except CampaignFileError as error:
        problems.extend(error.problems)
    try:
        custom = load_vocabulary(directory)
    except CampaignFileError as error:
        problems.extend(error.problems)
    vocabulary = custom.vocabulary()
    for path in sorted([*directory.glob("*.yaml"), *directory.glob("*.yml")]):
        if path.name.startswith("_"):
            continue
        try:
            campaign = load_campaign_file(path, vocabulary)
        except CampaignFileError as error:
            problems.extend(error.problems)
            continue
        if campaign.id in seen:
            problems.append(f"{path}:1: id: {campaign.id!r} is already used by {seen[campaign.id]}")
            continue
        seen[campaign.id] = path
        campaigns.append(campaign)
    if problems:
        raise CampaignFileError(problems)
    return Catalog(campaigns, policy, custom, origins=seen)
