w2s_add_script_test(paper ${W2S_PYTHON} ${CMAKE_CURRENT_LIST_DIR}/test_paper.py)
