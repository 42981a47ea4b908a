"""Schema-aware structured generation: JSON Schema automaton, codec, sampling."""
