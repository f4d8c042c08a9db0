"""samis: zero-shot evaluation studies of the Segment Anything Model on industrial surface defects."""

__version__ = "0.1.0"
