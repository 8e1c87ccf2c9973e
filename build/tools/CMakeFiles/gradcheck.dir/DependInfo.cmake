
# Consider dependencies only in project.
set(CMAKE_DEPENDS_IN_PROJECT_ONLY OFF)

# The set of languages for which implicit dependencies are needed:
set(CMAKE_DEPENDS_LANGUAGES
  )

# The set of dependency files which are needed:
set(CMAKE_DEPENDS_DEPENDENCY_FILES
  "/work/main/tools/gradcheck/main.cpp" "tools/CMakeFiles/gradcheck.dir/gradcheck/main.cpp.o" "gcc" "tools/CMakeFiles/gradcheck.dir/gradcheck/main.cpp.o.d"
  "/work/main/tools/gradcheck/model_cases.cpp" "tools/CMakeFiles/gradcheck.dir/gradcheck/model_cases.cpp.o" "gcc" "tools/CMakeFiles/gradcheck.dir/gradcheck/model_cases.cpp.o.d"
  "/work/main/tools/gradcheck/op_cases.cpp" "tools/CMakeFiles/gradcheck.dir/gradcheck/op_cases.cpp.o" "gcc" "tools/CMakeFiles/gradcheck.dir/gradcheck/op_cases.cpp.o.d"
  )

# Targets to which this target links.
set(CMAKE_TARGET_LINKED_INFO_FILES
  "/work/main/build/framework/CMakeFiles/tapegrad.dir/DependInfo.cmake"
  )

# Fortran module output directory.
set(CMAKE_Fortran_TARGET_MODULE_DIR "")
