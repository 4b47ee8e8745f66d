"""Benchmark suites: a table of the thesis (or any grid) as a YAML file to plan, run on this
machine or a SLURM cluster, follow, and print next to the paper's numbers.

:mod:`~sslbench.suites.spec` reads suite files, :mod:`~sslbench.suites.plan` resolves their cells,
:mod:`~sslbench.suites.worker` runs a job's cells, :mod:`~sslbench.suites.launchers` dispatches
jobs, :mod:`~sslbench.suites.results` keeps each cell's rows until the store ingests them,
:mod:`~sslbench.suites.status` and :mod:`~sslbench.suites.table` report, :mod:`~sslbench.suites.cli`
is ``sslbench suite``.
"""
