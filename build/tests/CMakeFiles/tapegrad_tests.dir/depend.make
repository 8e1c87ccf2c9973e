# Empty dependencies file for tapegrad_tests.
# This may be replaced when dependencies are built.
