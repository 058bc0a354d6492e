w2s_add_mpi_program(test_pretrain_mpi)
w2s_add_mpi_test(pretrain NPROCS 1 2 3 COMMAND $<TARGET_FILE:test_pretrain_mpi>)
