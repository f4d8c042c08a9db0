"""Classical saliency methods computed here, so a study has a baseline even without stored maps."""

from samis.baselines.frequency_tuned import frequency_tuned, write_ft_maps

__all__ = ["frequency_tuned", "write_ft_maps"]
