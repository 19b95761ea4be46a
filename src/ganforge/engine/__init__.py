"""The engine: generic loop, phases, precision, EMA, checkpoints, runs.

It imports no concrete algorithm, objective or network: everything comes through the
registries.
"""
