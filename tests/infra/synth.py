"""One synth of the Nudge stack per test process, shared by ``tests/infra`` and the integration tests.

``synthesize`` is cached on its ``asset_dir`` argument and every caller takes that directory from
:func:`asset_dir_for`, so the infra tests and ``tests/integration/test_one_source_of_truth.py``
share a single (15 to 30 s) synth however they are run. The helpers read the template the way
CloudFormation would: logical ids of our constructs, references between resources, and the
pseudo-parameters of the test environment resolved to plain strings.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
CAMPAIGN_DIR = ROOT / "campaigns"
ACCOUNT = "123456789012"
REGION = "eu-west-1"
PARTITION = "aws"
SENDER_EMAIL = "no-reply@mail.acme-shop.com"
JWT_ISSUER = "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AcmeShop"
JWT_AUDIENCE = "acme-shop-app"
STACK_NAME = "Nudge"
# The synth's deploy time, fixed: what the template holds never depends on the day the tests run.
DEPLOYED_AT = datetime(2026, 11, 1, tzinfo=UTC)
FEED_KEY = "catalog/products.csv"
# What a deployer passes (-c key=value): tests never rely on a default for these.
CONTEXT = {
    "catalog_feed_key": FEED_KEY,
    "sender_email": SENDER_EMAIL,
    "jwt_issuer": JWT_ISSUER,
    "jwt_audience": JWT_AUDIENCE,
    "now": DEPLOYED_AT.isoformat(),
}
PSEUDO = {
    "AWS::Partition": PARTITION,
    "AWS::Region": REGION,
    "AWS::AccountId": ACCOUNT,
    "AWS::URLSuffix": "amazonaws.com",
}


def ref(logical_id: str) -> dict[str, str]:
    return {"Ref": logical_id}


def arn_of(logical_id: str) -> dict[str, list[str]]:
    return {"Fn::GetAtt": [logical_id, "Arn"]}


def as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else [value]


def render(value: Any) -> Any:
    """Resolve pseudo-parameters and joins of plain strings; references to resources stay as they are."""
    if isinstance(value, list):
        return [render(v) for v in value]
    if not isinstance(value, dict):
        return value
    if set(value) == {"Ref"} and value["Ref"] in PSEUDO:
        return PSEUDO[value["Ref"]]
    if set(value) == {"Fn::Join"}:
        separator, parts = value["Fn::Join"]
        rendered = [render(p) for p in parts]
        if all(isinstance(p, str) for p in rendered):
            return separator.join(rendered)
        return {"Fn::Join": [separator, rendered]}
    return {k: render(v) for k, v in value.items()}


@dataclass(frozen=True)
class Statement:
    """One IAM statement, with Action and Resource always lists and intrinsics rendered."""

    effect: str
    actions: tuple[str, ...]
    resources: tuple[Any, ...]
    raw: dict[str, Any]

    @classmethod
    def of(cls, raw: dict[str, Any]) -> Statement:
        return cls(
            raw["Effect"],
            tuple(as_list(raw.get("Action", []))),
            tuple(render(r) for r in as_list(raw.get("Resource", []))),
            raw,
        )

    def allows(self, action: str) -> bool:
        return self.effect == "Allow" and action in self.actions


@dataclass(frozen=True)
class SynthMessage:
    """An annotation left on a construct during the synth (cdk-nag's findings and suppressions among
    them): ``level`` is ``error``, ``warning`` or ``info``."""

    level: str
    path: str
    text: str


@dataclass(frozen=True)
class Synthesized:
    """The synthesized stack, its template (as an assertions ``Template`` and as JSON), its inputs, and
    the annotations of that synth (cdk-nag's AwsSolutions checks run during it)."""

    stack: Any  # infra.stack.NudgeStack
    template: Any  # aws_cdk.assertions.Template
    catalog: Any  # shared.campaigns.loader.Catalog
    asset_dir: Path
    messages: tuple[SynthMessage, ...] = ()
    now: datetime = DEPLOYED_AT  # the deploy time the stack was synthesized for
    assembly_dir: Path | None = None  # the cloud assembly (cdk.out) the synth wrote, assets included

    def code_asset(self, function_key: str) -> Path:
        """The staged code asset (``cdk.out/asset.<hash>``) the template deploys for a function."""
        assert self.assembly_dir is not None
        key = self.props(self.function_id(function_key))["Code"]["S3Key"].removesuffix(".zip")
        manifest = json.loads((self.assembly_dir / f"{self.stack.artifact_id}.assets.json").read_text())
        return self.assembly_dir / manifest["files"][key]["source"]["path"]

    @functools.cached_property
    def json(self) -> dict[str, Any]:
        rendered: dict[str, Any] = self.template.to_json()
        return rendered

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        resources: dict[str, dict[str, Any]] = self.json["Resources"]
        return resources

    def of_type(self, resource_type: str) -> dict[str, dict[str, Any]]:
        """Logical id → properties, for every resource of ``resource_type``."""
        return {
            lid: r.get("Properties", {}) for lid, r in self.resources.items() if r["Type"] == resource_type
        }

    def props(self, logical_id: str) -> dict[str, Any]:
        properties: dict[str, Any] = self.resources[logical_id].get("Properties", {})
        return properties

    def logical_id(self, construct: Any) -> str:
        """The logical id CDK gave a construct (an L2's default child, or an L1 resource itself)."""
        resource = getattr(construct.node, "default_child", None) or construct
        logical: str = self.stack.resolve(resource.logical_id)
        return logical

    # Logical ids of the resources built for topology keys, taken from the stack's own registries.
    def table_id(self, key: str) -> str:
        return self.logical_id(self.stack.tables[key])

    def queue_id(self, key: str) -> str:
        return self.logical_id(self.stack.queues[key])

    def function_id(self, key: str) -> str:
        return self.logical_id(self.stack.functions[key])

    def role_id(self, function_key: str) -> str:
        role = self.props(self.function_id(function_key))["Role"]
        logical: str = role["Fn::GetAtt"][0]
        return logical

    def policy_statements(self, role_logical_id: str) -> list[Statement]:
        """Every statement of every identity policy attached to a role (inline or AWS::IAM::Policy)."""
        statements: list[Statement] = []
        for policy in self.of_type("AWS::IAM::Policy").values():
            if ref(role_logical_id) in policy.get("Roles", []):
                statements.extend(Statement.of(s) for s in policy["PolicyDocument"]["Statement"])
        for inline in self.props(role_logical_id).get("Policies", []):
            statements.extend(Statement.of(s) for s in inline["PolicyDocument"]["Statement"])
        return statements

    def function_statements(self, function_key: str) -> list[Statement]:
        return self.policy_statements(self.role_id(function_key))

    def all_statements(self) -> Iterator[tuple[str, Statement]]:
        """(logical id, statement) for every policy document in the template."""
        for lid, props in self.resources.items():
            properties = props.get("Properties", {})
            documents = [properties.get("PolicyDocument"), properties.get("AssumeRolePolicyDocument")]
            documents += [p.get("PolicyDocument") for p in properties.get("Policies", [])]
            for document in documents:
                if isinstance(document, dict):
                    for raw in document.get("Statement", []):
                        yield lid, Statement.of(raw)

    def queue_policy_statements(self, queue_key: str) -> list[Statement]:
        queue_ref = ref(self.queue_id(queue_key))
        return [
            Statement.of(s)
            for policy in self.of_type("AWS::SQS::QueuePolicy").values()
            if queue_ref in policy["Queues"]
            for s in policy["PolicyDocument"]["Statement"]
        ]


def asset_dir_for(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The one asset directory of this session (so every caller hits the same cached synth)."""
    return tmp_path_factory.getbasetemp() / "nudge-lambda-asset"


@functools.lru_cache(maxsize=1)
def synthesize(asset_dir: Path) -> Synthesized:
    os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
    import aws_cdk as cdk
    from aws_cdk.assertions import Template

    from infra import nag
    from infra.cdk_app import build, new_app

    # The app as `cdk synth` builds it: cdk.json's context and feature flags, then the -c values.
    app = new_app(ROOT, {**CONTEXT, "stack_name": STACK_NAME, "nag": "false"})
    stack = build(app, root=ROOT, asset_dir=asset_dir, env=cdk.Environment(account=ACCOUNT, region=REGION))
    catalog = stack.catalog
    nag.check(app, report_suppressed=True)
    # One synth serves both the template and the checks' messages (Template.from_stack would synth again).
    assembly = app.synth()
    artifact = assembly.get_stack_artifact(stack.artifact_id)
    messages = tuple(SynthMessage(str(m.level.value), m.id, str(m.entry.data)) for m in artifact.messages)
    return Synthesized(
        stack=stack,
        template=Template.from_json(artifact.template),
        catalog=catalog,
        asset_dir=asset_dir,
        messages=messages,
        assembly_dir=Path(assembly.directory),
    )


def synthesized_for(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    return synthesize(asset_dir_for(tmp_path_factory))


def write_template(synthesized: Synthesized, directory: Path) -> Path:
    path = directory / f"{STACK_NAME}.template.json"
    path.write_text(json.dumps(synthesized.json, indent=1, sort_keys=True))
    return path


@dataclass(frozen=True)
class Deployment:
    """One stack of the multi-stack synth: its settings, region and template."""

    stack: Any  # infra.stack.NudgeStack
    region: str
    template: dict[str, Any]

    def of_type(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {
            lid: r.get("Properties", {})
            for lid, r in self.template["Resources"].items()
            if r["Type"] == resource_type
        }


# Stacks synthesized together (one app, one synth): a second stack beside the default one in the same
# account and region (with Segment's partner bus, and no catalog feed), the two other partitions, and
# one with SnapStart for the event path. eu-west-1 is the session's main synth.
SEGMENT_PARTNER_BUS = "aws.partner/segment.com/acme-shop/production"
DEPLOYMENTS: dict[str, tuple[str, dict[str, Any]]] = {
    "Nudge": ("us-east-1", {}),
    "Staging": ("us-east-1", {"segment_partner_bus": SEGMENT_PARTNER_BUS, "catalog_feed_key": None}),
    "NudgeChina": ("cn-north-1", {"ses_feedback": False}),
    "NudgeGov": ("us-gov-west-1", {}),
    # SnapStart for the event path too (-c event_path_snapstart=true): tests/infra/test_snapstart.py.
    "NudgeEventSnapStart": ("eu-central-1", {"event_path_snapstart": True}),
}


@functools.lru_cache(maxsize=1)
def synthesize_deployments(asset_dir: Path) -> dict[str, Deployment]:
    """Every stack of ``DEPLOYMENTS`` from one app (the catalog and context as in ``synthesize``)."""
    os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
    import aws_cdk as cdk

    from infra.cdk_app import new_app
    from infra.settings import DeploySettings
    from infra.stack import NudgeStack
    from shared.campaigns.loader import load_campaign_dir

    app = new_app(ROOT, {"nag": "false"})
    catalog = load_campaign_dir(CAMPAIGN_DIR)
    stacks = {}
    for name, (region, context) in DEPLOYMENTS.items():
        settings = DeploySettings.from_context({**CONTEXT, "stack_name": name, **context}.get)
        stacks[name] = NudgeStack(
            app,
            name,
            catalog=catalog,
            asset_dir=asset_dir,
            now=settings.deployed_at,
            settings=settings,
            env=cdk.Environment(account=ACCOUNT, region=region),
        )
    assembly = app.synth()
    return {
        name: Deployment(stack, DEPLOYMENTS[name][0], assembly.get_stack_artifact(stack.artifact_id).template)
        for name, stack in stacks.items()
    }
