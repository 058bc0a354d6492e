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
