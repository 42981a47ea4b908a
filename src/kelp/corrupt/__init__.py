"""kelp.corrupt: the forward process. Seeded, realistic mutations of correct programs
(operator flips, wrong variables, off-by-one, negated/dropped conditions, swapped arguments,
deleted statements, changed constants), misused calls and excess logic for training data, and
SubtreeBank swaps. Pure: randomness only via seeds."""

from kelp.corrupt.bank import SubtreeBank
from kelp.corrupt.errors import BankError, CorruptionError
from kelp.corrupt.forward import CALL_FAMILIES, EXCESS_FAMILIES, FAMILIES, POLICIES, Corruption, Mutation, corrupt, mutate

__all__ = [
    "CALL_FAMILIES", "EXCESS_FAMILIES", "FAMILIES", "POLICIES", "BankError", "Corruption", "CorruptionError", "Mutation",
    "SubtreeBank", "corrupt", "mutate",
]
