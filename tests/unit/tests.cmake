# Unit tests (CMocka, local contexts, no mpirun).
w2s_add_unit(test_rng)
w2s_add_unit(test_mlp)
w2s_add_unit(test_lsq)
w2s_add_unit(test_config)
w2s_add_unit(test_metrics)
w2s_add_unit(test_results)
