"""Which IAM actions let a principal escalate its privileges, and whether a pattern reaches one.

Data, not logic: `iam_grants` asks `reaches_escalation` about partial wildcards ("iam:P*",
"sts:Assume*") so that they count at the default wildcard level too.
"""

from __future__ import annotations

import functools
import re
from typing import Final

#: Every action that a known privilege-escalation path needs, except reads (Describe*, Get*,
#: List*: they find a target, they do not grant anything) and wildcard patterns. Taken from
#: ../shared/corpus/policies/privesc (checked against it by test_iam_grants_corpus.py):
#: - pathfinding-cloud-paths/*.json, `permissions.required` of each path: DataDog/pathfinding.cloud
#:   data/paths/**/*.yaml @ 84dd65c97fc21dee54f4587be6dfd5b7b5fe320c, Apache-2.0;
#: - bishopfox-iam-vulnerable/*.json whose category is "privesc-paths", the actions of their
#:   Allow statements: BishopFox/iam-vulnerable modules/**/*.tf
#:   @ 0f298666f9b7cfa01488b86912afdb211773188a, MIT.
#: Sorted; spelled as pathfinding.cloud spells them where both name an action.
ESCALATION_ACTIONS: Final[tuple[str, ...]] = (
    "apprunner:CreateService",
    "apprunner:UpdateService",
    "bedrock-agentcore:CreateCodeInterpreter",
    "bedrock-agentcore:InvokeCodeInterpreter",
    "bedrock-agentcore:StartCodeInterpreterSession",
    "cloudformation:CreateChangeSet",
    "cloudformation:CreateStack",
    "cloudformation:CreateStackInstances",
    "cloudformation:CreateStackSet",
    "cloudformation:ExecuteChangeSet",
    "cloudformation:UpdateStack",
    "cloudformation:UpdateStackSet",
    "codebuild:CreateProject",
    "codebuild:StartBuild",
    "codebuild:StartBuildBatch",
    "datapipeline:ActivatePipeline",
    "datapipeline:CreatePipeline",
    "datapipeline:PutPipelineDefinition",
    "ec2-instance-connect:SendSSHPublicKey",
    "ec2-instance-connect:SendSerialConsoleSSHPublicKey",
    "ec2:AssociateIamInstanceProfile",
    "ec2:CreateKeyPair",
    "ec2:CreateLaunchTemplateVersion",
    "ec2:ModifyInstanceAttribute",
    "ec2:ModifyLaunchTemplate",
    "ec2:RequestSpotInstances",
    "ec2:RunInstances",
    "ec2:StartInstances",
    "ec2:StopInstances",
    "ecs:CreateCluster",
    "ecs:CreateService",
    "ecs:RegisterTaskDefinition",
    "ecs:RunTask",
    "ecs:StartTask",
    "glue:CreateDevEndpoint",
    "glue:CreateJob",
    "glue:CreateTrigger",
    "glue:StartJobRun",
    "glue:UpdateDevEndpoint",
    "glue:UpdateJob",
    "iam:AddUserToGroup",
    "iam:AttachGroupPolicy",
    "iam:AttachRolePolicy",
    "iam:AttachUserPolicy",
    "iam:CreateAccessKey",
    "iam:CreateLoginProfile",
    "iam:CreatePolicyVersion",
    "iam:DeleteAccessKey",
    "iam:PassRole",
    "iam:PutGroupPolicy",
    "iam:PutRolePolicy",
    "iam:PutUserPolicy",
    "iam:SetDefaultPolicyVersion",
    "iam:UpdateAssumeRolePolicy",
    "iam:UpdateLoginProfile",
    "lambda:AddPermission",
    "lambda:CreateEventSourceMapping",
    "lambda:CreateFunction",
    "lambda:InvokeFunction",
    "lambda:UpdateFunctionCode",
    "lambda:UpdateFunctionConfiguration",
    "sagemaker:CreateNotebookInstance",
    "sagemaker:CreateNotebookInstanceLifecycleConfig",
    "sagemaker:CreatePresignedNotebookInstanceUrl",
    "sagemaker:CreateProcessingJob",
    "sagemaker:CreateTrainingJob",
    "sagemaker:DeleteNotebookInstance",
    "sagemaker:StartNotebookInstance",
    "sagemaker:StopNotebookInstance",
    "sagemaker:UpdateNotebookInstance",
    "ssm:ResumeSession",
    "ssm:SendCommand",
    "ssm:StartSession",
    "ssm:TerminateSession",
    "sts:AssumeRole",
)


def reaches_escalation(pattern: str) -> bool:
    """Whether an action pattern matches any escalation action, as IAM matches actions: case-
    insensitively, "*" any run of characters (the colon included), "?" exactly one."""
    return _first_match(pattern.lower()) is not None


@functools.lru_cache(maxsize=4096)
def _first_match(pattern: str) -> str | None:
    """The first escalation action that a (lower-case) pattern matches, if any."""
    regex = re.compile(
        "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern),
        re.IGNORECASE | re.DOTALL,
    )
    return next((action for action in ESCALATION_ACTIONS if regex.fullmatch(action)), None)
