file(REMOVE_RECURSE
  "CMakeFiles/tapegrad_tests.dir/main.cpp.o"
  "CMakeFiles/tapegrad_tests.dir/main.cpp.o.d"
  "tapegrad_tests"
  "tapegrad_tests.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang CXX)
  include(CMakeFiles/tapegrad_tests.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
