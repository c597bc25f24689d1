"""core.declaration: what a remediator declares, and what the runtime derives from it."""

from __future__ import annotations

from core.declaration import (
    ENFORCE,
    HAS_KEY,
    CloudTrail,
    Declaration,
    Policy,
    allow,
    arn,
    check_baseline_key,
    deny,
)

LAMBDA = CloudTrail(
    "lambda.amazonaws.com", ("GetPolicy",), prefixes=("UpdateFunctionCode", "DeleteFunction")
)


def test_cloudtrail_names_match_exactly_and_prefixes_by_prefix() -> None:
    assert LAMBDA.source == "aws.lambda"
    assert LAMBDA.matches("lambda.amazonaws.com", "GetPolicy")
    assert LAMBDA.matches("lambda.amazonaws.com", "UpdateFunctionCode20150331v2")
    assert LAMBDA.matches("lambda.amazonaws.com", "DeleteFunction20150331")
    assert not LAMBDA.matches("lambda.amazonaws.com", "GetPolicy2")
    assert not LAMBDA.matches("lambda.amazonaws.com", "UpdateFunctionConfiguration20150331v2")
    assert not LAMBDA.matches("iam.amazonaws.com", "GetPolicy")
    assert not CloudTrail("s3.amazonaws.com", ("CreateBucket",)).matches("s3.amazonaws.com", "")


def test_read_and_write_actions_come_from_the_policies() -> None:
    declaration = Declaration(
        name="sample",
        title="Sample",
        description="A sample",
        permissions=(
            Policy("read", (allow("Read", ("sns:GetTopicAttributes",), arn("sns", "*")),)),
            Policy("keys", (check_baseline_key(),), when=HAS_KEY),
            Policy(
                "write",
                (
                    allow("Write", "sns:SetTopicAttributes", arn("sns", "*")),
                    deny("Never", "sns:DeleteTopic", arn("sns", "*")),
                ),
                when=ENFORCE,
            ),
        ),
    )
    assert declaration.read_actions == ("sns:GetTopicAttributes", "kms:DescribeKey")
    assert declaration.write_actions == ("sns:SetTopicAttributes",)  # a Deny grants nothing


def test_arns_are_of_this_stack_partition_region_and_account() -> None:
    assert arn("sns", "*") == {
        "Fn::Sub": "arn:${AWS::Partition}:sns:${AWS::Region}:${AWS::AccountId}:*"
    }
    assert arn("iam", "role/*", region=False) == {
        "Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/*"
    }
    assert arn("s3", "*", region=False, account=False) == {
        "Fn::Sub": "arn:${AWS::Partition}:s3:::*"
    }
    assert arn("iam", "policy/*", region=False, account="aws") == {
        "Fn::Sub": "arn:${AWS::Partition}:iam::aws:policy/*"
    }
