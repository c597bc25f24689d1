"""Shared spine of every remediator: event model, runner, mode, clients, ledger, notifications."""
