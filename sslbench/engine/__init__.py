"""The training and evaluation engine (imports torch; loaded only when work starts)."""
