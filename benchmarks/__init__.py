"""Benchmarks for jwt_middleware (issue 8): ``make bench`` runs them all (benchmarks/run.py).

Each module also runs alone: ``python -m benchmarks.micro``, ``benchmarks.e2e``,
``benchmarks.memory``, ``benchmarks.profile_hot_path``. Loopback only; never part
of ``make test``.
"""
