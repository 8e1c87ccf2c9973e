file(REMOVE_RECURSE
  "CMakeFiles/gradcheck.dir/gradcheck/main.cpp.o"
  "CMakeFiles/gradcheck.dir/gradcheck/main.cpp.o.d"
  "CMakeFiles/gradcheck.dir/gradcheck/model_cases.cpp.o"
  "CMakeFiles/gradcheck.dir/gradcheck/model_cases.cpp.o.d"
  "CMakeFiles/gradcheck.dir/gradcheck/op_cases.cpp.o"
  "CMakeFiles/gradcheck.dir/gradcheck/op_cases.cpp.o.d"
  "gradcheck"
  "gradcheck.pdb"
)

# Per-language clean rules from dependency scanning.
foreach(lang CXX)
  include(CMakeFiles/gradcheck.dir/cmake_clean_${lang}.cmake OPTIONAL)
endforeach()
