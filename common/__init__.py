"""Shared layer of the reproduction monorepo: config, IO, seeding, claims, plots, reports."""
