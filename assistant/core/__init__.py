"""The kernel: the paper model, settings, errors, the field vocabulary and text cleaning."""
