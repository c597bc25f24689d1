"""The `autoremediate` command: history, show and undo of the stack's outcomes (issue 9).

It runs on an operator's machine with their credentials, outside the Lambda artifact
(remediators/ is the CodeUri), and reuses the functions' own core (the ledger, each remediator's
declaration and live-state reads). Undo and its guard live here, not in core: no function
imports them, so that they stay out of the artifact.
"""
