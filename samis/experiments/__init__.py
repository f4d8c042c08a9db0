"""Experiment definitions and the orchestration that turns one into results, tables and figures."""

from samis.experiments.definition import Definition, load_definition


def reproduce(definition, only=None, shard=None, jobs=None, progress=True, echo=print):
    """See ``samis.experiments.reproduce.reproduce`` (imported on use: it pulls in the runners)."""
    from samis.experiments.reproduce import reproduce as _reproduce

    return _reproduce(definition, only=only, shard=shard, jobs=jobs, progress=progress, echo=echo)


__all__ = ["Definition", "load_definition", "reproduce"]
