# libFuzzer targets, built only in a clang build with -DW2S_FUZZ=ON (see
# tests/fuzz/run.sh, which makes that build and runs each target).
# fuzz_features / fuzz_results take structured recipes (fuzz_build.h) and run
# in CI; the _raw variants take the bytes as the HDF5 file itself (long
# manual runs: they mostly exercise HDF5's own parser).
if(W2S_FUZZ)
  set(W2S_FUZZ_TARGETS fuzz_config fuzz_features fuzz_results)
  foreach(t ${W2S_FUZZ_TARGETS} fuzz_features_raw fuzz_results_raw)
    string(REPLACE "_raw" "" src ${t})
    add_executable(${t} ${CMAKE_CURRENT_LIST_DIR}/${src}.c)
    if(NOT t STREQUAL src)
      target_compile_definitions(${t} PRIVATE W2S_FUZZ_RAW)
    endif()
    target_link_libraries(${t} PRIVATE w2s)
    target_compile_options(${t} PRIVATE -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all)
    target_link_options(${t} PRIVATE -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all)
  endforeach()
endif()
# CI: every structured target for a fixed time (tests/fuzz/run.sh).
add_test(NAME fuzz.readers COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/run.sh)
set_tests_properties(fuzz.readers PROPERTIES TIMEOUT 1200)
