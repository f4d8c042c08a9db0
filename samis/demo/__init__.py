"""The embedded demo: synthetic steel-like defect images, made on the spot, so ``samis demo`` needs no download."""

from samis.demo.synthetic import CLASSES, generate

__all__ = ["CLASSES", "generate"]
