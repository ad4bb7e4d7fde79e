"""The local runtime's moto speed-ups must not change a single response.

The same script of SQS and DynamoDB calls runs in two fresh interpreters, one with
``nudge.local.moto_speedups`` applied, and the printed responses must be identical.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import json, os, sys
    os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1")
    import boto3, botocore.exceptions
    from moto import mock_aws
    if sys.argv[1] == "fast":
        from nudge.local import moto_speedups
        moto_speedups.apply()

    def clean(response):
        response.pop("ResponseMetadata", None)
        for message in response.get("Messages", []):
            for volatile in ("ReceiptHandle", "MessageId"):
                message.pop(volatile, None)
            message.get("Attributes", {}).pop("SentTimestamp", None)
            message.get("Attributes", {}).pop("ApproximateFirstReceiveTimestamp", None)
        for key in ("CreatedTimestamp", "LastModifiedTimestamp"):
            response.get("Attributes", {}).pop(key, None)
        return response

    def clean_ddb(response):
        response.pop("ResponseMetadata", None)
        return response

    out = []
    with mock_aws():
        ddb = boto3.client("dynamodb")
        ddb.create_table(
            TableName="t", BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                  {"AttributeName": "sk", "AttributeType": "S"}],
        )
        item = {"pk": {"S": "a"}, "n": {"N": "1.50"}, "b": {"B": b"\\x00\\x01zz"}, "bs": {"BS": [b"x", b"y"]},
                "ss": {"SS": ["p", "q"]}, "ns": {"NS": ["1", "2"]}, "e": {"S": ""},
                "m": {"M": {"x": {"L": [{"S": "\\u00e9"}, {"NULL": True}, {"BOOL": False}, {"M": {}}]}}}}
        for i in range(3):
            ddb.put_item(TableName="t", Item={**item, "sk": {"S": str(i)}})
        key = {"pk": {"S": "a"}, "sk": {"S": "1"}}
        out.append(clean_ddb(ddb.get_item(TableName="t", Key=key)))
        out.append(clean_ddb(ddb.get_item(TableName="t", Key={"pk": {"S": "none"}, "sk": {"S": "1"}})))
        out.append(clean_ddb(ddb.batch_get_item(RequestItems={"t": {"Keys": [{**key, "sk": {"S": str(i)}} for i in range(3)]}})))
        out.append(clean_ddb(ddb.scan(TableName="t", Limit=2)))
        out.append(clean_ddb(ddb.scan(TableName="t", Segment=1, TotalSegments=2)))
        for extra in range(12):
            ddb.put_item(TableName="t", Item={"pk": {"S": f"seg-{extra}"}, "sk": {"S": "0"}})
        for segment in range(3):
            out.append(clean_ddb(ddb.scan(TableName="t", Segment=segment, TotalSegments=3, ProjectionExpression="pk")))
        try:
            ddb.get_item(TableName="missing", Key=key)
        except ddb.exceptions.ResourceNotFoundException as error:
            out.append({"error": error.response["Error"]["Code"]})
        out.append(clean_ddb(ddb.query(TableName="t", KeyConditionExpression="pk = :p",
                             ExpressionAttributeValues={":p": {"S": "a"}}, ProjectionExpression="sk, m")))
        for other in ("b", "c"):
            ddb.put_item(TableName="t", Item={**item, "pk": {"S": other}, "sk": {"S": "9"}})
        out.append(clean_ddb(ddb.query(TableName="t", KeyConditionExpression="pk = :p AND sk > :s",
                             ExpressionAttributeValues={":p": {"S": "a"}, ":s": {"S": "0"}},
                             ScanIndexForward=False, Limit=1)))
        out.append(clean_ddb(ddb.query(TableName="t", KeyConditionExpression="pk = :p",
                             FilterExpression="n = :n", ExpressionAttributeValues={":p": {"S": "b"}, ":n": {"N": "1.5"}})))
        out.append(clean_ddb(ddb.query(TableName="t", KeyConditionExpression="pk = :p",
                             ExpressionAttributeValues={":p": {"S": "nobody"}})))
        out.append(clean_ddb(ddb.put_item(TableName="t", Item={**item, "sk": {"S": "1"}}, ReturnValues="ALL_OLD")))
        out.append(clean_ddb(ddb.update_item(TableName="t", Key=key, UpdateExpression="SET n = :n",
                                   ExpressionAttributeValues={":n": {"N": "2"}}, ReturnValues="ALL_NEW")))
        out.append(clean_ddb(ddb.delete_item(TableName="t", Key=key, ReturnValues="ALL_OLD")))
        try:
            ddb.put_item(TableName="t", Item={**item, "sk": {"S": "0"}}, ConditionExpression="attribute_not_exists(pk)")
        except ddb.exceptions.ConditionalCheckFailedException as error:
            out.append({"error": error.response["Error"]["Code"]})

        # Transactions: one that commits, one cancelled half-way (its first write taken back, a new
        # item removed again), one naming an item twice; then what the table holds.
        before = {"pk": {"S": "tx"}, "sk": {"S": "1"}, "v": {"N": "1"}}
        ddb.put_item(TableName="t", Item=before)
        out.append(clean_ddb(ddb.transact_write_items(TransactItems=[
            {"Update": {"TableName": "t", "Key": {"pk": {"S": "tx"}, "sk": {"S": "1"}},
                        "UpdateExpression": "SET v = v + :one", "ExpressionAttributeValues": {":one": {"N": "1"}}}},
            {"Put": {"TableName": "t", "Item": {"pk": {"S": "tx"}, "sk": {"S": "2"}}}}])))
        try:
            ddb.transact_write_items(TransactItems=[
                {"Update": {"TableName": "t", "Key": {"pk": {"S": "tx"}, "sk": {"S": "1"}},
                            "UpdateExpression": "SET v = v + :one", "ExpressionAttributeValues": {":one": {"N": "1"}}}},
                {"Put": {"TableName": "t", "Item": {"pk": {"S": "tx"}, "sk": {"S": "3"}}}},
                {"Delete": {"TableName": "t", "Key": {"pk": {"S": "tx"}, "sk": {"S": "2"}}}},
                {"ConditionCheck": {"TableName": "t", "Key": {"pk": {"S": "a"}, "sk": {"S": "0"}},
                                    "ConditionExpression": "n = :nine", "ExpressionAttributeValues": {":nine": {"N": "9"}}}}])
        except ddb.exceptions.TransactionCanceledException as error:
            out.append({"error": error.response["Error"]["Code"], "reasons": error.response["CancellationReasons"]})
        try:
            ddb.transact_write_items(TransactItems=[
                {"Put": {"TableName": "t", "Item": {"pk": {"S": "tx"}, "sk": {"S": "4"}}}},
                {"Delete": {"TableName": "t", "Key": {"pk": {"S": "tx"}, "sk": {"S": "4"}}}}])
        except botocore.exceptions.ClientError as error:
            out.append({"error": error.response["Error"]["Code"]})
        out.append(clean_ddb(ddb.query(TableName="t", KeyConditionExpression="pk = :p",
                             ExpressionAttributeValues={":p": {"S": "tx"}})))

        sqs = boto3.client("sqs")
        dlq = sqs.create_queue(QueueName="dlq")["QueueUrl"]
        url = sqs.create_queue(QueueName="q", Attributes={"VisibilityTimeout": "30", "MessageRetentionPeriod": "600",
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": "arn:aws:sqs:us-east-1:123456789012:dlq",
                                         "maxReceiveCount": 1})})["QueueUrl"]
        for start in (0, 10):
            sqs.send_message_batch(QueueUrl=url, Entries=[
                {"Id": str(i), "MessageBody": f"m{start + i}"} for i in range(10)])
        out.append(clean(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])))
        first = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"])
        out.append(clean(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])))
        sqs.change_message_visibility_batch(QueueUrl=url, Entries=[
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
            for i, m in enumerate(first["Messages"])])
        out.append(clean(first))
        out.append(clean(sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"])))
        out.append(clean(sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"])))
        out.append(clean(sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["ApproximateNumberOfMessages"])))
        scheduler = boto3.client("scheduler")
        try:
            scheduler.get_schedule(Name="nope")
        except scheduler.exceptions.ResourceNotFoundException as error:
            out.append({"error": error.response["Error"]["Code"]})
        sns = boto3.client("sns")
        out.append(sorted(sns.create_topic(Name="t")["TopicArn"].split(":")[3:]))
    print(repr(out))
    """
)


def run(mode: str) -> str:
    completed = subprocess.run(
        [sys.executable, "-c", SCRIPT, mode], capture_output=True, text=True, timeout=120
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    return completed.stdout


def test_responses_are_identical_with_and_without_the_speed_ups() -> None:
    plain, fast = run("plain"), run("fast")
    assert "ConditionalCheckFailedException" in plain
    assert "'reasons': [{'Code': 'None'" in plain and "'Code': 'ConditionalCheckFailed'" in plain
    # the cancelled transaction took back its update (v stays 2) and its new item (no sk 3)
    # (and put back the item it deleted), and the one naming an item twice wrote nothing
    tx = "{'Items': [{'pk': {'S': 'tx'}, 'sk': {'S': '1'}, 'v': {'N': '2'}}, {'pk': {'S': 'tx'}, 'sk': {'S': '2'}}], 'Count': 2"
    assert tx in plain
    assert "'ApproximateNumberOfMessages': '10'" in plain.rsplit("{'Attributes'", 1)[1]  # redriven to the DLQ
    assert fast == plain
