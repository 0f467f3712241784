"""Executors other than the embedded local worker (:mod:`pipelines.worker`).

An executor claims queued jobs from the store by lease and runs each job's
``RunKind.run``; run kinds do not know which executor runs them. Modules here import their
engine (Ray, …) inside functions, so importing the package costs nothing.
"""
