"""kelp: repair, refine, search and generate structured code with small models on a CPU."""

__version__ = "0.1.0"
