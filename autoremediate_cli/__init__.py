"""The `autoremediate` command: history, show and undo of the stack's outcomes (issue 9).

It runs on an operator's machine with their credentials, outside the Lambda artifact
(remediators/ is the CodeUri), and reuses the functions' own core: the ledger, undo and its
guard, so that the command can never do what the functions' checks forbid.
"""
