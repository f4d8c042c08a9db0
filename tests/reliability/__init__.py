"""Reliability suite: bad input, interrupted runs, repeatability (see docs/reliability.md)."""
