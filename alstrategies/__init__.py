"""alstrategies: benchmark active-learning query strategies for medical image segmentation.

The library holds the strategy interface and registry, SBC-AL, models, datasets, the shared
trainer, metrics, the active-learning loop and reporting. Baseline strategies live in the
``baselines`` package and register through entry points.
"""

__version__ = "0.1.0"
