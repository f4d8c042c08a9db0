"""SAM runners: prompts from the ground truth or automatic masks -> one 8-bit map per image.

``method_name`` needs no torch; ``predict``, ``predict_many`` and ``CachedSamPredictor`` import it
on first use, so listing method names stays fast.
"""

from samis.runners.config import method_name, normalize

__all__ = ["method_name", "normalize", "predict", "predict_many", "CachedSamPredictor"]


def __getattr__(name):
    if name in ("predict", "predict_many"):
        from samis.runners import engine as _predict

        return getattr(_predict, name)
    if name == "CachedSamPredictor":
        from samis.runners.embedding_cache import CachedSamPredictor

        return CachedSamPredictor
    raise AttributeError(name)
