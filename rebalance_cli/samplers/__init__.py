"""Per-batch row selection (undersample, oversample) and synthesis (SMOTE)."""

from .select import RowSelector, expand
from .smote import SmoteClass, prepare_smote

__all__ = ["RowSelector", "SmoteClass", "expand", "prepare_smote"]
