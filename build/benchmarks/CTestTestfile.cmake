# CMake generated Testfile for 
# Source directory: /work/main/benchmarks
# Build directory: /work/main/build/benchmarks
# 
# This file includes the relevant testing commands required for 
# testing this directory and lists subdirectories to be tested as well.
