# Unit tests (CMocka, local contexts, no mpirun).
w2s_add_unit(test_rng)
w2s_add_unit(test_mlp)
w2s_add_unit(test_lsq)
w2s_add_unit(test_lsq_table)
w2s_add_unit(test_lsq_factor)
w2s_add_unit(test_config)
w2s_add_unit(test_metrics)
w2s_add_unit(test_suggest)
# The option parser is the command-line program's, not the library's.
w2s_add_unit(test_opts)
target_sources(test_opts PRIVATE ${CMAKE_SOURCE_DIR}/src/cli/opts.c)
w2s_add_unit(test_results)
w2s_add_unit(test_timers)
# The softmax Newton solver (heads.h) against long-double KKT, IRLS and the
# true head; unit.softmax_ref solves the problems `test_softmax --dump`
# writes again with an independent numpy Newton (tests/ref/softmax_ref.py).
w2s_add_unit(test_softmax)
target_link_libraries(test_softmax PRIVATE PkgConfig::LAPACKE)
add_test(NAME unit.softmax_ref COMMAND ${W2S_PYTHON}
  ${CMAKE_SOURCE_DIR}/tests/ref/softmax_ref.py $<TARGET_FILE:test_softmax>)
set_tests_properties(unit.softmax_ref PROPERTIES ENVIRONMENT "${W2S_TEST_ENV}")
w2s_kernel_variants(unit.softmax_ref ${W2S_PYTHON}
  ${CMAKE_SOURCE_DIR}/tests/ref/softmax_ref.py $<TARGET_FILE:test_softmax>)
