"""Per-batch row selection (undersample, oversample) and synthesis (SMOTE)."""

from .select import KeepSelector, RowSelector, expand, expanded_rows, index_series
from .smote import SmoteClass, SmoteSettings, check_class_size, prepare_smote

__all__ = [
    "KeepSelector",
    "RowSelector",
    "SmoteClass",
    "SmoteSettings",
    "check_class_size",
    "expand",
    "expanded_rows",
    "index_series",
    "prepare_smote",
]
