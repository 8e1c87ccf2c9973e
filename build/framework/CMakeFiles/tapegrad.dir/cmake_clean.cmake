file(REMOVE_RECURSE
  "CMakeFiles/tapegrad.dir/src/blas.cpp.o"
  "CMakeFiles/tapegrad.dir/src/blas.cpp.o.d"
  "CMakeFiles/tapegrad.dir/src/io/atomic_file.cpp.o"
  "CMakeFiles/tapegrad.dir/src/io/atomic_file.cpp.o.d"
  "CMakeFiles/tapegrad.dir/src/io/idx.cpp.o"
  "CMakeFiles/tapegrad.dir/src/io/idx.cpp.o.d"
  "CMakeFiles/tapegrad.dir/src/io/npy.cpp.o"
  "CMakeFiles/tapegrad.dir/src/io/npy.cpp.o.d"
  "CMakeFiles/tapegrad.dir/src/io/plot.cpp.o"
  "CMakeFiles/tapegrad.dir/src/io/plot.cpp.o.d"
  "CMakeFiles/tapegrad.dir/src/io/png.cpp.o"
  "CMakeFiles/tapegrad.dir/src/io/png.cpp.o.d"
  "libtapegrad.a"
  "libtapegrad.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang CXX)
  include(CMakeFiles/tapegrad.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
