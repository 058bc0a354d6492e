w2s_add_script_test(fit ${W2S_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/test_fit.py)
