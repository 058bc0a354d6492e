w2s_add_script_test(solvers ${W2S_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/test_solvers_e2e.py)
