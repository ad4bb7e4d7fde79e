"""cdk-nag's AwsSolutions checks, and the one way Nudge accepts a finding: on the resource it is about,
with a reason written for that resource (never a stack-wide suppression).

Suppressions land in the resource's ``Metadata.cdk_nag`` in the template, where ``tests/infra/test_nag.py``
reads them back: each has a reason, and the IAM wildcard ones name exactly which wildcard they accept.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aws_cdk import App, Aspects, Stack, cx_api
from cdk_nag import AwsSolutionsChecks, NagPackSuppression, NagSuppressions
from constructs import IConstruct

RULE_PACK = "AwsSolutions"


def check(app: App, *, report_suppressed: bool = False) -> None:
    """Run the AwsSolutions rules on every stack of ``app`` when it synthesizes: findings become error
    and warning annotations; with ``report_suppressed``, each suppressed finding an info annotation."""
    Aspects.of(app).add(AwsSolutionsChecks(verbose=True, log_ignores=report_suppressed))


def findings(assembly: cx_api.CloudAssembly) -> list[str]:
    """The unsuppressed errors and warnings the checks left in a synthesized assembly, one line each."""
    return [
        f"{message.level.value} at {message.id}: {str(message.entry.data).splitlines()[0]}"
        for artifact in assembly.stacks
        for message in artifact.messages
        if str(message.entry.data).startswith((RULE_PACK, "CdkNag"))
        and message.level in (cx_api.SynthesisMessageLevel.ERROR, cx_api.SynthesisMessageLevel.WARNING)
    ]


def accept(
    construct: IConstruct,
    rule: str,
    reason: str,
    *,
    resources: Sequence[str] = (),
) -> None:
    """Suppress ``rule`` on ``construct`` (an L1 resource, or the L2 whose default child it is). For
    AwsSolutions-IAM5, ``resources`` are the wildcard ARNs accepted, as the stack built them; any other
    wildcard in the same policy is still reported."""
    stack = Stack.of(construct)
    applies_to = [f"Resource::{_flatten(stack.resolve(arn))}" for arn in resources] or None
    NagSuppressions.add_resource_suppressions(
        construct,
        [NagPackSuppression(id=f"{RULE_PACK}-{rule}", reason=reason, applies_to=applies_to)],
    )


def _flatten(value: Any) -> str:
    """A resolved CloudFormation value written the way cdk-nag names a finding (``<Ref>``, ``<Id.Attr>``)."""
    if isinstance(value, str):
        return value.replace("${", "<").replace("}", ">")
    if "Fn::Join" in value:
        delimiter, parts = value["Fn::Join"]
        return str(delimiter).join(_flatten(p) for p in parts)
    if "Fn::GetAtt" in value:
        logical_id, attribute = value["Fn::GetAtt"]
        return f"<{logical_id}.{attribute}>"
    if "Ref" in value:
        return f"<{value['Ref']}>"
    raise ValueError(f"cannot name a cdk-nag finding for {value!r}")
