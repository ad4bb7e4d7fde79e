"""The local runtime seen as a deployed stack: the outputs ``infra/stack.py`` gives, naming the runtime's
resources, and CloudFormation's DescribeStacks answered with them, so the operations commands
(``--stack``) find the runtime as they find a deployed stack."""

from __future__ import annotations

from typing import Any

from nudge.local.account import NAMES
from shared.deployment import topology


def stack_outputs(runtime: Any) -> dict[str, str]:
    """The outputs a deployed stack has (``infra/stack.py``), naming ``runtime``'s resources."""
    outputs = {topology.table_output(k): name for k, name in runtime.table_names.items()}
    outputs |= {topology.queue_output(k): url for k, url in runtime.queue_urls.items()}
    outputs[topology.PRIVACY_KEY_OUTPUT] = runtime.privacy_key_arn
    outputs[topology.CATALOG_KEY_OUTPUT] = runtime.catalog_key_arn
    outputs[topology.DEFERRAL_GROUP_OUTPUT] = NAMES.deferral_group
    outputs[topology.BUS_OUTPUT] = NAMES.bus
    return outputs


def answer_describe_stacks(runtime: Any, session: Any, stack_name: str = "Nudge") -> None:
    """Let ``session`` find ``runtime`` as a deployed stack named ``stack_name`` (``--stack``).

    moto's CloudFormation needs dependencies we do not install, so DescribeStacks alone is
    answered at the botocore edge with :func:`stack_outputs`; every other call stays a real one."""
    from botocore.awsrequest import AWSResponse

    listed = [{"OutputKey": k, "OutputValue": v} for k, v in stack_outputs(runtime).items()]

    def describe_stacks(params: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]]:
        asked = (params.get("body") or {}).get("StackName")
        if asked != stack_name:
            error = {
                "Code": "ValidationError",
                "Message": f"Stack with id {asked} does not exist",
            }
            return AWSResponse("https://cloudformation", 400, {}, None), {"Error": error}
        stack = {"StackName": stack_name, "StackStatus": "CREATE_COMPLETE", "Outputs": listed}
        return AWSResponse("https://cloudformation", 200, {}, None), {"Stacks": [stack]}

    session.events.register("before-call.cloudformation.DescribeStacks", describe_stacks)
