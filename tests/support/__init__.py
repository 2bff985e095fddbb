"""Test support: the local fakes of Discord and 1min.ai, and the bot harness.

Importable without pytest, so the benchmarks (bench/) use the same pieces as the tests.
"""
