
# Consider dependencies only in project.
set(CMAKE_DEPENDS_IN_PROJECT_ONLY OFF)

# The set of languages for which implicit dependencies are needed:
set(CMAKE_DEPENDS_LANGUAGES
  )

# The set of dependency files which are needed:
set(CMAKE_DEPENDS_DEPENDENCY_FILES
  "/work/main/framework/src/blas.cpp" "framework/CMakeFiles/tapegrad.dir/src/blas.cpp.o" "gcc" "framework/CMakeFiles/tapegrad.dir/src/blas.cpp.o.d"
  "/work/main/framework/src/io/atomic_file.cpp" "framework/CMakeFiles/tapegrad.dir/src/io/atomic_file.cpp.o" "gcc" "framework/CMakeFiles/tapegrad.dir/src/io/atomic_file.cpp.o.d"
  "/work/main/framework/src/io/idx.cpp" "framework/CMakeFiles/tapegrad.dir/src/io/idx.cpp.o" "gcc" "framework/CMakeFiles/tapegrad.dir/src/io/idx.cpp.o.d"
  "/work/main/framework/src/io/npy.cpp" "framework/CMakeFiles/tapegrad.dir/src/io/npy.cpp.o" "gcc" "framework/CMakeFiles/tapegrad.dir/src/io/npy.cpp.o.d"
  "/work/main/framework/src/io/plot.cpp" "framework/CMakeFiles/tapegrad.dir/src/io/plot.cpp.o" "gcc" "framework/CMakeFiles/tapegrad.dir/src/io/plot.cpp.o.d"
  "/work/main/framework/src/io/png.cpp" "framework/CMakeFiles/tapegrad.dir/src/io/png.cpp.o" "gcc" "framework/CMakeFiles/tapegrad.dir/src/io/png.cpp.o.d"
  )

# Targets to which this target links.
set(CMAKE_TARGET_LINKED_INFO_FILES
  )

# Fortran module output directory.
set(CMAKE_Fortran_TARGET_MODULE_DIR "")
