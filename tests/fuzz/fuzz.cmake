# libFuzzer targets, built only in a clang build with -DW2S_FUZZ=ON (see
# tests/fuzz/run.sh, which makes that build and runs each target).
if(W2S_FUZZ)
  foreach(t fuzz_config fuzz_features fuzz_results)
    add_executable(${t} ${CMAKE_CURRENT_LIST_DIR}/${t}.c)
    target_link_libraries(${t} PRIVATE w2s)
    target_compile_options(${t} PRIVATE -fsanitize=fuzzer,address,undefined)
    target_link_options(${t} PRIVATE -fsanitize=fuzzer,address,undefined)
  endforeach()
endif()
# The INI fuzz target runs in CI (deterministic); the HDF5 readers' targets
# are for long manual runs (docs/RELIABILITY.md says why).
add_test(NAME fuzz.config COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/run.sh)
set_tests_properties(fuzz.config PROPERTIES TIMEOUT 900)
