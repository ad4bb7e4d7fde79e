"""The operations view: a CloudWatch dashboard and alarms for every function and dead-letter queue.

Functions and queues come from ``shared.deployment.topology`` and the application metrics from
``shared.platform.metrics``, so a function or queue added there is graphed and alarmed without an edit here.
This construct puts together the alarms and their topic (``infra/alarms.py``), the dashboard
(``infra/dashboard.py``) and the metrics both read (``infra/metric_queries.py``).
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Stack
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.alarms import add_alarms, alarm_topic
from infra.dashboard import dashboard
from shared.deployment import topology
from shared.deployment.naming import ResourceNames


class OperationsView(Construct):
    """Dashboard and alarms for the functions and dead-letter queues the topology defines."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        names: ResourceNames,
        functions: Mapping[str, lambda_.IFunction],
        dead_letter_queues: Mapping[str, sqs.IQueue],
    ) -> None:
        super().__init__(scope, construct_id)
        self.stack = Stack.of(self)
        self.names = names
        self.functions = {spec.key: functions[spec.key] for spec in topology.FUNCTIONS}
        self.dead_letter_queues = {key: dead_letter_queues[key] for key in topology.DEAD_LETTER_QUEUES}
        topic = alarm_topic(self)
        self.alarm_topic_arn = topic.arn
        # The stack's own topic, key and the condition they exist under (AlarmTopicArn left empty).
        self.own_topic, self.own_key = topic.own_topic, topic.own_key
        self.create_topic_condition = topic.create_condition
        self.alarm_action = actions.SnsAction(
            sns.Topic.from_topic_arn(self, "AlarmTopic", self.alarm_topic_arn)
        )
        self.alarms = add_alarms(
            self,
            names=names,
            action=self.alarm_action,
            functions=self.functions,
            dead_letter_queues=self.dead_letter_queues,
        )
        self.dashboard = dashboard(
            self,
            names=names,
            functions=self.functions,
            dead_letter_queues=self.dead_letter_queues,
            alarms=self.alarms,
        )
