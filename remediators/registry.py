"""The remediators that template.yaml deploys, in template order: one line per remediator.

tools/template renders the template from it and `autoremediate_cli.undo` only undoes entries of the
remediators it lists; no Lambda handler imports it.
"""

from __future__ import annotations

REMEDIATORS = (
    "iam_policy_least_privilege",
    "s3_bucket_encryption",
    "s3_bucket_secure_transport",
    "sns_topic_encryption",
    "sqs_queue_encryption",
    "dynamodb_table_encryption",
    "ec2_ebs_default_encryption",
    "rds_storage_encryption",
    "waf_web_acl_attachment",
    "apigateway_stage_throttling",
    "apigateway_usage_plan_throttling",
    "apigateway_domain_tls",
    "cloudfront_distribution_protection",
    "stack_tamper_report",
    "exemption_tag_approval",
)
