"""Baseline query strategies, registered through the ``alstrategies.strategies`` entry points."""
