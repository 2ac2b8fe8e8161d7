"""Per-batch row selection (undersample, oversample) and synthesis (SMOTE)."""

from .select import RowSelector, expand
from .smote import SmoteClass, check_class_size, prepare_smote

__all__ = ["RowSelector", "SmoteClass", "check_class_size", "expand", "prepare_smote"]
