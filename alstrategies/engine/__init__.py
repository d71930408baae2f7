"""The run engine: what turns a validated config into a resumable run folder.

- :mod:`~alstrategies.engine.loop`: :class:`~alstrategies.engine.loop.Experiment`, the round logic
  (round 0, the chains, the 100 % model, resuming from records);
- :mod:`~alstrategies.engine.invocation` and :mod:`~alstrategies.engine.stopping`: one invocation
  on a run folder and how it ended; stopping on SIGINT and SIGTERM;
- :mod:`~alstrategies.engine.protocol`: the budget schedule, initial sets, derived seeds;
- :mod:`~alstrategies.engine.selection`: which strategies a run compares and which network each trains;
- :mod:`~alstrategies.engine.units` and :mod:`~alstrategies.engine.worker`: the work units executors
  schedule and the worker-process entry point;
- :mod:`~alstrategies.engine.layout`, :mod:`~alstrategies.engine.run_folder`,
  :mod:`~alstrategies.engine.data_fingerprint`: where a run folder's files lie, claiming it, and
  the data it was run on;
- :mod:`~alstrategies.engine.round_record` and :mod:`~alstrategies.engine.records`: the typed round
  record, and reading and writing records and ``results.csv``;
- :mod:`~alstrategies.engine.progress` and :mod:`~alstrategies.engine.run_log`: the progress bar and
  ``run.log``.

Nothing is imported here: importing the worker entry point stays cheap.
"""
