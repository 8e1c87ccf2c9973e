# Empty dependencies file for tapegrad.
# This may be replaced when dependencies are built.
