"""Seeding helpers of the baselines: re-exported from :mod:`alstrategies.seeding`."""

from __future__ import annotations

from alstrategies.seeding import seeded_torch, torch_seed

__all__ = ["seeded_torch", "torch_seed"]
