# Empty dependencies file for gradcheck.
# This may be replaced when dependencies are built.
