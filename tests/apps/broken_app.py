"""An app whose import raises."""
ratio = 1 / 0
